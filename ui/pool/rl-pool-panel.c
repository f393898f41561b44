/* RlPoolPanel: the Pool settings page, built in code over GSettings. */
#include "ui/pool/rl-pool-panel.h"

#include <unistd.h>

#include "engine/pool/pool-topology.h"
#include "ui/pool/rl-parallel-choices.h"
#include "ui/pool/rl-pool-config.h"

#define WORKER_POLL_MS 1000

struct _RlPoolPanel
{
  AdwPreferencesPage    parent_instance;

  GSettings            *settings;
  RlPoolService        *service;          /* borrowed from the app, or NULL */
  RlPoolTopology       *topology;
  GCancellable         *cancellable;
  GHashTable           *widgets;          /* name → widget (borrowed) */

  AdwPreferencesGroup  *gpu_group;
  GPtrArray            *gpu_rows;         /* rows in gpu_group */
  AdwPreferencesGroup  *link_group;
  GtkWidget            *link_child;       /* matrix or its placeholder */
  GHashTable           *link_texts;       /* "from:to" → text */
  AdwPreferencesGroup  *worker_group;
  GPtrArray            *worker_rows;
  GtkStringList        *sp_model;
  GArray               *sp_choices;       /* RlSpChoice of sp_model */
  gboolean              updating;         /* rebuilding the choices */
  guint                 poll_id;
  gboolean              busy;             /* a start/stop/restart runs */
  char                 *status;           /* last action's outcome, or NULL */
};

G_DEFINE_FINAL_TYPE (RlPoolPanel, rl_pool_panel, ADW_TYPE_PREFERENCES_PAGE)

enum { SIGNAL_FREE_MEMORY, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char * const device_keys[] = { "auto", "cpu", "cuda" };
static const char * const device_labels[] = { "Automatic", "CPU", "GPUs" };
static const char * const attention_keys[] = { "", "reference", "naive", "flash", "cudnn", "sage", "sage16" };
static const char * const attention_labels[] = { "Automatic", "Reference", "Naive", "Flash", "cuDNN",
                                                 "Sage (approximate)", "Sage16 (approximate)" };
static const char * const attention_notes[] = {
  "The fastest exact kernel for each attention call: flash or cuDNN on GPUs (cuDNN for short "
  "text cross-attention), the reference kernel on CPUs.",
  "The plain, exact kernel the others are checked against; slowest.",
  "Materialises the full score matrix: simple and memory-hungry.",
  "Tiled online-softmax kernel: exact, fast, memory linear in sequence length.",
  "NVIDIA's cuDNN fused attention, where the library is installed.",
  "NVIDIA GPUs from the A100 and RTX 30 series on: 8-bit integer products, about 1.3 % off the "
  "exact result. On an H100 1.15–1.45× PyTorch's cuDNN speed on long video sequences, slower than "
  "exact kernels on short ones and on text cross-attention.",
  "NVIDIA GPUs from the A100 and RTX 30 series on: 8-bit Q·K and 16-bit P·V, about 0.8 % off the "
  "exact result; slower than Sage.",
};

static void
remember (RlPoolPanel *self,
          const char  *name,
          GtkWidget   *widget)
{
  g_hash_table_insert (self->widgets, g_strdup (name), widget);
}

/* The outcome of the last pool action, shown under the worker list's title. */
static void
set_status (RlPoolPanel *self,
            const char  *text)
{
  g_free (self->status);
  self->status = g_strdup (text);
  adw_preferences_group_set_description (self->worker_group, text);
}

/* ---- GPUs ------------------------------------------------------------- */

static char *
format_gib (guint64 bytes)
{
  return g_strdup_printf ("%.1f", (double) bytes / (1024.0 * 1024.0 * 1024.0));
}

static gboolean
gpu_in_pool (RlPoolPanel *self,
             int          index)
{
  g_autoptr(GVariant) value = g_settings_get_value (self->settings, "pool-gpus");
  gsize n = 0;
  const gint32 *gpus = g_variant_get_fixed_array (value, &n, sizeof (gint32));

  if (n == 0)
    return TRUE;
  for (gsize i = 0; i < n; i++)
    if (gpus[i] == index)
      return TRUE;
  return FALSE;
}

static void
on_gpu_toggled (GtkCheckButton *check,
                RlPoolPanel    *self)
{
  g_autoptr(GArray) chosen = g_array_new (FALSE, FALSE, sizeof (gint32));
  guint n = self->topology != NULL ? rl_pool_topology_get_n_devices (self->topology) : 0;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("gpu-%u", i);
      GtkWidget *box = g_hash_table_lookup (self->widgets, name);
      gint32 index = rl_pool_topology_get_device (self->topology, i)->cuda_index;

      if (box != NULL && gtk_check_button_get_active (GTK_CHECK_BUTTON (box)))
        g_array_append_val (chosen, ((gint32) { index >= 0 ? index : (gint32) i }));
    }
  /* All of them is stored as "all" (empty), so a new GPU joins too. */
  if (chosen->len == n)
    g_array_set_size (chosen, 0);
  if (chosen->len == 0 && n > 0 && !gtk_check_button_get_active (check))
    {
      /* The last GPU cannot leave: a pool needs one device. */
      gtk_check_button_set_active (check, TRUE);
      return;
    }
  g_settings_set_value (self->settings, "pool-gpus",
                        g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, chosen->data, chosen->len, sizeof (gint32)));
}

