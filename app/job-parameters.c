#include "app/job-parameters.h"

static const char * const summarised_inputs[] = {
  "seed", "noise_seed", "steps", "cfg", "sampler_name", "scheduler", "denoise",
  "unet_name", "ckpt_name", "clip_name", "vae_name", "lora_name",
  "width", "height", "length", "batch_size", "fps", "shift",
};

char *
rl_job_parameters_to_json (RlGraph *graph)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  json_builder_begin_object (builder);
  /* The first node (in stable id order) that sets a name wins, so the
   * summary of a graph never depends on hash order. */
  for (guint n = 0; n < rl_graph_get_n_nodes (graph); n++)
    {
      RlGraphNode *node = rl_graph_get_node (graph, n);

      for (guint i = 0; i < G_N_ELEMENTS (summarised_inputs); i++)
        {
          const char *name = summarised_inputs[i];
          JsonNode *value = rl_graph_node_get_literal (node, name);

          if (value == NULL || JSON_NODE_TYPE (value) != JSON_NODE_VALUE ||
              g_hash_table_contains (seen, name))
            continue;
          g_hash_table_add (seen, (gpointer) name);
          json_builder_set_member_name (builder, name);
          json_builder_add_value (builder, json_node_copy (value));
        }
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}
