/* RlHistoryJobPage: the detail view of one history job. */
#include "ui/history/rl-history-job-page.h"

#include <json-glib/json-glib.h>

#include "engine/run/event.h"

struct _RlHistoryJobPage
{
  GtkBox          parent_instance;
  RlHistoryItem  *item;
  GtkPicture     *picture;
  GtkLabel       *picture_note;
  GtkWidget      *delete_files;
  GPtrArray      *facts;       /* "Label: value" */
};

G_DEFINE_FINAL_TYPE (RlHistoryJobPage, rl_history_job_page, GTK_TYPE_BOX)

static void
add_fact (RlHistoryJobPage    *self,
          AdwPreferencesGroup *group,
          const char          *label,
          const char          *value)
{
  GtkWidget *row = adw_action_row_new ();

  if (value == NULL || *value == '\0')
    return;
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), label);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), value);
  gtk_widget_add_css_class (row, "property");
  adw_preferences_group_add (group, row);
  g_ptr_array_add (self->facts, g_strdup_printf ("%s: %s", label, value));
}

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) time = usec > 0 ? g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC) : NULL;

  return time != NULL ? g_date_time_format (time, "%Y-%m-%d %H:%M:%S") : NULL;
}

/* Pretty-printed @json, or @json as is when it does not parse. */
static char *
pretty_json (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonGenerator) generator = NULL;

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL))
    return g_strdup (json);
  generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, json_parser_get_root (parser));
  return json_generator_to_data (generator, NULL);
}

static void
on_open_output (GtkButton *button,
                gpointer   data)
{
  const char *path = g_object_get_data (G_OBJECT (button), "path");
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autofree char *uri = g_file_get_uri (file);
  g_autoptr(GError) error = NULL;

  if (!g_app_info_launch_default_for_uri (uri, NULL, &error))
    gtk_widget_set_tooltip_text (GTK_WIDGET (button), error->message);
}

static void
add_outputs (RlHistoryJobPage *self,
             GtkBox           *content)
{
  const RlHistoryJob *job = rl_history_item_get_job (self->item);
  AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());

  adw_preferences_group_set_title (group, "Outputs");
  if (job->outputs->len == 0)
    adw_preferences_group_set_description (group, "This job wrote no files.");
  for (guint i = 0; i < job->outputs->len; i++)
    {
      const RlHistoryOutput *output = g_ptr_array_index (job->outputs, i);
      GtkWidget *row = adw_action_row_new ();
      g_autofree char *base = g_path_get_basename (output->path);
      g_autoptr(GString) subtitle = g_string_new (output->kind);
      gboolean exists = g_file_test (output->path, G_FILE_TEST_IS_REGULAR);

      if (output->width > 0)
        g_string_append_printf (subtitle, " · %u×%u", output->width, output->height);
      if (output->frames > 1)
        g_string_append_printf (subtitle, " · %u frames", output->frames);
      g_string_append_printf (subtitle, " · %s%s", output->path, exists ? "" : " (missing)");
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), base);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle->str);
      if (exists)
        {
          GtkWidget *open = gtk_button_new_from_icon_name ("document-open-symbolic");
          g_autofree char *label = g_strdup_printf ("Open %s", base);

          gtk_widget_set_valign (open, GTK_ALIGN_CENTER);
          gtk_widget_add_css_class (open, "flat");
          gtk_widget_set_tooltip_text (open, label);
          gtk_accessible_update_property (GTK_ACCESSIBLE (open), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
          g_object_set_data_full (G_OBJECT (open), "path", g_strdup (output->path), g_free);
          g_signal_connect (open, "clicked", G_CALLBACK (on_open_output), NULL);
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), open);
        }
      adw_preferences_group_add (group, row);
    }
  gtk_box_append (content, GTK_WIDGET (group));
}

static void
add_json_block (GtkBox     *content,
                const char *title,
                const char *json)
{
  AdwPreferencesGroup *group;
  g_autofree char *text = pretty_json (json);
  GtkWidget *label;

  if (text == NULL)
    return;
  group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  adw_preferences_group_set_title (group, title);
  label = gtk_label_new (text);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "monospace");
  gtk_widget_add_css_class (label, "card");
  gtk_widget_set_margin_top (label, 6);
  adw_preferences_group_add (group, label);
  gtk_box_append (content, GTK_WIDGET (group));
}

static void
update_picture (RlHistoryJobPage *self)
{
  GdkTexture *thumbnail = rl_history_item_get_thumbnail (self->item);
  const char *problem = rl_history_item_get_thumbnail_problem (self->item);

  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (thumbnail));
  gtk_widget_set_visible (GTK_WIDGET (self->picture), thumbnail != NULL);
  gtk_label_set_text (self->picture_note, problem != NULL ? problem : "");
  gtk_widget_set_visible (GTK_WIDGET (self->picture_note), problem != NULL);
}

