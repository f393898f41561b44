/* RlWorkflowPage: a canvas bound to a file. */
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"
#include "engine/media/metadata-reader.h"
#include "ui/canvas/rl-canvas.h"
#include "ui/canvas/rl-node-widget.h"
#include "ui/rl-autosave.h"
#include "ui/rl-workflow-page.h"

struct _RlWorkflowPage
{
  GtkWidget   parent_instance;
  RlRegistry *registry;
  GtkWidget  *canvas;
  GFile      *file;
  char       *title;
  gboolean    modified;
  char       *autosave_id;  /* the page's autosave name; starts with its creation time */
};

G_DEFINE_FINAL_TYPE (RlWorkflowPage, rl_workflow_page, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_TITLE, PROP_MODIFIED, N_PROPS };
static GParamSpec *properties[N_PROPS];

static const char empty_workflow[] =
  "{\"last_node_id\": 0, \"last_link_id\": 0, \"nodes\": [], \"links\": [], \"groups\": [],"
  " \"config\": {}, \"extra\": {}, \"version\": 0.4}";

static void
set_modified (RlWorkflowPage *self,
              gboolean        modified)
{
  if (self->modified == modified)
    return;
  self->modified = modified;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODIFIED]);
}

static void
set_title (RlWorkflowPage *self,
           const char     *title)
{
  g_free (self->title);
  self->title = g_strdup (title);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
}

static void
on_canvas_changed (RlCanvas       *canvas,
                   RlWorkflowPage *self)
{
  set_modified (self, TRUE);
}

static void
rl_workflow_page_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  RlWorkflowPage *self = RL_WORKFLOW_PAGE (object);

  switch (prop_id)
    {
    case PROP_TITLE:    g_value_set_string (value, self->title); break;
    case PROP_MODIFIED: g_value_set_boolean (value, self->modified); break;
    default:            G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rl_workflow_page_dispose (GObject *object)
{
  RlWorkflowPage *self = RL_WORKFLOW_PAGE (object);

  g_clear_pointer (&self->canvas, gtk_widget_unparent);
  G_OBJECT_CLASS (rl_workflow_page_parent_class)->dispose (object);
}

static void
rl_workflow_page_finalize (GObject *object)
{
  RlWorkflowPage *self = RL_WORKFLOW_PAGE (object);

  g_clear_object (&self->file);
  g_clear_pointer (&self->registry, rl_registry_unref);
  g_free (self->title);
  g_free (self->autosave_id);
  G_OBJECT_CLASS (rl_workflow_page_parent_class)->finalize (object);
}

static void
rl_workflow_page_class_init (RlWorkflowPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = rl_workflow_page_get_property;
  object_class->dispose = rl_workflow_page_dispose;
  object_class->finalize = rl_workflow_page_finalize;
  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL,
                                                G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_MODIFIED] = g_param_spec_boolean ("modified", NULL, NULL, FALSE,
                                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  gtk_widget_class_set_layout_manager_type (GTK_WIDGET_CLASS (klass), GTK_TYPE_BIN_LAYOUT);
}

static void
rl_workflow_page_init (RlWorkflowPage *self)
{
  self->autosave_id = g_strdup_printf ("%016" G_GINT64_MODIFIER "x-%08x", g_get_real_time (), g_random_int ());
}

static void
show_workflow (RlWorkflowPage *self,
               RlWorkflow     *workflow)
{
  rl_canvas_set_workflow (RL_CANVAS (self->canvas), workflow);
  set_modified (self, FALSE);
}

RlWorkflowPage *
rl_workflow_page_new (RlRegistry *registry,
                      const char *title)
{
  RlWorkflowPage *self;
  g_autoptr(RlWorkflow) workflow = NULL;

  g_return_val_if_fail (registry != NULL, NULL);
  self = g_object_new (RL_TYPE_WORKFLOW_PAGE, NULL);
  self->registry = rl_registry_ref (registry);
  self->title = g_strdup (title != NULL ? title : "Untitled");
  self->canvas = rl_canvas_new (registry);
  gtk_widget_set_parent (self->canvas, GTK_WIDGET (self));
  g_signal_connect (self->canvas, "changed", G_CALLBACK (on_canvas_changed), self);
  workflow = rl_workflow_load_data (empty_workflow, -1, "new workflow", NULL);
  show_workflow (self, workflow);
  return self;
}

static gboolean
looks_like_json (const char *data,
                 gsize       length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isspace (data[i]))
      return data[i] == '{';
  return FALSE;
}

/* The workflow JSON text of @file: the file itself, or the workflow an
 * image or video output carries in its metadata. */
static char *
read_workflow_text (GFile   *file,
                    GError **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *path = g_file_get_path (file);
  gsize length = 0;
  g_autoptr(RlMediaMetadata) metadata = NULL;

  if (!g_file_load_contents (file, NULL, &contents, &length, NULL, error))
    return NULL;
  if (looks_like_json (contents, length))
    return g_steal_pointer (&contents);
  if (path == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "%s is not a local file; media files must be local to read their metadata",
                   g_file_peek_path (file) != NULL ? g_file_peek_path (file) : "The file");
      return NULL;
    }
  metadata = rl_media_metadata_read (path, error);
  if (metadata == NULL)
    return NULL;
  if (metadata->workflow_json == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "%s carries only an API prompt, not an editable workflow (it has no node layout)", path);
      return NULL;
    }
  return g_steal_pointer (&metadata->workflow_json);
}