static char *
gpu_subtitle (const RlGpuInfo *gpu)
{
  g_autofree char *used = format_gib (gpu->memory_used);
  g_autofree char *total = format_gib (gpu->memory_total);
  g_autoptr(GString) text = g_string_new (NULL);

  g_string_append_printf (text, "%s / %s GiB used", used, total);
  if (gpu->utilization_gpu >= 0)
    g_string_append_printf (text, " · %d %% busy", gpu->utilization_gpu);
  if (gpu->temperature_c >= 0)
    g_string_append_printf (text, " · %d °C", gpu->temperature_c);
  if (gpu->nvlinks_active > 0)
    g_string_append_printf (text, " · %d NVLinks", gpu->nvlinks_active);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
clear_rows (AdwPreferencesGroup *group,
            GPtrArray           *rows)
{
  for (guint i = 0; i < rows->len; i++)
    adw_preferences_group_remove (group, g_ptr_array_index (rows, i));
  g_ptr_array_set_size (rows, 0);
}

static void
fill_gpu_rows (RlPoolPanel *self)
{
  guint n = self->topology != NULL ? rl_pool_topology_get_n_devices (self->topology) : 0;
  g_autofree char *description = NULL;

  clear_rows (self->gpu_group, self->gpu_rows);
  for (guint i = 0; i < 64; i++)
    {
      g_autofree char *name = g_strdup_printf ("gpu-%u", i);
      g_hash_table_remove (self->widgets, name);
    }
  if (self->topology == NULL)
    {
      adw_preferences_group_set_description (self->gpu_group, "Running the GPU self-test…");
      return;
    }
  if (*rl_pool_topology_get_notes (self->topology) != '\0' && n == 0)
    description = g_strdup_printf ("No NVIDIA GPU found: %s The pool runs CPU workers.",
                                   rl_pool_topology_get_notes (self->topology));
  else if (n == 0)
    description = g_strdup ("No NVIDIA GPU found. The pool runs CPU workers.");
  else
    description = g_strdup_printf ("%s%s%s", rl_pool_topology_get_source (self->topology),
                                   *rl_pool_topology_get_notes (self->topology) ? ". " : ".",
                                   rl_pool_topology_get_notes (self->topology));
  if (n > 0)
    {
      g_autofree char *devices = g_settings_get_string (self->settings, "pool-devices");

      if (g_str_equal (devices, "cpu"))
        {
          g_autofree char *with_note = g_strdup_printf ("%s Workers run on the CPU (Run Workers On): "
                                                        "these GPUs are not used.", description);
          g_free (description);
          description = g_steal_pointer (&with_note);
        }
    }
  adw_preferences_group_set_description (self->gpu_group, description);
  for (guint i = 0; i < n; i++)
    {
      const RlGpuInfo *gpu = rl_pool_topology_get_device (self->topology, i);
      g_autofree char *title = g_strdup_printf ("GPU %u · %s", i, gpu->name);
      g_autofree char *subtitle = gpu_subtitle (gpu);
      g_autofree char *name = g_strdup_printf ("gpu-%u", i);
      g_autofree char *label = g_strdup_printf ("Use GPU %u in the pool", i);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *check = gtk_check_button_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      gtk_check_button_set_active (GTK_CHECK_BUTTON (check),
                                   gpu_in_pool (self, gpu->cuda_index >= 0 ? gpu->cuda_index : (int) i));
      gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
      gtk_widget_set_tooltip_text (check, label);
      gtk_accessible_update_property (GTK_ACCESSIBLE (check), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
      g_signal_connect (check, "toggled", G_CALLBACK (on_gpu_toggled), self);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
      adw_preferences_group_add (self->gpu_group, row);
      g_ptr_array_add (self->gpu_rows, row);
      remember (self, name, check);
    }
}

/* ---- Link matrix -------------------------------------------------------- */

/* "NVLink ×18\n389 GB/s", "PCIe switch\n24 GB/s staged", "… P2P broken". */
static char *
link_cell_text (const RlGpuLink *link)
{
  g_autofree char *kind = rl_gpu_link_describe (link);

  if (!link->measured)
    return g_strdup_printf ("%s\nnot measured", kind);
  if (!link->staged && !link->data_ok)
    return g_strdup_printf ("%s\nP2P broken", kind);
  return g_strdup_printf ("%s\n%.0f GB/s%s", kind, link->bandwidth_gbs, link->staged ? " staged" : "");
}

static GtkWidget *
matrix_label (const char *text,
              const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_justify (GTK_LABEL (label), GTK_JUSTIFY_CENTER);
  gtk_widget_set_margin_start (label, 6);
  gtk_widget_set_margin_end (label, 6);
  gtk_widget_set_margin_top (label, 4);
  gtk_widget_set_margin_bottom (label, 4);
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);
  return label;
}

static void
fill_link_matrix (RlPoolPanel *self)
{
  guint n = self->topology != NULL ? rl_pool_topology_get_n_devices (self->topology) : 0;
  GtkWidget *grid;

  if (self->link_child != NULL)
    adw_preferences_group_remove (self->link_group, self->link_child);
  g_hash_table_remove_all (self->link_texts);
  g_hash_table_remove (self->widgets, "link-matrix");
  if (n < 2)
    {
      self->link_child = matrix_label (n == 1 ? "One GPU: no links to measure."
                                              : "Links and bandwidth appear with two or more GPUs.", "dim-label");
      adw_preferences_group_add (self->link_group, self->link_child);
      return;
    }
  grid = gtk_grid_new ();
  gtk_widget_set_halign (grid, GTK_ALIGN_CENTER);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_widget_add_css_class (grid, "card");
  gtk_accessible_update_property (GTK_ACCESSIBLE (grid), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  "Links and measured bandwidth between GPUs, from row to column", -1);
  gtk_grid_attach (GTK_GRID (grid), matrix_label ("from \\ to", "dim-label"), 0, 0, 1, 1);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *head = g_strdup_printf ("GPU %u", i);
      gtk_grid_attach (GTK_GRID (grid), matrix_label (head, "heading"), (int) i + 1, 0, 1, 1);
      gtk_grid_attach (GTK_GRID (grid), matrix_label (head, "heading"), 0, (int) i + 1, 1, 1);
    }
  for (guint from = 0; from < n; from++)
    for (guint to = 0; to < n; to++)
      {
        const RlGpuLink *link = rl_pool_topology_get_link (self->topology, from, to);
        g_autofree char *text = from == to ? g_strdup ("—")
                                : link != NULL ? link_cell_text (link) : g_strdup ("unknown");
        GtkWidget *cell = matrix_label (text, from == to ? "dim-label" : NULL);

        if (link != NULL && link->measured && !link->staged && !link->data_ok)
          gtk_widget_add_css_class (cell, "error");
        else if (link != NULL && link->staged)
          gtk_widget_add_css_class (cell, "warning");
        if (link != NULL && link->note != NULL && *link->note != '\0')
          gtk_widget_set_tooltip_text (cell, link->note);
        gtk_grid_attach (GTK_GRID (grid), cell, (int) to + 1, (int) from + 1, 1, 1);
        g_hash_table_insert (self->link_texts, g_strdup_printf ("%u:%u", from, to), g_steal_pointer (&text));
      }
  self->link_child = grid;
  adw_preferences_group_add (self->link_group, grid);
  remember (self, "link-matrix", grid);
}

