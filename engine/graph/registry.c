/* The node type registry and its /object_info form (see registry.h). */
#include "engine/graph/registry.h"

#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/model-paths.h"

struct _RlRegistry {
  gatomicrefcount  ref_count;
  GHashTable      *types;        /* name (borrowed) -> const RlNodeType * */
  RlModelPaths    *model_paths;  /* owned reference, or NULL */
};

RlRegistry *
rl_registry_new (void)
{
  RlRegistry *registry = g_new0 (RlRegistry, 1);

  g_atomic_ref_count_init (&registry->ref_count);
  registry->types = g_hash_table_new (g_str_hash, g_str_equal);
  return registry;
}

RlRegistry *
rl_registry_ref (RlRegistry *registry)
{
  g_return_val_if_fail (registry != NULL, NULL);

  g_atomic_ref_count_inc (&registry->ref_count);
  return registry;
}

void
rl_registry_unref (RlRegistry *registry)
{
  if (registry == NULL || !g_atomic_ref_count_dec (&registry->ref_count))
    return;
  g_hash_table_unref (registry->types);
  g_clear_pointer (&registry->model_paths, rl_model_paths_unref);
  g_free (registry);
}

/* Why @type's table cannot be used, or NULL when it is well formed. */
static char *
describe_malformed_type (const RlNodeType *type)
{
  if (type->name == NULL || *type->name == '\0')
    return g_strdup ("a node type has no name");
  if (type->n_inputs > 0 && type->inputs == NULL)
    return g_strdup_printf ("node type %s declares %u inputs but no input table",
                            type->name, type->n_inputs);
  if (type->n_outputs > 0 && type->outputs == NULL)
    return g_strdup_printf ("node type %s declares %u outputs but no output table",
                            type->name, type->n_outputs);
  for (guint i = 0; i < type->n_inputs; i++)
    {
      const RlInputSpec *input = &type->inputs[i];

      if (input->name == NULL || *input->name == '\0')
        return g_strdup_printf ("input %u of node type %s has no name", i, type->name);
      if (input->kind == RL_INPUT_LINK && (input->type == NULL || *input->type == '\0'))
        return g_strdup_printf ("link input %s of node type %s has no socket type",
                                input->name, type->name);
      if (input->kind == RL_INPUT_COMBO && input->combo_options == NULL
          && input->combo_model_folder == NULL)
        return g_strdup_printf ("combo input %s of node type %s has neither options nor a model folder",
                                input->name, type->name);
      for (guint j = 0; j < i; j++)
        if (strcmp (type->inputs[j].name, input->name) == 0)
          return g_strdup_printf ("node type %s has two inputs named %s", type->name, input->name);
    }
  for (guint i = 0; i < type->n_outputs; i++)
    if (type->outputs[i].type == NULL || *type->outputs[i].type == '\0')
      return g_strdup_printf ("output %u of node type %s has no socket type", i, type->name);
  return NULL;
}

gboolean
rl_registry_add (RlRegistry        *registry,
                 const RlNodeType  *type,
                 GError           **error)
{
  g_autofree char *problem = NULL;

  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (type != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  problem = describe_malformed_type (type);
  if (problem != NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "Cannot register node type: %s", problem);
      return FALSE;
    }
  if (g_hash_table_contains (registry->types, type->name))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "Cannot register node type %s twice: two node tables use the same "
                   "class name; rename one of them", type->name);
      return FALSE;
    }
  g_hash_table_insert (registry->types, (gpointer) type->name, (gpointer) type);
  return TRUE;
}

gboolean
rl_registry_add_all (RlRegistry              *registry,
                     const RlNodeType * const *types,
                     guint                    n_types,
                     GError                 **error)
{
  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (types != NULL || n_types == 0, FALSE);

  for (guint i = 0; i < n_types; i++)
    if (!rl_registry_add (registry, types[i], error))
      return FALSE;
  return TRUE;
}

