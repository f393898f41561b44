/* Reference-counted immutable values (see value.h). */
#include "engine/graph/value.h"

#include <string.h>

struct _RlValue {
  gatomicrefcount  ref_count;
  RlValueKind      kind;
  union {
    gint64         int_value;
    double         float_value;
    char          *string_value;
    gboolean       boolean_value;
    struct {
      char          *type_name;
      gpointer       data;
      GDestroyNotify destroy;
    } object;
  };
};

static RlValue *
value_alloc (RlValueKind kind)
{
  RlValue *value = g_new0 (RlValue, 1);

  g_atomic_ref_count_init (&value->ref_count);
  value->kind = kind;
  return value;
}

RlValue *
rl_value_new_int (gint64 v)
{
  RlValue *value = value_alloc (RL_VALUE_INT);

  value->int_value = v;
  return value;
}

RlValue *
rl_value_new_float (double v)
{
  RlValue *value = value_alloc (RL_VALUE_FLOAT);

  value->float_value = v;
  return value;
}

RlValue *
rl_value_new_string (const char *v)
{
  RlValue *value = value_alloc (RL_VALUE_STRING);

  value->string_value = g_strdup (v != NULL ? v : "");
  return value;
}

RlValue *
rl_value_new_boolean (gboolean v)
{
  RlValue *value = value_alloc (RL_VALUE_BOOLEAN);

  value->boolean_value = v ? TRUE : FALSE;
  return value;
}

RlValue *
rl_value_new_object (const char     *type_name,
                     gpointer        data,
                     GDestroyNotify  destroy)
{
  RlValue *value;

  g_return_val_if_fail (type_name != NULL && *type_name != '\0', NULL);

  value = value_alloc (RL_VALUE_OBJECT);
  value->object.type_name = g_strdup (type_name);
  value->object.data = data;
  value->object.destroy = destroy;
  return value;
}

RlValue *
rl_value_ref (RlValue *value)
{
  g_return_val_if_fail (value != NULL, NULL);

  g_atomic_ref_count_inc (&value->ref_count);
  return value;
}

void
rl_value_unref (RlValue *value)
{
  if (value == NULL)
    return;
  if (!g_atomic_ref_count_dec (&value->ref_count))
    return;

  if (value->kind == RL_VALUE_STRING)
    g_free (value->string_value);
  else if (value->kind == RL_VALUE_OBJECT)
    {
      if (value->object.destroy != NULL && value->object.data != NULL)
        value->object.destroy (value->object.data);
      g_free (value->object.type_name);
    }
  g_free (value);
}

RlValueKind
rl_value_get_kind (const RlValue *value)
{
  g_return_val_if_fail (value != NULL, RL_VALUE_OBJECT);

  return value->kind;
}

const char *
rl_value_get_type_name (const RlValue *value)
{
  g_return_val_if_fail (value != NULL, NULL);

  switch (value->kind)
    {
    case RL_VALUE_INT:     return "INT";
    case RL_VALUE_FLOAT:   return "FLOAT";
    case RL_VALUE_STRING:  return "STRING";
    case RL_VALUE_BOOLEAN: return "BOOLEAN";
    case RL_VALUE_OBJECT:  return value->object.type_name;
    default:               g_assert_not_reached ();
    }
}

gint64
rl_value_get_int (const RlValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  g_return_val_if_fail (value->kind == RL_VALUE_INT, 0);

  return value->int_value;
}

/* An INT reads as FLOAT too: ComfyUI passes ints where floats are taken. */
double
rl_value_get_float (const RlValue *value)
{
  g_return_val_if_fail (value != NULL, 0.0);

  if (value->kind == RL_VALUE_INT)
    return (double) value->int_value;
  g_return_val_if_fail (value->kind == RL_VALUE_FLOAT, 0.0);
  return value->float_value;
}

const char *
rl_value_get_string (const RlValue *value)
{
  g_return_val_if_fail (value != NULL, NULL);
  g_return_val_if_fail (value->kind == RL_VALUE_STRING, NULL);

  return value->string_value;
}

gboolean
rl_value_get_boolean (const RlValue *value)
{
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (value->kind == RL_VALUE_BOOLEAN, FALSE);

  return value->boolean_value;
}

gpointer
rl_value_get_object (const RlValue *value,
                     const char    *type_name)
{
  g_return_val_if_fail (value != NULL, NULL);
  g_return_val_if_fail (type_name != NULL, NULL);
  g_return_val_if_fail (value->kind == RL_VALUE_OBJECT, NULL);
  g_return_val_if_fail (strcmp (value->object.type_name, type_name) == 0, NULL);

  return value->object.data;
}