/* ---- Parallel mode ------------------------------------------------------ */

guint
rl_pool_panel_get_n_workers (RlPoolPanel *self)
{
  g_autoptr(RlPoolConfig) config = NULL;

  g_return_val_if_fail (RL_IS_POOL_PANEL (self), 1);
  config = rl_pool_config_load (self->settings);
  return rl_pool_config_n_workers (config, self->topology != NULL ? rl_pool_topology_get_n_devices (self->topology) : 0);
}

static void
update_explanation (RlPoolPanel *self)
{
  guint n = rl_pool_panel_get_n_workers (self);
  guint ulysses = (guint) g_settings_get_int (self->settings, "pool-ulysses");
  guint ring = (guint) g_settings_get_int (self->settings, "pool-ring");
  gboolean cfg = g_settings_get_boolean (self->settings, "pool-cfg-parallel");
  gboolean fsdp = g_settings_get_boolean (self->settings, "pool-fsdp");
  gboolean offload = g_settings_get_boolean (self->settings, "pool-cpu-offload");
  g_autofree char *mode = rl_parallel_choice_explain (ulysses, ring, cfg, n);
  g_autoptr(GString) text = g_string_new (NULL);
  guint attention = 0;

  g_string_append_printf (text, "%u worker%s. %s", n, n == 1 ? "" : "s", mode);
  if (fsdp)
    g_string_append_printf (text, " FSDP: each worker keeps 1/%u of the weights and gathers a block just "
                                  "before it runs; fits models one device cannot hold, for a little time.", n);
  if (offload)
    g_string_append (text, " CPU offload: the shards wait in pinned host memory and are prefetched.");
  for (guint i = 0; i < G_N_ELEMENTS (attention_keys); i++)
    {
      g_autofree char *current = g_settings_get_string (self->settings, "pool-attention");
      if (g_str_equal (current, attention_keys[i]))
        attention = i;
    }
  g_string_append_printf (text, " Attention: %s", attention_notes[attention]);
  gtk_label_set_text (GTK_LABEL (g_hash_table_lookup (self->widgets, "explanation")), text->str);
}

/* Whether @model holds exactly @labels (NULL-terminated). */
static gboolean
same_labels (GtkStringList *model,
             GPtrArray     *labels)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (model));

  if (n + 1 != labels->len)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (gtk_string_list_get_string (model, i), g_ptr_array_index (labels, i)) != 0)
      return FALSE;
  return TRUE;
}

/* Offers the sequence-parallel choices valid for the current worker
 * count and CFG setting; a stored choice that no longer fits falls back
 * to the first valid one. Also turns the switches that cannot apply off. */