const RlNodeType *
rl_registry_lookup (const RlRegistry *registry,
                    const char       *name)
{
  g_return_val_if_fail (registry != NULL, NULL);

  if (name == NULL)
    return NULL;
  return g_hash_table_lookup (registry->types, name);
}

guint
rl_registry_get_n_types (const RlRegistry *registry)
{
  g_return_val_if_fail (registry != NULL, 0);

  return g_hash_table_size (registry->types);
}

static int
compare_types_by_name (gconstpointer a,
                       gconstpointer b)
{
  const RlNodeType *ta = *(const RlNodeType * const *) a;
  const RlNodeType *tb = *(const RlNodeType * const *) b;

  return strcmp (ta->name, tb->name);
}

GPtrArray *
rl_registry_list_types (const RlRegistry *registry)
{
  GPtrArray *types;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (registry != NULL, NULL);

  types = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, registry->types);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (types, value);
  g_ptr_array_sort (types, compare_types_by_name);
  return types;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

GPtrArray *
rl_registry_list_categories (const RlRegistry *registry)
{
  g_autoptr(GHashTable) seen = NULL;
  GPtrArray *categories;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (registry != NULL, NULL);

  seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_iter_init (&iter, registry->types);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const RlNodeType *type = value;

      g_hash_table_add (seen, (gpointer) (type->category != NULL ? type->category : ""));
    }
  categories = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, seen);
  while (g_hash_table_iter_next (&iter, &value, NULL))
    g_ptr_array_add (categories, value);
  g_ptr_array_sort (categories, compare_strings);
  return categories;
}

void
rl_registry_set_model_paths (RlRegistry   *registry,
                             RlModelPaths *paths)
{
  g_return_if_fail (registry != NULL);

  if (paths != NULL)
    rl_model_paths_ref (paths);
  g_clear_pointer (&registry->model_paths, rl_model_paths_unref);
  registry->model_paths = paths;
}

RlModelPaths *
rl_registry_get_model_paths (const RlRegistry *registry)
{
  g_return_val_if_fail (registry != NULL, NULL);

  return registry->model_paths;
}

GPtrArray *
rl_registry_list_combo_options (const RlRegistry  *registry,
                                const RlInputSpec *input)
{
  GPtrArray *options;

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (input != NULL, NULL);

  if (input->combo_model_folder != NULL)
    {
      if (registry->model_paths != NULL)
        return rl_model_paths_list_files (registry->model_paths, input->combo_model_folder);
      return g_ptr_array_new_with_free_func (g_free);
    }
  options = g_ptr_array_new_with_free_func (g_free);
  if (input->combo_options != NULL)
    for (guint i = 0; input->combo_options[i] != NULL; i++)
      g_ptr_array_add (options, g_strdup (input->combo_options[i]));
  return options;
}

/* ---- /object_info */

/* Whether an INT/FLOAT spec declares bounds: a zero range means none. */
static gboolean
int_has_bounds (const RlInputSpec *input)
{
  return input->int_min != 0 || input->int_max != 0;
}

static gboolean
float_has_bounds (const RlInputSpec *input)
{
  return input->float_min != 0.0 || input->float_max != 0.0;
}