gboolean
rl_workflow_page_load_file (RlWorkflowPage  *self,
                            GFile           *file,
                            GError         **error)
{
  g_autofree char *text = NULL;
  g_autofree char *name = NULL;
  g_autoptr(RlWorkflow) workflow = NULL;

  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), FALSE);
  g_return_val_if_fail (G_IS_FILE (file), FALSE);

  text = read_workflow_text (file, error);
  if (text == NULL)
    return FALSE;
  name = g_file_get_parse_name (file);
  workflow = rl_workflow_load_data (text, -1, name, error);
  if (workflow == NULL)
    return FALSE;
  show_workflow (self, workflow);
  g_set_object (&self->file, file);
  {
    g_autofree char *basename = g_file_get_basename (file);

    set_title (self, basename);
  }
  return TRUE;
}

gboolean
rl_workflow_page_load_data (RlWorkflowPage  *self,
                            const char      *data,
                            const char      *title,
                            GError         **error)
{
  g_autoptr(RlWorkflow) workflow = NULL;

  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  workflow = rl_workflow_load_data (data, -1, title, error);
  if (workflow == NULL)
    return FALSE;
  show_workflow (self, workflow);
  g_clear_object (&self->file);
  set_title (self, title);
  return TRUE;
}

gboolean
rl_workflow_page_save (RlWorkflowPage  *self,
                       GFile           *file,
                       GError         **error)
{
  g_autofree char *text = NULL;
  g_autofree char *basename = NULL;

  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), FALSE);
  if (file == NULL)
    file = self->file;
  g_return_val_if_fail (G_IS_FILE (file), FALSE);

  text = rl_workflow_to_string (rl_canvas_get_workflow (RL_CANVAS (self->canvas)), TRUE);
  if (!g_file_replace_contents (file, text, strlen (text), NULL, FALSE, G_FILE_CREATE_NONE,
                                NULL, NULL, error))
    return FALSE;
  if (file != self->file)
    g_set_object (&self->file, file);
  basename = g_file_get_basename (file);
  set_title (self, basename);
  set_modified (self, FALSE);
  rl_workflow_page_forget_autosave (self);
  return TRUE;
}

gboolean
rl_workflow_page_autosave (RlWorkflowPage  *self,
                           GError         **error)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), FALSE);
  if (!self->modified)
    return TRUE;
  text = rl_workflow_to_string (rl_canvas_get_workflow (RL_CANVAS (self->canvas)), TRUE);
  return rl_autosave_write (self->autosave_id, self->title, self->file, text, error);
}

void
rl_workflow_page_forget_autosave (RlWorkflowPage *self)
{
  g_return_if_fail (RL_IS_WORKFLOW_PAGE (self));
  rl_autosave_remove (self->autosave_id);
}

gboolean
rl_workflow_page_restore (RlWorkflowPage  *self,
                          const char      *workflow_json,
                          const char      *title,
                          const char      *file_path,
                          GError         **error)
{
  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), FALSE);
  if (!rl_workflow_page_load_data (self, workflow_json, title != NULL ? title : "Recovered", error))
    return FALSE;
  if (file_path != NULL)
    {
      g_autoptr(GFile) file = g_file_new_for_path (file_path);

      g_set_object (&self->file, file);
    }
  set_modified (self, TRUE);
  return TRUE;
}

GFile *
rl_workflow_page_get_file (RlWorkflowPage *self)
{
  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), NULL);
  return self->file;
}

const char *
rl_workflow_page_get_title (RlWorkflowPage *self)
{
  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), NULL);
  return self->title;
}

gboolean
rl_workflow_page_get_modified (RlWorkflowPage *self)
{
  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), FALSE);
  return self->modified;
}

RlCanvas *
rl_workflow_page_get_canvas (RlWorkflowPage *self)
{
  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), NULL);
  return RL_CANVAS (self->canvas);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

GPtrArray *
rl_workflow_page_list_missing_types (RlWorkflowPage *self)
{
  RlWorkflow *workflow;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *missing = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (RL_IS_WORKFLOW_PAGE (self), missing);
  workflow = rl_canvas_get_workflow (RL_CANVAS (self->canvas));
  for (guint i = 0; i < rl_workflow_get_n_nodes (workflow); i++)
    {
      const char *type = rl_workflow_node_get_type (workflow, rl_workflow_get_node_id (workflow, i));

      if (type == NULL || rl_registry_lookup (self->registry, type) != NULL ||
          rl_node_type_is_frontend_only (type) ||
          g_hash_table_contains (seen, type))
        continue;
      g_hash_table_add (seen, (gpointer) type);
      g_ptr_array_add (missing, g_strdup (type));
    }
  g_ptr_array_sort (missing, compare_strings);
  return missing;
}
