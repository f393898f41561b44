/* Notifications and error toasts. */
#include "ui/rl-notify.h"

#include "ui/rl-window.h"
#include "ui/run/rl-progress-rate.h"

static char *last_notification;
static GtkWindow *details_dialog;   /* weak */

const char *
rl_notify_get_last_notification (void)
{
  return last_notification;
}

GtkWindow *
rl_notify_get_details_dialog (void)
{
  return details_dialog;
}

GtkWindow *
rl_notify_show_details (GtkWindow  *parent,
                        const char *heading,
                        const char *details)
{
  GtkWidget *dialog = adw_message_dialog_new (parent, heading, NULL);
  GtkWidget *scroller = gtk_scrolled_window_new ();
  GtkWidget *label = gtk_label_new (details);

  /* The message can be long (a validation report, a worker's log): it
   * scrolls, wraps and can be copied. */
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_yalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "monospace");
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), label);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scroller), TRUE);
  gtk_scrolled_window_set_min_content_height (GTK_SCROLLED_WINDOW (scroller), 140);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scroller), 320);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), scroller);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", "_Close");
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "close");
  gtk_window_set_default_size (GTK_WINDOW (dialog), 560, -1);
  if (details_dialog != NULL)
    g_object_remove_weak_pointer (G_OBJECT (details_dialog), (gpointer *) &details_dialog);
  details_dialog = GTK_WINDOW (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &details_dialog);
  gtk_window_present (GTK_WINDOW (dialog));
  return GTK_WINDOW (dialog);
}

typedef struct {
  GtkWindow *window;    /* weak */
  char      *summary;
  char      *details;
} ToastDetails;

static void
toast_details_free (gpointer data, GClosure *closure)
{
  ToastDetails *td = data;

  g_clear_weak_pointer (&td->window);
  g_free (td->summary);
  g_free (td->details);
  g_free (td);
}

static void
on_details_clicked (AdwToast     *toast,
                    ToastDetails *td)
{
  if (td->window != NULL)
    rl_notify_show_details (td->window, td->summary, td->details);
}

void
rl_notify_error (GtkWindow  *window,
                 const char *summary,
                 const char *details)
{
  AdwToast *toast;
  ToastDetails *td;

  g_return_if_fail (GTK_IS_WINDOW (window));
  /* A dialog or the viewer shows its toasts in the main window. */
  while (!RL_IS_WINDOW (window) && gtk_window_get_transient_for (window) != NULL)
    window = gtk_window_get_transient_for (window);
  if (!RL_IS_WINDOW (window))
    {
      rl_notify_show_details (window, summary, details);
      return;
    }
  toast = adw_toast_new (summary);
  adw_toast_set_timeout (toast, 10);
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  if (details != NULL && *details != '\0')
    {
      td = g_new0 (ToastDetails, 1);
      g_set_weak_pointer (&td->window, window);
      td->summary = g_strdup (summary);
      td->details = g_strdup (details);
      adw_toast_set_button_label (toast, "_Details");
      g_signal_connect_data (toast, "button-clicked", G_CALLBACK (on_details_clicked), td,
                             toast_details_free, 0);
    }
  rl_window_add_toast (RL_WINDOW (window), toast);
}

static double
notify_after_seconds (void)
{
  const char *env = g_getenv ("RAYLIGHT_NOTIFY_AFTER_SECONDS");

  return env != NULL && *env != '\0' ? g_ascii_strtod (env, NULL) : RL_NOTIFY_DEFAULT_SECONDS;
}

static gboolean
any_window_active (GtkApplication *app)
{
  for (GList *l = gtk_application_get_windows (app); l != NULL; l = l->next)
    if (gtk_window_is_active (l->data))
      return TRUE;
  return FALSE;
}

static void
send_notification (GtkApplication *app,
                   RlJobItem      *item)
{
  RlJobStatus status = rl_job_item_get_status (item);
  g_autofree char *took = rl_progress_rate_format_eta (rl_job_item_get_elapsed (item));
  g_autofree char *id = g_strdup_printf ("job-%" G_GINT64_FORMAT, rl_job_item_get_id (item));
  g_autofree char *title = g_strdup_printf (status == RL_JOB_SUCCEEDED ? "%s finished" : "%s failed",
                                            rl_job_item_get_title (item));
  g_autofree char *body = status == RL_JOB_SUCCEEDED ? g_strdup_printf ("Took %s", took)
                                                     : g_strdup (rl_job_item_get_error (item));
  g_autoptr(GNotification) notification = g_notification_new (title);

  g_notification_set_body (notification, body);
  g_notification_set_priority (notification, status == RL_JOB_SUCCEEDED ? G_NOTIFICATION_PRIORITY_NORMAL
                                                                        : G_NOTIFICATION_PRIORITY_HIGH);
  /* No default action: clicking it activates the app, which presents
   * its window. */
  g_application_send_notification (G_APPLICATION (app), id, notification);
  g_free (last_notification);
  last_notification = g_strdup_printf ("%s: %s", id, title);
}

static void
on_job_finished (RlRunService   *service,
                 RlJobItem      *item,
                 GtkApplication *app)
{
  RlJobStatus status = rl_job_item_get_status (item);
  GtkWindow *window = gtk_application_get_active_window (app);

  if (status == RL_JOB_FAILED && window != NULL)
    {
      g_autofree char *summary = g_strdup_printf ("%s failed", rl_job_item_get_title (item));

      rl_notify_error (window, summary, rl_job_item_get_error (item));
    }
  if ((status == RL_JOB_SUCCEEDED || status == RL_JOB_FAILED) &&
      rl_job_item_get_elapsed (item) >= notify_after_seconds () && !any_window_active (app))
    send_notification (app, item);
}

void
rl_notify_watch_jobs (GtkApplication *app,
                      RlRunService   *service)
{
  g_signal_connect_object (service, "job-finished", G_CALLBACK (on_job_finished), app, 0);
}