static void
update_parallel_choices (RlPoolPanel *self)
{
  guint n = rl_pool_panel_get_n_workers (self);
  gboolean cfg = g_settings_get_boolean (self->settings, "pool-cfg-parallel");
  guint ulysses = (guint) g_settings_get_int (self->settings, "pool-ulysses");
  guint ring = (guint) g_settings_get_int (self->settings, "pool-ring");
  GtkWidget *combo = g_hash_table_lookup (self->widgets, "sequence-parallel");
  gboolean fsdp_possible;
  guint selected = 0;
  g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);

  if (self->updating)
    return;
  self->updating = TRUE;
  if (cfg && !rl_parallel_cfg_possible (n))
    {
      g_settings_set_boolean (self->settings, "pool-cfg-parallel", FALSE);
      cfg = FALSE;
    }
  gtk_widget_set_sensitive (g_hash_table_lookup (self->widgets, "cfg-parallel"), rl_parallel_cfg_possible (n));

  g_clear_pointer (&self->sp_choices, g_array_unref);
  self->sp_choices = rl_parallel_sp_choices (n, cfg);
  for (guint i = 0; i < self->sp_choices->len; i++)
    {
      RlSpChoice *choice = &g_array_index (self->sp_choices, RlSpChoice, i);

      g_ptr_array_add (labels, rl_parallel_choice_label (choice->ulysses, choice->ring));
      if (choice->ulysses == ulysses && choice->ring == ring)
        selected = i;
    }
  g_ptr_array_add (labels, NULL);
  /* Only a changed list is replaced: replacing it re-selects in the combo
   * row, which would call back here without end. */
  if (!same_labels (self->sp_model, labels))
    gtk_string_list_splice (self->sp_model, 0, g_list_model_get_n_items (G_LIST_MODEL (self->sp_model)),
                            (const char * const *) labels->pdata);
  if (self->sp_choices->len > 0)
    {
      RlSpChoice *choice = &g_array_index (self->sp_choices, RlSpChoice, selected);

      if (adw_combo_row_get_selected (ADW_COMBO_ROW (combo)) != selected)
        adw_combo_row_set_selected (ADW_COMBO_ROW (combo), selected);
      if (choice->ulysses != ulysses)
        g_settings_set_int (self->settings, "pool-ulysses", (int) choice->ulysses);
      if (choice->ring != ring)
        g_settings_set_int (self->settings, "pool-ring", (int) choice->ring);
      ulysses = choice->ulysses;
      ring = choice->ring;
    }
  /* FSDP shards over the ranks that run each forward together, which
   * exist only in a parallel shape (the workers' collectives). */
  fsdp_possible = n >= 2 && (cfg || ulysses * ring > 1);
  if (!fsdp_possible && g_settings_get_boolean (self->settings, "pool-fsdp"))
    g_settings_set_boolean (self->settings, "pool-fsdp", FALSE);
  gtk_widget_set_sensitive (g_hash_table_lookup (self->widgets, "fsdp"), fsdp_possible);
  if (!g_settings_get_boolean (self->settings, "pool-fsdp") && g_settings_get_boolean (self->settings, "pool-cpu-offload"))
    g_settings_set_boolean (self->settings, "pool-cpu-offload", FALSE);
  gtk_widget_set_sensitive (g_hash_table_lookup (self->widgets, "cpu-offload"),
                            g_settings_get_boolean (self->settings, "pool-fsdp"));
  self->updating = FALSE;
  update_explanation (self);
}

static void
on_sp_selected (AdwComboRow *combo,
                GParamSpec  *pspec,
                RlPoolPanel *self)
{
  guint selected = adw_combo_row_get_selected (combo);
  RlSpChoice choice;

  if (self->updating || self->sp_choices == NULL || selected >= self->sp_choices->len)
    return;
  choice = g_array_index (self->sp_choices, RlSpChoice, selected);
  /* Both keys change as one: between the two writes the pair may be
   * invalid, and rebuilding the choices then would undo the pick. */
  self->updating = TRUE;
  g_settings_set_int (self->settings, "pool-ulysses", (int) choice.ulysses);
  g_settings_set_int (self->settings, "pool-ring", (int) choice.ring);
  self->updating = FALSE;
  /* The switches that depend on the shape (FSDP) follow it. */
  update_parallel_choices (self);
}

static void
on_settings_changed (GSettings   *settings,
                     const char  *key,
                     RlPoolPanel *self)
{
  if (g_str_equal (key, "pool-gpus"))
    {
      /* Keep the check buttons in step with a change made elsewhere. */
      guint n = self->topology != NULL ? rl_pool_topology_get_n_devices (self->topology) : 0;
      for (guint i = 0; i < n; i++)
        {
          g_autofree char *name = g_strdup_printf ("gpu-%u", i);
          GtkWidget *check = g_hash_table_lookup (self->widgets, name);
          int index = rl_pool_topology_get_device (self->topology, i)->cuda_index;

          if (check != NULL)
            {
              g_signal_handlers_block_by_func (check, on_gpu_toggled, self);
              gtk_check_button_set_active (GTK_CHECK_BUTTON (check), gpu_in_pool (self, index >= 0 ? index : (int) i));
              g_signal_handlers_unblock_by_func (check, on_gpu_toggled, self);
            }
        }
    }
  if (g_str_equal (key, "pool-devices"))
    fill_gpu_rows (self);
  if (g_str_has_prefix (key, "pool-"))
    update_parallel_choices (self);
}

/* ---- Workers ------------------------------------------------------------ */

/* Resident set of @pid in MiB from /proc, or -1. */
static gint64
host_memory_mib (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *status = NULL;
  const char *line;

  if (pid <= 0 || !g_file_get_contents (path, &status, NULL, NULL))
    return -1;
  line = strstr (status, "VmRSS:");
  return line != NULL ? g_ascii_strtoll (line + 6, NULL, 10) / 1024 : -1;
}

static const char *
state_label (RlWorkerState state)
{
  switch (state)
    {
    case RL_WORKER_STARTING: return "starting";
    case RL_WORKER_READY:    return "ready";
    case RL_WORKER_BUSY:     return "busy";
    case RL_WORKER_CRASHED:  return "crashed, restarting";
    case RL_WORKER_FAILED:   return "failed";
    case RL_WORKER_STOPPED:
    default:                 return "stopped";
    }
}