static void
add_widget_options (JsonBuilder       *builder,
                    const RlInputSpec *input)
{
  switch (input->kind)
    {
    case RL_INPUT_INT:
      json_builder_set_member_name (builder, "default");
      json_builder_add_int_value (builder, input->int_default);
      if (int_has_bounds (input))
        {
          json_builder_set_member_name (builder, "min");
          json_builder_add_int_value (builder, input->int_min);
          json_builder_set_member_name (builder, "max");
          json_builder_add_int_value (builder, input->int_max);
        }
      json_builder_set_member_name (builder, "step");
      json_builder_add_int_value (builder, input->int_step > 0 ? input->int_step : 1);
      if (input->control_after_generate)
        {
          json_builder_set_member_name (builder, "control_after_generate");
          json_builder_add_boolean_value (builder, TRUE);
        }
      break;
    case RL_INPUT_FLOAT:
      json_builder_set_member_name (builder, "default");
      json_builder_add_double_value (builder, input->float_default);
      if (float_has_bounds (input))
        {
          json_builder_set_member_name (builder, "min");
          json_builder_add_double_value (builder, input->float_min);
          json_builder_set_member_name (builder, "max");
          json_builder_add_double_value (builder, input->float_max);
        }
      json_builder_set_member_name (builder, "step");
      json_builder_add_double_value (builder, input->float_step > 0 ? input->float_step : 0.01);
      if (input->float_round > 0)
        {
          json_builder_set_member_name (builder, "round");
          json_builder_add_double_value (builder, input->float_round);
        }
      break;
    case RL_INPUT_STRING:
      json_builder_set_member_name (builder, "default");
      json_builder_add_string_value (builder, input->string_default != NULL ? input->string_default : "");
      json_builder_set_member_name (builder, "multiline");
      json_builder_add_boolean_value (builder, input->multiline);
      if (input->dynamic_prompts)
        {
          json_builder_set_member_name (builder, "dynamicPrompts");
          json_builder_add_boolean_value (builder, TRUE);
        }
      break;
    case RL_INPUT_BOOLEAN:
      json_builder_set_member_name (builder, "default");
      json_builder_add_boolean_value (builder, input->boolean_default);
      break;
    case RL_INPUT_COMBO:
      if (input->combo_default != NULL)
        {
          json_builder_set_member_name (builder, "default");
          json_builder_add_string_value (builder, input->combo_default);
        }
      break;
    case RL_INPUT_LINK:
    default:
      break;
    }
}

static const char *
widget_type_name (RlInputKind kind)
{
  switch (kind)
    {
    case RL_INPUT_INT:     return "INT";
    case RL_INPUT_FLOAT:   return "FLOAT";
    case RL_INPUT_STRING:  return "STRING";
    case RL_INPUT_BOOLEAN: return "BOOLEAN";
    case RL_INPUT_COMBO:   return "COMBO";
    case RL_INPUT_LINK:
    default:               return NULL;
    }
}

/* [TYPE, {options}] or [[choices], {options}] for one input. */
static void
add_input_entry (JsonBuilder       *builder,
                 const RlRegistry  *registry,
                 const RlInputSpec *input)
{
  json_builder_begin_array (builder);
  if (input->kind == RL_INPUT_COMBO)
    {
      g_autoptr(GPtrArray) options = rl_registry_list_combo_options (registry, input);

      json_builder_begin_array (builder);
      for (guint i = 0; i < options->len; i++)
        json_builder_add_string_value (builder, g_ptr_array_index (options, i));
      json_builder_end_array (builder);
    }
  else if (input->kind == RL_INPUT_LINK)
    json_builder_add_string_value (builder, input->type);
  else
    json_builder_add_string_value (builder, widget_type_name (input->kind));

  json_builder_begin_object (builder);
  add_widget_options (builder, input);
  if (input->force_input)
    {
      json_builder_set_member_name (builder, "forceInput");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (input->tooltip != NULL)
    {
      json_builder_set_member_name (builder, "tooltip");
      json_builder_add_string_value (builder, input->tooltip);
    }
  json_builder_end_object (builder);
  json_builder_end_array (builder);
}

static void
add_input_group (JsonBuilder       *builder,
                 const RlRegistry  *registry,
                 const RlNodeType  *type,
                 gboolean           optional,
                 gboolean           names_only)
{
  for (guint i = 0; i < type->n_inputs; i++)
    {
      const RlInputSpec *input = &type->inputs[i];

      if ((input->optional != FALSE) != (optional != FALSE))
        continue;
      if (names_only)
        {
          json_builder_add_string_value (builder, input->name);
          continue;
        }
      json_builder_set_member_name (builder, input->name);
      add_input_entry (builder, registry, input);
    }
}

static gboolean
has_inputs (const RlNodeType *type,
            gboolean          optional)
{
  for (guint i = 0; i < type->n_inputs; i++)
    if ((type->inputs[i].optional != FALSE) == (optional != FALSE))
      return TRUE;
  return FALSE;
}

static void
add_member_string (JsonBuilder *builder,
                   const char  *name,
                   const char  *value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value != NULL ? value : "");
}

