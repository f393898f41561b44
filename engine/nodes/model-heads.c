/* The Ulysses pre-flight check (model-heads.h). */
#include "engine/nodes/model-heads.h"

#include "engine/engine-error.h"
#include "workers/checkpoint/attention-heads.h"
#include "workers/parallel/usp-plan.h"

gboolean
rl_model_check_ulysses (const char            *path,
                        const RlPoolParallel  *parallel,
                        gboolean               from_node,
                        GError               **error)
{
  guint ulysses = parallel != NULL ? parallel->ulysses_degree : 1;
  int heads = ulysses > 1 ? rl_checkpoint_attention_heads (path) : 0;
  char valid[128];
  g_autofree char *name = NULL;

  if (heads <= 0 || (guint) heads % ulysses == 0)
    return TRUE;
  name = g_path_get_basename (path);
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION,
               "Ulysses %u cannot split the %d attention heads of %s: valid Ulysses degrees "
               "for this model: %s (%s)", ulysses, heads, name,
               rl_usp_ulysses_degrees (heads, (int) MAX (ulysses * parallel->ring_degree, ulysses),
                                       valid, sizeof valid),
               from_node ? "change the Parallel Settings node"
                         : "change the degrees in Pool settings, or $RAYLIGHT_ULYSSES where "
                           "no settings are saved");
  return FALSE;
}