static void
fill_worker_rows (RlPoolPanel *self)
{
  g_autoptr(GArray) workers = NULL;

  if (self->service != NULL)
    {
      workers = rl_pool_service_list_workers (self->service);
      /* Starting or stopping: the rows stay as they were until it is done. */
      if (workers == NULL)
        return;
    }
  clear_rows (self->worker_group, self->worker_rows);
  if (workers == NULL || workers->len == 0)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), "No workers running");
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), self->service != NULL
                                   ? "The pool starts with the next job, or with Start."
                                   : "The pool starts with the first job.");
      adw_preferences_group_add (self->worker_group, row);
      g_ptr_array_add (self->worker_rows, row);
      return;
    }
  for (guint i = 0; i < workers->len; i++)
    {
      const RlWorkerInfo *info = &g_array_index (workers, RlWorkerInfo, i);
      g_autofree char *title = g_strdup_printf ("Rank %d · %s", info->rank, state_label (info->state));
      g_autoptr(GString) subtitle = g_string_new (NULL);
      gint64 host = host_memory_mib (info->pid);
      GtkWidget *row = adw_action_row_new ();

      if (info->pid > 0)
        g_string_append_printf (subtitle, "pid %d", info->pid);
      if (host >= 0)
        g_string_append_printf (subtitle, " · host %" G_GINT64_FORMAT " MiB", host);
      if (info->device_name[0] != '\0')
        {
          g_autofree char *used = format_gib (info->total_memory - MIN (info->free_memory, info->total_memory));
          g_autofree char *total = format_gib (info->total_memory);
          g_string_append_printf (subtitle, " · %s %s: %s / %s GiB in use", info->backend, info->device_name,
                                  used, total);
        }
      if (info->restarts > 0)
        g_string_append_printf (subtitle, " · restarted %d×", info->restarts);
      if (info->last_error[0] != '\0')
        g_string_append_printf (subtitle, "\nLast error: %s", info->last_error);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle->str);
      if (info->state == RL_WORKER_CRASHED || info->state == RL_WORKER_FAILED)
        gtk_widget_add_css_class (row, "error");
      else if (info->last_error[0] != '\0')
        gtk_widget_add_css_class (row, "warning");
      adw_preferences_group_add (self->worker_group, row);
      g_ptr_array_add (self->worker_rows, row);
    }
}

static gboolean
poll_workers (gpointer data)
{
  fill_worker_rows (RL_POOL_PANEL (data));
  return G_SOURCE_CONTINUE;
}

static void
update_actions (RlPoolPanel *self)
{
  gboolean have = self->service != NULL && !self->busy;

  gtk_widget_set_sensitive (g_hash_table_lookup (self->widgets, "start"), have);
  gtk_widget_set_sensitive (g_hash_table_lookup (self->widgets, "stop"), have);
  gtk_widget_set_sensitive (g_hash_table_lookup (self->widgets, "restart"), have);
}

typedef enum { POOL_START, POOL_STOP, POOL_RESTART, POOL_FREE_MEMORY } PoolAction;

