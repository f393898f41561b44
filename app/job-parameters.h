/* The few parameters people search history by (seed, steps, cfg,
 * sampler, model files, size), picked from a graph's literal inputs by
 * their ComfyUI input names. */
#pragma once

#include "engine/graph/graph.h"

G_BEGIN_DECLS

/* A JSON object text such as {"seed":5,"steps":30,"unet_name":"wan.safetensors"};
 * "{}" when the graph has none of them. */
char  *rl_job_parameters_to_json  (RlGraph  *graph);

G_END_DECLS
