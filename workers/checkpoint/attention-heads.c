/* Attention heads from a checkpoint's header (attention-heads.h). */
#include "workers/checkpoint/attention-heads.h"

#include <string.h>

#include "workers/checkpoint/safetensors.h"

/* Wan 2.1/2.2 DiTs: 128 features per head. */
#define WAN_HEAD_DIM 128

static int
ends_with (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);
  return n >= m && strcmp (s + n - m, suffix) == 0;
}

int
rl_checkpoint_attention_heads (const char *path)
{
  static const char *const wan_q[] = { "blocks.0.self_attn.q.weight",
                                       "model.diffusion_model.blocks.0.self_attn.q.weight" };
  RlSafetensors *st = NULL;
  int heads = 0;

  if (path == NULL || !ends_with (path, ".safetensors") || rl_safetensors_open (path, &st) != RL_OK)
    return 0;
  for (size_t i = 0; i < sizeof wan_q / sizeof wan_q[0] && heads == 0; i++)
    {
      const RlSafetensorsTensor *q = rl_safetensors_find (st, wan_q[i]);
      if (q != NULL && q->ndim == 2 && q->shape[0] == q->shape[1] && q->shape[0] > 0
          && q->shape[0] % WAN_HEAD_DIM == 0)
        heads = (int) (q->shape[0] / WAN_HEAD_DIM);
    }
  rl_safetensors_close (st);
  return heads;
}