static void
add_inputs (JsonBuilder      *builder,
            const RlRegistry *registry,
            const RlNodeType *type)
{
  json_builder_set_member_name (builder, "input");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "required");
  json_builder_begin_object (builder);
  add_input_group (builder, registry, type, FALSE, FALSE);
  json_builder_end_object (builder);
  if (has_inputs (type, TRUE))
    {
      json_builder_set_member_name (builder, "optional");
      json_builder_begin_object (builder);
      add_input_group (builder, registry, type, TRUE, FALSE);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "input_order");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "required");
  json_builder_begin_array (builder);
  add_input_group (builder, registry, type, FALSE, TRUE);
  json_builder_end_array (builder);
  if (has_inputs (type, TRUE))
    {
      json_builder_set_member_name (builder, "optional");
      json_builder_begin_array (builder);
      add_input_group (builder, registry, type, TRUE, TRUE);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
}

typedef enum { OUTPUT_TYPE, OUTPUT_IS_LIST, OUTPUT_NAME, OUTPUT_TOOLTIP } OutputField;

static void
add_output_array (JsonBuilder      *builder,
                  const RlNodeType *type,
                  const char       *member,
                  OutputField       field)
{
  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);
  for (guint i = 0; i < type->n_outputs; i++)
    {
      const RlOutputSpec *output = &type->outputs[i];

      switch (field)
        {
        case OUTPUT_TYPE:
          json_builder_add_string_value (builder, output->type);
          break;
        case OUTPUT_IS_LIST:
          json_builder_add_boolean_value (builder, output->is_list);
          break;
        case OUTPUT_NAME:
          json_builder_add_string_value (builder, output->name != NULL ? output->name : output->type);
          break;
        case OUTPUT_TOOLTIP:
          if (output->tooltip != NULL)
            json_builder_add_string_value (builder, output->tooltip);
          else
            json_builder_add_null_value (builder);
          break;
        default:
          g_assert_not_reached ();
        }
    }
  json_builder_end_array (builder);
}

static void
build_node_info (JsonBuilder      *builder,
                 const RlRegistry *registry,
                 const RlNodeType *type)
{
  json_builder_begin_object (builder);
  add_inputs (builder, registry, type);
  add_output_array (builder, type, "output", OUTPUT_TYPE);
  add_output_array (builder, type, "output_is_list", OUTPUT_IS_LIST);
  add_output_array (builder, type, "output_name", OUTPUT_NAME);
  add_output_array (builder, type, "output_tooltips", OUTPUT_TOOLTIP);
  add_member_string (builder, "name", type->name);
  add_member_string (builder, "display_name",
                     type->display_name != NULL ? type->display_name : type->name);
  add_member_string (builder, "description", type->description);
  add_member_string (builder, "python_module", "raylight");
  add_member_string (builder, "category", type->category);
  json_builder_set_member_name (builder, "output_node");
  json_builder_add_boolean_value (builder, type->output_node);
  json_builder_set_member_name (builder, "deprecated");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_set_member_name (builder, "experimental");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_end_object (builder);
}

JsonNode *
rl_registry_node_type_to_object_info (const RlRegistry *registry,
                                      const RlNodeType *type)
{
  g_autoptr(JsonBuilder) builder = NULL;

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (type != NULL, NULL);

  builder = json_builder_new ();
  build_node_info (builder, registry, type);
  return json_builder_get_root (builder);
}

JsonNode *
rl_registry_to_object_info_json (const RlRegistry *registry)
{
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(GPtrArray) types = NULL;

  g_return_val_if_fail (registry != NULL, NULL);

  builder = json_builder_new ();
  types = rl_registry_list_types (registry);
  json_builder_begin_object (builder);
  for (guint i = 0; i < types->len; i++)
    {
      const RlNodeType *type = g_ptr_array_index (types, i);

      json_builder_set_member_name (builder, type->name);
      build_node_info (builder, registry, type);
    }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}