static void
build (RlHistoryJobPage *self)
{
  const RlHistoryJob *job = rl_history_item_get_job (self->item);
  const RlHistorySummary *summary = rl_history_item_get_summary (self->item);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *clamp = adw_clamp_new ();
  GtkBox *content = GTK_BOX (gtk_box_new (GTK_ORIENTATION_VERTICAL, 18));
  AdwPreferencesGroup *facts = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  AdwPreferencesGroup *removal = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  GtkWidget *title = gtk_label_new (rl_history_item_get_title (self->item));
  GtkWidget *delete_row = adw_action_row_new ();
  g_autofree char *created = format_time (job->created_at);
  g_autofree char *finished = format_time (job->finished_at);
  g_autofree char *duration = rl_history_format_duration (job->duration_s);
  g_autofree char *seed = summary->has_seed ? g_strdup_printf ("%" G_GINT64_FORMAT, summary->seed) : NULL;
  g_autofree char *steps = summary->steps > 0 ? g_strdup_printf ("%u", summary->steps) : NULL;
  g_autofree char *size = summary->width > 0 ? g_strdup_printf ("%u × %u", summary->width, summary->height) : NULL;

  gtk_widget_set_vexpand (scrolled, TRUE);
  adw_clamp_set_maximum_size (ADW_CLAMP (clamp), 860);
  gtk_widget_set_margin_top (GTK_WIDGET (content), 18);
  gtk_widget_set_margin_bottom (GTK_WIDGET (content), 18);
  gtk_widget_set_margin_start (GTK_WIDGET (content), 12);
  gtk_widget_set_margin_end (GTK_WIDGET (content), 12);
  gtk_widget_add_css_class (title, "title-1");
  gtk_label_set_wrap (GTK_LABEL (title), TRUE);
  gtk_box_append (content, title);

  self->picture = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_can_shrink (self->picture, TRUE);
  gtk_widget_set_size_request (GTK_WIDGET (self->picture), -1, 240);
  gtk_box_append (content, GTK_WIDGET (self->picture));
  self->picture_note = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->picture_note), "dim-label");
  gtk_box_append (content, GTK_WIDGET (self->picture_note));
  g_signal_connect_object (self->item, "notify::thumbnail", G_CALLBACK (update_picture), self, G_CONNECT_SWAPPED);
  update_picture (self);

  adw_preferences_group_set_title (facts, "Job");
  add_fact (self, facts, "Status", rl_job_status_to_string (job->status));
  add_fact (self, facts, "Created", created);
  add_fact (self, facts, "Finished", finished);
  add_fact (self, facts, "Duration", duration);
  add_fact (self, facts, "Model", summary->model);
  add_fact (self, facts, "Seed", seed);
  add_fact (self, facts, "Steps", steps);
  add_fact (self, facts, "Size", size);
  add_fact (self, facts, "Parallel", summary->parallel);
  add_fact (self, facts, "Error", job->error_text);
  gtk_box_append (content, GTK_WIDGET (facts));
  add_outputs (self, content);
  add_json_block (content, "Parameters", job->parameters_json);
  add_json_block (content, "Devices", job->device_config_json);

  adw_preferences_group_set_title (removal, "Deleting");
  self->delete_files = gtk_switch_new ();
  gtk_widget_set_valign (self->delete_files, GTK_ALIGN_CENTER);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (delete_row), "Delete Its Output Files Too");
  adw_action_row_set_subtitle (ADW_ACTION_ROW (delete_row),
                               "Delete removes the job from the history; with this on, its files as well "
                               "(once the Undo notice has gone)");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->delete_files), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  "Delete its output files too", -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (delete_row), self->delete_files);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (delete_row), self->delete_files);
  adw_preferences_group_add (removal, delete_row);
  gtk_box_append (content, GTK_WIDGET (removal));

  adw_clamp_set_child (ADW_CLAMP (clamp), GTK_WIDGET (content));
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), clamp);
  gtk_box_append (GTK_BOX (self), scrolled);
}

static void
rl_history_job_page_finalize (GObject *object)
{
  RlHistoryJobPage *self = RL_HISTORY_JOB_PAGE (object);

  g_clear_object (&self->item);
  g_clear_pointer (&self->facts, g_ptr_array_unref);
  G_OBJECT_CLASS (rl_history_job_page_parent_class)->finalize (object);
}

static void
rl_history_job_page_class_init (RlHistoryJobPageClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rl_history_job_page_finalize;
}

static void
rl_history_job_page_init (RlHistoryJobPage *self)
{
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
  self->facts = g_ptr_array_new_with_free_func (g_free);
}

RlHistoryJobPage *
rl_history_job_page_new (RlHistoryItem *item)
{
  RlHistoryJobPage *self;

  g_return_val_if_fail (RL_IS_HISTORY_ITEM (item), NULL);
  self = g_object_new (RL_TYPE_HISTORY_JOB_PAGE, NULL);
  self->item = g_object_ref (item);
  build (self);
  return self;
}

RlHistoryItem *
rl_history_job_page_get_item (RlHistoryJobPage *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_JOB_PAGE (self), NULL);
  return self->item;
}

gboolean
rl_history_job_page_get_delete_files (RlHistoryJobPage *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_JOB_PAGE (self), FALSE);
  return gtk_switch_get_active (GTK_SWITCH (self->delete_files));
}

GtkWidget *
rl_history_job_page_get_delete_files_switch (RlHistoryJobPage *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_JOB_PAGE (self), NULL);
  return self->delete_files;
}

GStrv
rl_history_job_page_get_facts (RlHistoryJobPage *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (RL_IS_HISTORY_JOB_PAGE (self), NULL);
  for (guint i = 0; i < self->facts->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->facts, i));
  return g_strv_builder_end (builder);
}
