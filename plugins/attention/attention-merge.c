/* See attention-merge.h. */
#include "plugins/attention/attention-merge.h"

#include <math.h>

void
rl_attention_merge_f32 (float *acc_out, float *acc_lse, const float *part_out,
                        const float *part_lse, int64_t batch, int64_t q_len, int64_t heads,
                        int64_t v_head_dim)
{
  for (int64_t b = 0; b < batch; b++)
    for (int64_t h = 0; h < heads; h++)
      for (int64_t i = 0; i < q_len; i++)
        {
          int64_t row = (b * heads + h) * q_len + i;
          double a = acc_lse[row], p = part_lse[row];
          if (isinf (p) && p < 0)
            continue;
          double max = a > p ? a : p;
          double wa = isinf (a) && a < 0 ? 0.0 : exp (a - max), wp = exp (p - max);
          double total = wa + wp;
          float *o = acc_out + ((b * q_len + i) * heads + h) * v_head_dim;
          const float *po = part_out + ((b * q_len + i) * heads + h) * v_head_dim;
          for (int64_t e = 0; e < v_head_dim; e++)
            o[e] = (float) ((wa * o[e] + wp * po[e]) / total);
          acc_lse[row] = (float) (max + log (total));
        }
}
