/* Moving whole frames between video tensors that may live on the host or
 * on the context's device (the VAE streams its input and output chunk by
 * chunk, so neither side needs the whole clip on the device). */
#include "plugins/wan/vae-internal.h"

#include <stdlib.h>
#include <string.h>

static bool
on_device (const WanVae   *v,
           const RlTensor *t)
{
  return rl_device_equal (t->device, v->backend->context_device (v->ctx));
}

static RlStatus
copy_or_convert (WanVae         *v,
                 RlTensor       *dst,
                 const RlTensor *src)
{
  if (dst->dtype == src->dtype)
    return v->ops->copy (v->ctx, dst, src);
  return v->ops->convert (v->ctx, dst, src);
}

/* Host-side copy of frames [t0, t0 + n) of src into [d0, d0 + n) of dst:
 * per (batch, channel) the frames are one contiguous run. */
static void
host_copy_frames (RlTensor       *dst,
                  int64_t         d0,
                  const RlTensor *src,
                  int64_t         t0,
                  int64_t         n)
{
  const size_t esize = rl_dtype_block_bytes (src->dtype);
  const int64_t rows = src->shape[0] * src->shape[1], plane = src->shape[3] * src->shape[4];

  for (int64_t r = 0; r < rows; r++)
    memcpy ((char *) dst->data + ((r * dst->shape[2] + d0) * plane) * (int64_t) esize,
            (const char *) src->data + ((r * src->shape[2] + t0) * plane) * (int64_t) esize,
            (size_t) (n * plane) * esize);
}

/* A host buffer of [B, C, n, H, W] in `dtype`, owned by the caller (free
 * t->data). */
static RlStatus
host_frames (RlTensor       *t,
             RlDType         dtype,
             const RlTensor *like,
             int64_t         n)
{
  const int64_t shape[5] = { like->shape[0], like->shape[1], n, like->shape[3], like->shape[4] };
  const size_t bytes = (size_t) (shape[0] * shape[1] * n * shape[3] * shape[4]) * rl_dtype_block_bytes (dtype);
  void *data = malloc (bytes ? bytes : 1);

  if (data == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "wan vae: out of host memory staging %zu bytes of frames", bytes);
  return rl_tensor_wrap (t, data, rl_device_cpu (), dtype, 5, shape, NULL, NULL);
}

RlStatus
vae_copy_frames (WanVae         *v,
                 RlTensor       *dst,
                 int64_t         d0,
                 const RlTensor *src,
                 int64_t         t0,
                 int64_t         n)
{
  RlTensor dv = { 0 }, sv = { 0 }, tmp = { 0 }, staging = { 0 };
  RlStatus s;

  if (on_device (v, dst) && on_device (v, src))
    {
      s = rl_tensor_narrow (&dv, dst, 2, d0, n);
      if (s == RL_OK) s = rl_tensor_narrow (&sv, src, 2, t0, n);
      if (s == RL_OK) s = copy_or_convert (v, &dv, &sv);
    }
  else if (on_device (v, src))
    {
      /* device → host: gather on the device, one transfer, host scatter */
      s = vae_alloc (v, &tmp, dst->dtype, src->shape[0], src->shape[1], n, src->shape[3], src->shape[4]);
      if (s == RL_OK) s = rl_tensor_narrow (&sv, src, 2, t0, n);
      if (s == RL_OK) s = copy_or_convert (v, &tmp, &sv);
      if (s == RL_OK) s = host_frames (&staging, dst->dtype, src, n);
      if (s == RL_OK) s = v->backend->transfer (v->ctx, &staging, &tmp);
      if (s == RL_OK) host_copy_frames (dst, d0, &staging, 0, n);
    }
  else
    {
      /* host → device: host gather, one transfer, place on the device */
      s = host_frames (&staging, src->dtype, src, n);
      if (s == RL_OK) host_copy_frames (&staging, 0, src, t0, n);
      if (s == RL_OK)
        s = vae_alloc (v, &tmp, src->dtype, src->shape[0], src->shape[1], n, src->shape[3], src->shape[4]);
      if (s == RL_OK) s = v->backend->transfer (v->ctx, &tmp, &staging);
      if (s == RL_OK) s = rl_tensor_narrow (&dv, dst, 2, d0, n);
      if (s == RL_OK) s = copy_or_convert (v, &dv, &tmp);
    }
  free (staging.data);
  rl_tensor_release (&staging);
  rl_tensor_release (&tmp);
  rl_tensor_release (&sv);
  rl_tensor_release (&dv);
  return s;
}