static void
pool_action_thread (GTask        *task,
                    gpointer      source,
                    gpointer      data,
                    GCancellable *cancellable)
{
  RlPoolService *service = RL_POOL_PANEL (source)->service;
  PoolAction action = GPOINTER_TO_INT (data);
  GError *error = NULL;

  if (action == POOL_FREE_MEMORY)
    {
      if (!rl_pool_service_free_memory (service, &error))
        g_task_return_error (task, error);
      else
        g_task_return_boolean (task, TRUE);
      return;
    }
  if (action != POOL_START)
    rl_pool_service_stop (service);
  if (action != POOL_STOP && !rl_pool_service_start (service, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
pool_action_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  RlPoolPanel *self = RL_POOL_PANEL (source);
  g_autoptr(GError) error = NULL;
  PoolAction action = GPOINTER_TO_INT (data);

  self->busy = FALSE;
  update_actions (self);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    set_status (self, error->message);
  else
    set_status (self, action == POOL_STOP ? "The pool is stopped."
                      : action == POOL_FREE_MEMORY ? "The workers dropped their models and caches."
                      : "The pool is running.");
  fill_worker_rows (self);
}

static void
run_pool_action (RlPoolPanel *self,
                 PoolAction   action)
{
  g_autoptr(GTask) task = NULL;

  if (self->service == NULL || self->busy)
    return;
  self->busy = TRUE;
  update_actions (self);
  set_status (self, action == POOL_STOP ? "Stopping the pool…"
                    : action == POOL_FREE_MEMORY ? "Freeing the workers' memory…" : "Starting the pool…");
  task = g_task_new (self, NULL, pool_action_done, GINT_TO_POINTER (action));
  g_task_set_task_data (task, GINT_TO_POINTER (action), NULL);
  g_task_run_in_thread (task, pool_action_thread);
}

static void on_start (GtkButton *b, RlPoolPanel *self) { run_pool_action (self, POOL_START); }
static void on_stop (GtkButton *b, RlPoolPanel *self) { run_pool_action (self, POOL_STOP); }
static void on_restart (GtkButton *b, RlPoolPanel *self) { run_pool_action (self, POOL_RESTART); }

static void
on_free_memory (GtkButton   *button,
                RlPoolPanel *self)
{
  gboolean handled = FALSE;

  g_signal_emit (self, signals[SIGNAL_FREE_MEMORY], 0, &handled);
  if (handled)
    return;
  if (self->service != NULL)
    run_pool_action (self, POOL_FREE_MEMORY);
  else
    set_status (self, "No pool is running: there is no memory to free.");
}

/* ---- Topology ----------------------------------------------------------- */

static void
topology_thread (GTask        *task,
                 gpointer      source,
                 gpointer      data,
                 GCancellable *cancellable)
{
  RlPoolService *service = data;
  GError *error = NULL;
  RlPoolTopology *topology;
  const char *captured = g_getenv ("RAYLIGHT_TOPOLOGY_FILE");

  if (service != NULL)
    topology = rl_pool_service_get_topology (service, g_task_get_source_tag (task) != NULL, &error);
  else if (captured != NULL && *captured != '\0')
    topology = rl_pool_topology_load_file (captured, &error);
  else
    {
      g_autofree char *tool = rl_pool_topology_find_tool ();
      /* Without the app's pool, opening the panel only lists; the bandwidth
       * copies run on an explicit refresh. */
      topology = rl_pool_topology_run (tool, g_task_get_source_tag (task) != NULL, 60, &error);
    }
  if (topology == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, topology, (GDestroyNotify) rl_pool_topology_unref);
}

static void
topology_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = g_task_propagate_pointer (G_TASK (result), &error);
  RlPoolPanel *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = RL_POOL_PANEL (source);
  gtk_widget_set_sensitive (g_hash_table_lookup (self->widgets, "refresh"), TRUE);
  if (topology == NULL)
    {
      adw_preferences_group_set_description (self->gpu_group, error->message);
      return;
    }
  rl_pool_panel_set_topology (self, topology);
}

static void
load_topology (RlPoolPanel *self,
               gboolean     refresh)
{
  g_autoptr(GTask) task = g_task_new (self, self->cancellable, topology_done, NULL);

  gtk_widget_set_sensitive (g_hash_table_lookup (self->widgets, "refresh"), FALSE);
  g_task_set_source_tag (task, refresh ? (gpointer) load_topology : NULL);
  g_task_set_task_data (task, self->service, NULL);
  g_task_run_in_thread (task, topology_thread);
}

static void
on_refresh (GtkButton   *button,
            RlPoolPanel *self)
{
  load_topology (self, TRUE);
}

/* ---- Building ----------------------------------------------------------- */

static AdwPreferencesGroup *
add_group (RlPoolPanel *self,
           const char  *title,
           const char  *description)
{
  AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());

  adw_preferences_group_set_title (group, title);
  if (description != NULL)
    adw_preferences_group_set_description (group, description);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (self), group);
  return group;
}

static GtkWidget *
add_switch_row (RlPoolPanel         *self,
                AdwPreferencesGroup *group,
                const char          *name,
                const char          *key,
                const char          *title,
                const char          *subtitle)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *toggle = gtk_switch_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_widget_set_valign (toggle, GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (toggle), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), toggle);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), toggle);
  g_settings_bind (self->settings, key, toggle, "active", G_SETTINGS_BIND_DEFAULT);
  adw_preferences_group_add (group, row);
  remember (self, name, toggle);
  return row;
}

static GtkWidget *
add_spin_row (RlPoolPanel         *self,
              AdwPreferencesGroup *group,
              const char          *name,
              const char          *key,
              const char          *title,
              const char          *subtitle,
              double               min,
              double               max)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *spin = gtk_spin_button_new_with_range (min, max, 1);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_widget_set_valign (spin, GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (spin), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), spin);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), spin);
  g_settings_bind (self->settings, key, spin, "value", G_SETTINGS_BIND_DEFAULT);
  adw_preferences_group_add (group, row);
  remember (self, name, spin);
  return row;
}

/* A combo row over a string key with fixed choices. */
static void
on_choice_selected (AdwComboRow *combo,
                    GParamSpec  *pspec,
                    RlPoolPanel *self)
{
  const char * const *keys = g_object_get_data (G_OBJECT (combo), "keys");
  const char *setting = g_object_get_data (G_OBJECT (combo), "setting");
  guint selected = adw_combo_row_get_selected (combo);

  if (selected != GTK_INVALID_LIST_POSITION)
    g_settings_set_string (self->settings, setting, keys[selected]);
}

static GtkWidget *
add_choice_row (RlPoolPanel         *self,
                AdwPreferencesGroup *group,
                const char          *name,
                const char          *key,
                const char          *title,
                const char          *subtitle,
                const char * const  *keys,
                const char * const  *labels,
                guint                n)
{
  GtkWidget *row = adw_combo_row_new ();
  g_autoptr(GtkStringList) model = gtk_string_list_new (NULL);
  g_autofree char *current = g_settings_get_string (self->settings, key);

  for (guint i = 0; i < n; i++)
    gtk_string_list_append (model, labels[i]);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_combo_row_set_model (ADW_COMBO_ROW (row), G_LIST_MODEL (model));
  for (guint i = 0; i < n; i++)
    if (g_str_equal (current, keys[i]))
      adw_combo_row_set_selected (ADW_COMBO_ROW (row), i);
  g_object_set_data (G_OBJECT (row), "keys", (gpointer) keys);
  g_object_set_data (G_OBJECT (row), "setting", (gpointer) key);
  g_signal_connect (row, "notify::selected", G_CALLBACK (on_choice_selected), self);
  adw_preferences_group_add (group, row);
  remember (self, name, row);
  return row;
}

