/* Rotary tables for N-axis RoPE (Wan: t, h, w). */
#include "workers/runtime/rope-table.h"

#include <math.h>

RlStatus
rl_rope_table_3d (RlTensor *cos_t, RlTensor *sin_t, int n_axes,
                  const int *axes_dim, const int64_t *grid,
                  int64_t token_offset, double theta)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  int64_t pairs = 0;
  int64_t total = 1;

  if (n_axes < 1 || n_axes > 3)
    return rl_set_error (RL_E_INVALID_ARG, "rope table: %d axes (1..3)", n_axes);
  for (int a = 0; a < n_axes; a++)
    {
      if (axes_dim[a] <= 0 || axes_dim[a] % 2 != 0 || grid[a] <= 0)
        return rl_set_error (RL_E_INVALID_ARG, "rope table: axis %d has dim %d and grid %lld (need an even dim and a positive grid)",
                             a, axes_dim[a], (long long) grid[a]);
      pairs += axes_dim[a] / 2;
      total *= grid[a];
    }
  for (int i = 0; i < 2; i++)
    {
      const RlTensor *t = i == 0 ? cos_t : sin_t;
      if (t->dtype != RL_F32 || t->ndim != 2 || t->shape[1] != pairs
          || t->device.kind != RL_DEVICE_CPU || !rl_tensor_is_contiguous (t)
          || (i == 1 && t->shape[0] != cos_t->shape[0]))
        return rl_set_error (RL_E_SHAPE, "rope table: %s must be contiguous host f32 [L, %lld]",
                             rl_tensor_describe (t, desc, sizeof desc), (long long) pairs);
    }
  int64_t length = cos_t->shape[0];
  float *cos_out = cos_t->data;
  float *sin_out = sin_t->data;

  for (int64_t l = 0; l < length; l++)
    {
      int64_t token = token_offset + l;
      float *c = cos_out + l * pairs;
      float *s = sin_out + l * pairs;
      if (token < 0 || token >= total)
        {
          for (int64_t p = 0; p < pairs; p++)
            {
              c[p] = 1.0f;
              s[p] = 0.0f;
            }
          continue;
        }
      int64_t pos[3] = { 0, 0, 0 };
      int64_t rest = token;
      for (int a = n_axes - 1; a >= 0; a--)
        {
          pos[a] = rest % grid[a];
          rest /= grid[a];
        }
      int64_t p = 0;
      for (int a = 0; a < n_axes; a++)
        for (int j = 0; j < axes_dim[a] / 2; j++, p++)
          {
            double omega = pow (theta, -2.0 * j / axes_dim[a]);
            double angle = (double) pos[a] * omega;
            c[p] = (float) cos (angle);
            s[p] = (float) sin (angle);
          }
    }
  return RL_OK;
}
