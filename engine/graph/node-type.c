/* Lookups on node type tables and socket type matching (see node-type.h). */
#include "engine/graph/node-type.h"

#include <string.h>

const RlInputSpec *
rl_node_type_find_input (const RlNodeType *type,
                         const char       *name)
{
  g_return_val_if_fail (type != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < type->n_inputs; i++)
    if (g_strcmp0 (type->inputs[i].name, name) == 0)
      return &type->inputs[i];
  return NULL;
}

int
rl_node_type_output_index (const RlNodeType *type,
                           const char       *name)
{
  g_return_val_if_fail (type != NULL, -1);
  g_return_val_if_fail (name != NULL, -1);

  for (guint i = 0; i < type->n_outputs; i++)
    if (g_strcmp0 (type->outputs[i].name, name) == 0)
      return (int) i;
  return -1;
}

/* Whether the comma-separated list @list (spaces around items allowed)
 * contains @item of length @item_len. */
static gboolean
type_list_contains (const char *list,
                    const char *item,
                    gsize       item_len)
{
  const char *p = list;

  while (*p != '\0')
    {
      const char *end = strchr (p, ',');
      const char *stop = end != NULL ? end : p + strlen (p);
      const char *a = p, *b = stop;

      while (a < b && g_ascii_isspace (*a))
        a++;
      while (b > a && g_ascii_isspace (b[-1]))
        b--;
      if ((gsize) (b - a) == item_len && memcmp (a, item, item_len) == 0)
        return TRUE;
      if (end == NULL)
        break;
      p = end + 1;
    }
  return FALSE;
}

gboolean
rl_socket_types_compatible (const char *from,
                            const char *to)
{
  const char *p;

  g_return_val_if_fail (from != NULL, FALSE);
  g_return_val_if_fail (to != NULL, FALSE);

  if (strcmp (from, "*") == 0 || strcmp (to, "*") == 0 || strcmp (from, to) == 0)
    return TRUE;
  if (strchr (from, ',') == NULL && strchr (to, ',') == NULL)
    return FALSE;

  /* Unions: compatible when they share a member. */
  p = from;
  while (*p != '\0')
    {
      const char *end = strchr (p, ',');
      const char *stop = end != NULL ? end : p + strlen (p);
      const char *a = p, *b = stop;

      while (a < b && g_ascii_isspace (*a))
        a++;
      while (b > a && g_ascii_isspace (b[-1]))
        b--;
      if (b > a && type_list_contains (to, a, (gsize) (b - a)))
        return TRUE;
      if (end == NULL)
        break;
      p = end + 1;
    }
  return FALSE;
}