static GtkWidget *
action_button (RlPoolPanel *self,
               const char  *name,
               const char  *label,
               GCallback    callback)
{
  GtkWidget *button = gtk_button_new_with_mnemonic (label);

  g_signal_connect (button, "clicked", callback, self);
  remember (self, name, button);
  return button;
}

static void
build (RlPoolPanel *self)
{
  AdwPreferencesGroup *workers, *parallel, *nccl;
  GtkWidget *refresh, *buttons, *combo, *explanation;

  adw_preferences_page_set_title (ADW_PREFERENCES_PAGE (self), "Pool");
  adw_preferences_page_set_icon_name (ADW_PREFERENCES_PAGE (self), "computer-symbolic");
  gtk_widget_set_name (GTK_WIDGET (self), "pool-panel");

  self->gpu_group = add_group (self, "GPUs", NULL);
  refresh = gtk_button_new_from_icon_name ("view-refresh-symbolic");
  gtk_widget_set_tooltip_text (refresh, "Run the GPU self-test again");
  gtk_accessible_update_property (GTK_ACCESSIBLE (refresh), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  "Run the GPU self-test again", -1);
  gtk_widget_add_css_class (refresh, "flat");
  g_signal_connect (refresh, "clicked", G_CALLBACK (on_refresh), self);
  adw_preferences_group_set_header_suffix (self->gpu_group, refresh);
  remember (self, "refresh", refresh);
  self->link_group = add_group (self, "Links",
                                "How each pair of GPUs is connected and the peer copy bandwidth the self-test "
                                "measured, row to column. Ulysses wants NVLink; staged copies go through host "
                                "memory.");

  workers = add_group (self, "Workers", NULL);
  add_choice_row (self, workers, "devices", "pool-devices", "Run Workers On",
                  "Automatic uses every GPU in the pool, or the CPU without one",
                  device_keys, device_labels, G_N_ELEMENTS (device_keys));
  add_spin_row (self, workers, "cpu-workers", "pool-cpu-workers", "CPU Workers",
                "Worker processes on the CPU (each parallel rank is one)", 1, 64);

  parallel = add_group (self, "Default Parallel Mode",
                        "Used by jobs whose workflow has no Parallel Settings node. Only the combinations "
                        "this pool can run are offered.");
  combo = adw_combo_row_new ();
  self->sp_model = gtk_string_list_new (NULL);
  adw_combo_row_set_model (ADW_COMBO_ROW (combo), G_LIST_MODEL (self->sp_model));
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (combo), "Sequence Parallel");
  adw_action_row_set_subtitle (ADW_ACTION_ROW (combo), "Ulysses × Ring degrees, splitting one video's tokens");
  g_signal_connect (combo, "notify::selected", G_CALLBACK (on_sp_selected), self);
  adw_preferences_group_add (parallel, combo);
  remember (self, "sequence-parallel", combo);
  add_switch_row (self, parallel, "cfg-parallel", "pool-cfg-parallel", "CFG-Parallel",
                  "Conditional and unconditional passes on two halves of the pool");
  add_switch_row (self, parallel, "fsdp", "pool-fsdp", "Shard Weights (FSDP)",
                  "Each worker holds 1/N of the model");
  add_switch_row (self, parallel, "cpu-offload", "pool-cpu-offload", "CPU Offload",
                  "FSDP shards in pinned host memory");
  add_choice_row (self, parallel, "attention", "pool-attention", "Attention", "The attention kernel",
                  attention_keys, attention_labels, G_N_ELEMENTS (attention_keys));
  explanation = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (explanation), TRUE);
  gtk_label_set_xalign (GTK_LABEL (explanation), 0);
  gtk_widget_set_margin_top (explanation, 12);
  gtk_widget_add_css_class (explanation, "dim-label");
  adw_preferences_group_add (parallel, explanation);
  remember (self, "explanation", explanation);

  self->worker_group = add_group (self, "Worker Status", NULL);
  buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_append (GTK_BOX (buttons), action_button (self, "start", "_Start", G_CALLBACK (on_start)));
  gtk_box_append (GTK_BOX (buttons), action_button (self, "stop", "S_top", G_CALLBACK (on_stop)));
  gtk_box_append (GTK_BOX (buttons), action_button (self, "restart", "_Restart", G_CALLBACK (on_restart)));
  gtk_box_append (GTK_BOX (buttons), action_button (self, "free-memory", "_Free Memory", G_CALLBACK (on_free_memory)));
  adw_preferences_group_set_header_suffix (self->worker_group, buttons);

  nccl = add_group (self, "Communication",
                    "Options passed to the workers; they take effect when the pool starts again.");
  add_switch_row (self, nccl, "p2p-disable", "nccl-p2p-disable", "Disable Peer-to-Peer",
                  "NCCL_P2P_DISABLE=1: through host memory, for machines whose P2P hangs or corrupts");
  add_switch_row (self, nccl, "shm-disable", "nccl-shm-disable", "Disable Shared Memory",
                  "NCCL_SHM_DISABLE=1: for containers with a small /dev/shm");
  add_spin_row (self, nccl, "timeout", "collective-timeout", "Collective Timeout",
                "Seconds before a stuck collective fails naming the rank", 10, 3600);

  fill_worker_rows (self);
  fill_gpu_rows (self);
  fill_link_matrix (self);
  update_actions (self);
  update_parallel_choices (self);
}

