/* Ring attention (ring-attention.h).
 *
 * Step s of R: this rank (ring index j) attends to the key/value block
 * that started on ring rank (j − s) mod R, while handing that block on to
 * rank j+1 and receiving the next one from rank j−1. Keys and values of a
 * block travel packed in one buffer; two buffers alternate, so the block
 * being sent and attended to is never the one being received. On NCCL the
 * transfer overlaps the block's attention (rl_comm_sendrecv_start); on
 * shm it completes first. Merges happen in the same order on every run,
 * so results are deterministic.
 *
 * The running result is f32, but a block's attention is asked for in the
 * dtype of `out` and widened before the merge: the fused kernels (cuDNN's
 * SDPA) write only their inputs' 16-bit dtype, and a block asked for in
 * f32 fell back to a far slower variant that also differs from the one a
 * single GPU runs. The block's rounding is the one the unsplit output
 * gets once. */
#include "workers/parallel/ring-attention.h"

#include "workers/parallel/lse-merge.h"
#include "workers/parallel/parallel-util.h"

static RlStatus
check_shapes (const RlTensor *out, const RlTensor *lse, const RlTensor *q,
              const RlTensor *k, const RlTensor *v)
{
  char dq[RL_TENSOR_DESCRIBE_SIZE], dk[RL_TENSOR_DESCRIBE_SIZE];
  char dv[RL_TENSOR_DESCRIBE_SIZE], dout[RL_TENSOR_DESCRIBE_SIZE];

  if (out == NULL || q == NULL || k == NULL || v == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "ring attention: out, q, k and v are required");
  bool ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && out->ndim == 4
            && k->shape[0] == q->shape[0] && v->shape[0] == q->shape[0]
            && k->shape[1] == q->shape[1] && v->shape[1] == q->shape[1]
            && k->shape[2] == q->shape[2] && v->shape[2] == q->shape[2]
            && k->shape[3] == q->shape[3]
            && out->shape[0] == q->shape[0] && out->shape[1] == q->shape[1]
            && out->shape[2] == q->shape[2] && out->shape[3] == v->shape[3];
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "ring attention: need q [B,Lb,H,D], k [B,Lb,H,D], "
                         "v [B,Lb,H,Dv], out [B,Lb,H,Dv] (one block of the same "
                         "tokens); got q %s k %s v %s out %s",
                         rl_tensor_describe (q, dq, sizeof dq),
                         rl_tensor_describe (k, dk, sizeof dk),
                         rl_tensor_describe (v, dv, sizeof dv),
                         rl_tensor_describe (out, dout, sizeof dout));
  if (lse != NULL && (lse->dtype != RL_F32 || lse->ndim != 3 || lse->shape[0] != q->shape[0]
                      || lse->shape[1] != q->shape[2] || lse->shape[2] != q->shape[1]))
    return rl_set_error (RL_E_SHAPE, "ring attention: lse %s must be f32 [%lld, %lld, %lld]",
                         rl_tensor_describe (lse, dq, sizeof dq), (long long) q->shape[0],
                         (long long) q->shape[2], (long long) q->shape[1]);
  return RL_OK;
}

/* Attention of q to the first `valid` keys of (k, v). */
static RlStatus
block_attention (const RlBackend *backend, RlContext *ctx, RlTensor *out,
                 RlTensor *lse, const RlTensor *q, const RlTensor *k,
                 const RlTensor *v, int64_t valid, float scale)
{
  RlTensor kv_views[2] = { { 0 }, { 0 } }, dense[2] = { { 0 }, { 0 } };
  const RlTensor *use_k = k, *use_v = v;
  RlStatus status = RL_OK;

  if (valid < k->shape[1]) {
    if ((status = rl_tensor_narrow (&kv_views[0], k, 1, 0, valid)) != RL_OK
        || (status = rl_tensor_narrow (&kv_views[1], v, 1, 0, valid)) != RL_OK)
      goto done;
    /* Narrowing the token axis keeps batch 1 contiguous; B > 1 needs a copy. */
    if (rl_tensor_is_contiguous (&kv_views[0]) && rl_tensor_is_contiguous (&kv_views[1])) {
      use_k = &kv_views[0];
      use_v = &kv_views[1];
    } else {
      if ((status = pl_contiguous (backend, ctx, &dense[0], &kv_views[0])) != RL_OK
          || (status = pl_contiguous (backend, ctx, &dense[1], &kv_views[1])) != RL_OK)
        goto done;
      use_k = &dense[0];
      use_v = &dense[1];
    }
  }
  status = backend->ops->attention (ctx, out, lse, q, use_k, use_v, scale);
done:
  for (int i = 0; i < 2; i++) {
    rl_tensor_release (&kv_views[i]);
    rl_tensor_release (&dense[i]);
  }
  return status;
}

/* One byte buffer holding a key block then a value block (256-byte
 * aligned), so each ring step is a single transfer; kview and vview are
 * views of its two parts shaped like k and v. */
