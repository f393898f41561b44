/* Small node types shaped like ComfyUI's own, for the graph tests: they
 * declare the same inputs, widgets and outputs, and do nothing. */
#pragma once

#include "engine/graph/registry.h"

G_BEGIN_DECLS

/* A registry with CheckpointLoaderSimple, UNETLoader, CLIPTextEncode,
 * EmptyLatentImage, KSampler, LatentUpscaleBy, VAEDecode, SaveImage,
 * SaveAnimatedWEBP and PreviewAny (optional inputs). */
RlRegistry *graph_test_registry_new   (void);
/* The path of tests/engine/data/@name. */
char       *graph_test_data_path      (const char *name);
/* Reads tests/engine/data/@name as JSON (asserts success). */
JsonNode   *graph_test_load_json      (const char *name);
/* A random seed for this run, printed so a failure can be replayed. */
guint32     graph_test_random_seed    (void);

G_END_DECLS