/* ---- GObject -------------------------------------------------------------- */

static void
on_map (GtkWidget *widget)
{
  RlPoolPanel *self = RL_POOL_PANEL (widget);

  if (self->poll_id == 0)
    self->poll_id = g_timeout_add (WORKER_POLL_MS, poll_workers, self);
}

static void
on_unmap (GtkWidget *widget)
{
  g_clear_handle_id (&RL_POOL_PANEL (widget)->poll_id, g_source_remove);
}

static void
rl_pool_panel_dispose (GObject *object)
{
  RlPoolPanel *self = RL_POOL_PANEL (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->poll_id, g_source_remove);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  G_OBJECT_CLASS (rl_pool_panel_parent_class)->dispose (object);
}

static void
rl_pool_panel_finalize (GObject *object)
{
  RlPoolPanel *self = RL_POOL_PANEL (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->topology, rl_pool_topology_unref);
  g_clear_pointer (&self->widgets, g_hash_table_unref);
  g_clear_pointer (&self->link_texts, g_hash_table_unref);
  g_clear_pointer (&self->gpu_rows, g_ptr_array_unref);
  g_clear_pointer (&self->worker_rows, g_ptr_array_unref);
  g_clear_pointer (&self->sp_choices, g_array_unref);
  g_clear_object (&self->sp_model);
  g_free (self->status);
  G_OBJECT_CLASS (rl_pool_panel_parent_class)->finalize (object);
}

static void
rl_pool_panel_class_init (RlPoolPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = rl_pool_panel_dispose;
  object_class->finalize = rl_pool_panel_finalize;
  signals[SIGNAL_FREE_MEMORY] = g_signal_new ("free-memory", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                              g_signal_accumulator_true_handled, NULL, NULL,
                                              G_TYPE_BOOLEAN, 0);
}

static void
rl_pool_panel_init (RlPoolPanel *self)
{
  self->cancellable = g_cancellable_new ();
  self->widgets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->link_texts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->gpu_rows = g_ptr_array_new ();
  self->worker_rows = g_ptr_array_new ();
  g_signal_connect (self, "map", G_CALLBACK (on_map), NULL);
  g_signal_connect (self, "unmap", G_CALLBACK (on_unmap), NULL);
}

RlPoolPanel *
rl_pool_panel_new (GSettings *settings)
{
  RlPoolPanel *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  self = g_object_new (RL_TYPE_POOL_PANEL, NULL);
  self->settings = g_object_ref (settings);
  build (self);
  g_signal_connect (settings, "changed", G_CALLBACK (on_settings_changed), self);
  load_topology (self, FALSE);
  return self;
}

void
rl_pool_panel_set_service (RlPoolPanel   *self,
                           RlPoolService *service)
{
  g_return_if_fail (RL_IS_POOL_PANEL (self));
  self->service = service;
  update_actions (self);
  fill_worker_rows (self);
  /* The pool's own self-test result (run once, then cached). */
  if (service != NULL)
    load_topology (self, FALSE);
}

RlPoolService *
rl_pool_panel_get_service (RlPoolPanel *self)
{
  g_return_val_if_fail (RL_IS_POOL_PANEL (self), NULL);
  return self->service;
}

void
rl_pool_panel_set_topology (RlPoolPanel    *self,
                            RlPoolTopology *topology)
{
  g_return_if_fail (RL_IS_POOL_PANEL (self));
  g_return_if_fail (topology != NULL);
  if (self->topology != topology)
    {
      g_clear_pointer (&self->topology, rl_pool_topology_unref);
      self->topology = rl_pool_topology_ref (topology);
    }
  fill_gpu_rows (self);
  fill_link_matrix (self);
  update_parallel_choices (self);
}

RlPoolTopology *
rl_pool_panel_get_topology (RlPoolPanel *self)
{
  g_return_val_if_fail (RL_IS_POOL_PANEL (self), NULL);
  return self->topology;
}

GtkWidget *
rl_pool_panel_get_widget (RlPoolPanel *self,
                          const char  *name)
{
  g_return_val_if_fail (RL_IS_POOL_PANEL (self), NULL);
  return g_hash_table_lookup (self->widgets, name);
}

const char *
rl_pool_panel_get_link_text (RlPoolPanel *self,
                             guint        from,
                             guint        to)
{
  g_autofree char *key = g_strdup_printf ("%u:%u", from, to);

  g_return_val_if_fail (RL_IS_POOL_PANEL (self), NULL);
  return g_hash_table_lookup (self->link_texts, key);
}

GStrv
rl_pool_panel_get_worker_lines (RlPoolPanel *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (RL_IS_POOL_PANEL (self), NULL);
  for (guint i = 0; i < self->worker_rows->len; i++)
    {
      AdwActionRow *row = g_ptr_array_index (self->worker_rows, i);
      g_autofree char *line = g_strdup_printf ("%s — %s", adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                                               adw_action_row_get_subtitle (row));
      g_strv_builder_add (builder, line);
    }
  return g_strv_builder_end (builder);
}

const char *
rl_pool_panel_get_status (RlPoolPanel *self)
{
  g_return_val_if_fail (RL_IS_POOL_PANEL (self), NULL);
  return self->status;
}