static RlStatus
packed_kv (const RlBackend *backend, RlContext *ctx, RlTensor *bytes,
           RlTensor *kview, RlTensor *vview, const RlTensor *k, const RlTensor *v)
{
  size_t kb = (size_t) rl_tensor_numel (k) * rl_dtype_block_bytes (k->dtype);
  size_t vb = (size_t) rl_tensor_numel (v) * rl_dtype_block_bytes (v->dtype);
  size_t v_at = (kb + 255) / 256 * 256;
  int64_t total = (int64_t) (v_at + vb);
  RlStatus status = pl_alloc (backend, ctx, bytes, RL_U8, 1, &total);

  if (status == RL_OK)
    status = rl_tensor_wrap (kview, bytes->data, bytes->device, k->dtype, 4, k->shape,
                             NULL, bytes->storage);
  if (status == RL_OK)
    status = rl_tensor_wrap (vview, (char *) bytes->data + v_at, bytes->device, v->dtype,
                             4, v->shape, NULL, bytes->storage);
  return status;
}

static int64_t
valid_keys (int64_t length, int64_t block, int64_t block_len)
{
  int64_t valid = length - block * block_len;
  return valid < 0 ? 0 : valid > block_len ? block_len : valid;
}

RlStatus
rl_ring_attention (const RlBackend *backend, RlContext *ctx, RlComm *ring,
                   int64_t length, RlTensor *out, RlTensor *lse, const RlTensor *q,
                   const RlTensor *k, const RlTensor *v, float scale)
{
  RlStatus status;

  if ((status = pl_check_backend ("ring attention", backend, ctx)) != RL_OK
      || (status = check_shapes (out, lse, q, k, v)) != RL_OK)
    return status;
  int size = ring != NULL ? rl_comm_size (ring) : 1;
  int rank = ring != NULL ? rl_comm_rank (ring) : 0;
  int64_t block_len = q->shape[1];
  if (length < 1 || length > block_len * size)
    return rl_set_error (RL_E_INVALID_ARG, "ring attention: %lld real tokens do not "
                         "fit %d blocks of %lld", (long long) length, size,
                         (long long) block_len);
  if (size == 1)
    return block_attention (backend, ctx, out, lse, q, k, v,
                            valid_keys (length, 0, block_len), scale);

  /* Running result, one partial result, a block's result in out's dtype
   * when that is not f32, and two packed k|v buffers. */
  RlTensor acc_out = { 0 }, acc_lse = { 0 }, part_out = { 0 }, part_lse = { 0 };
  RlTensor block_out = { 0 };
  RlTensor kv[2] = { { 0 }, { 0 } }, kv_k[2] = { { 0 }, { 0 } }, kv_v[2] = { { 0 }, { 0 } };
  int64_t lse_shape[3] = { q->shape[0], q->shape[2], q->shape[1] };
  bool widen = out->dtype != RL_F32;
  if ((status = pl_alloc (backend, ctx, &acc_out, RL_F32, 4, out->shape)) != RL_OK
      || (status = pl_alloc (backend, ctx, &part_out, RL_F32, 4, out->shape)) != RL_OK
      || (status = pl_alloc (backend, ctx, &acc_lse, RL_F32, 3, lse_shape)) != RL_OK
      || (status = pl_alloc (backend, ctx, &part_lse, RL_F32, 3, lse_shape)) != RL_OK
      || (widen && (status = pl_alloc (backend, ctx, &block_out, out->dtype, 4,
                                       out->shape)) != RL_OK))
    goto done;
  for (int i = 0; i < 2; i++)
    if ((status = packed_kv (backend, ctx, &kv[i], &kv_k[i], &kv_v[i], k, v)) != RL_OK)
      goto done;
  if ((status = backend->ops->copy (ctx, &kv_k[0], k)) != RL_OK
      || (status = backend->ops->copy (ctx, &kv_v[0], v)) != RL_OK)
    goto done;

  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  bool have = false;
  for (int step = 0; step < size && status == RL_OK; step++) {
    int cur = step % 2, nxt = 1 - cur;
    /* The next block moves while this one is attended to. */
    if (step + 1 < size
        && (status = rl_comm_sendrecv_start (ring, &kv[cur], next, &kv[nxt], prev)) != RL_OK)
      break;
    int64_t block = (rank - step + size) % size;
    int64_t valid = valid_keys (length, block, block_len);
    if (valid > 0) {
      RlTensor *result = have ? &part_out : &acc_out;
      status = block_attention (backend, ctx, widen ? &block_out : result,
                                have ? &part_lse : &acc_lse, q, &kv_k[cur], &kv_v[cur],
                                valid, scale);
      if (status == RL_OK && widen)
        status = backend->ops->convert (ctx, result, &block_out);
      if (status == RL_OK && have)
        status = rl_lse_merge (backend, ctx, &acc_out, &acc_lse, &part_out, &part_lse);
      have = true;
    }
    /* Always complete a started transfer before its buffers can go. */
    RlStatus waited = step + 1 < size ? rl_comm_wait (ring) : RL_OK;
    if (status == RL_OK)
      status = waited;
  }
  if (status == RL_OK)
    status = backend->ops->convert (ctx, out, &acc_out);
  if (status == RL_OK && lse != NULL)
    status = backend->ops->copy (ctx, lse, &acc_lse);
  if (status != RL_OK)
    rl_prefix_error (status, "ring attention (rank %d of %d): ", rank, size);
done:
  rl_tensor_release (&acc_out);
  rl_tensor_release (&acc_lse);
  rl_tensor_release (&part_out);
  rl_tensor_release (&part_lse);
  rl_tensor_release (&block_out);
  for (int i = 0; i < 2; i++) {
    rl_tensor_release (&kv_k[i]);
    rl_tensor_release (&kv_v[i]);
    rl_tensor_release (&kv[i]);
  }
  return status;
}
