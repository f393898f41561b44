/* Deep copies of JSON trees; see json-copy.h. */
#include "engine/graph/json-copy.h"

static JsonObject *
copy_object (JsonObject *source)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  /* The ordered iterator keeps the document's member order, so a saved
   * copy reads the same as the original. */
  json_object_iter_init_ordered (&iter, source);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    json_object_set_member (copy, name, rl_json_node_deep_copy (member));
  return copy;
}

static JsonArray *
copy_array (JsonArray *source)
{
  guint length = json_array_get_length (source);
  JsonArray *copy = json_array_sized_new (length);

  for (guint i = 0; i < length; i++)
    json_array_add_element (copy, rl_json_node_deep_copy (json_array_get_element (source, i)));
  return copy;
}

JsonNode *
rl_json_node_deep_copy (JsonNode *node)
{
  JsonNode *copy;

  g_return_val_if_fail (node != NULL, NULL);

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      copy = json_node_alloc ();
      json_node_init_object (copy, NULL);
      json_node_take_object (copy, copy_object (json_node_get_object (node)));
      return copy;
    case JSON_NODE_ARRAY:
      copy = json_node_alloc ();
      json_node_init_array (copy, NULL);
      json_node_take_array (copy, copy_array (json_node_get_array (node)));
      return copy;
    case JSON_NODE_VALUE:
      {
        /* json_node_copy shares the JsonValue too, and json_node_set_int and
         * friends change a node's value in place: make a new one. */
        GValue value = G_VALUE_INIT;

        json_node_get_value (node, &value);
        copy = json_node_init (json_node_alloc (), JSON_NODE_VALUE);
        json_node_set_value (copy, &value);
        g_value_unset (&value);
        return copy;
      }
    case JSON_NODE_NULL:
    default:
      return json_node_init_null (json_node_alloc ());
    }
}
