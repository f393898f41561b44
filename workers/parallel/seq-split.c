/* The sequence-split rule (seq-split.h). */
#include "workers/parallel/seq-split.h"

#include "workers/parallel/parallel-util.h"

RlStatus
rl_seq_split (int64_t length, int parts, int index, RlSeqSplit *out)
{
  if (out == NULL || length < 1 || parts < 1 || index < 0 || index >= parts)
    return rl_set_error (RL_E_INVALID_ARG, "sequence split: part %d of %d of a "
                         "%lld-token sequence is not valid (need length >= 1, "
                         "0 <= index < parts)", index, parts, (long long) length);
  int64_t padded = (length + parts - 1) / parts * parts;
  int64_t local = padded / parts;
  int64_t offset = local * index;
  int64_t valid = length - offset;
  *out = (RlSeqSplit) {
    .length = length,
    .padded_length = padded,
    .local_length = local,
    .offset = offset,
    .valid_length = valid < 0 ? 0 : valid > local ? local : valid,
    .parts = parts,
    .index = index,
  };
  return RL_OK;
}

RlTokenGroups
rl_seq_split_token_groups (const RlSeqSplit *split, int64_t tokens_per_group)
{
  return (RlTokenGroups) { tokens_per_group, split->offset };
}

/* local and full agree on everything but the token axis. */
static RlStatus
check_pair (const char *op, const RlTensor *local, const RlTensor *full,
            const RlSeqSplit *split)
{
  char a[RL_TENSOR_DESCRIBE_SIZE], b[RL_TENSOR_DESCRIBE_SIZE];
  bool ok = local != NULL && full != NULL && split != NULL
            && local->ndim == full->ndim && local->ndim >= 2
            && local->ndim < RL_MAX_DIMS && local->dtype == full->dtype
            && local->shape[0] == full->shape[0]
            && local->shape[1] == split->local_length
            && full->shape[1] == split->length;
  for (int d = 2; ok && d < local->ndim; d++)
    ok = local->shape[d] == full->shape[d];
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "%s: local %s and full %s must be [B, %lld, ...] "
                         "and [B, %lld, ...] with the same dtype and trailing dims",
                         op, local != NULL ? rl_tensor_describe (local, a, sizeof a) : "NULL",
                         full != NULL ? rl_tensor_describe (full, b, sizeof b) : "NULL",
                         split != NULL ? (long long) split->local_length : -1LL,
                         split != NULL ? (long long) split->length : -1LL);
  return RL_OK;
}

RlStatus
rl_seq_split_take (const RlBackend *backend, RlContext *ctx, RlTensor *local,
                   const RlTensor *full, const RlSeqSplit *split)
{
  RlTensor src = { 0 }, dst = { 0 }, pad = { 0 };
  RlStatus status;

  if ((status = pl_check_backend ("sequence split take", backend, ctx)) != RL_OK
      || (status = check_pair ("sequence split take", local, full, split)) != RL_OK)
    return status;
  if (split->valid_length > 0) {
    if ((status = rl_tensor_narrow (&src, full, 1, split->offset, split->valid_length)) != RL_OK
        || (status = rl_tensor_narrow (&dst, local, 1, 0, split->valid_length)) != RL_OK
        || (status = backend->ops->copy (ctx, &dst, &src)) != RL_OK)
      goto done;
  }
  if (split->valid_length < split->local_length) {
    if ((status = rl_tensor_narrow (&pad, local, 1, split->valid_length,
                                    split->local_length - split->valid_length)) != RL_OK
        || (status = backend->ops->fill (ctx, &pad, 0.0f)) != RL_OK)
      goto done;
  }
done:
  rl_tensor_release (&src);
  rl_tensor_release (&dst);
  rl_tensor_release (&pad);
  return status;
}

RlStatus
rl_seq_split_gather (const RlBackend *backend, RlContext *ctx, RlComm *comm,
                     RlTensor *full, const RlTensor *local, const RlSeqSplit *split)
{
  RlTensor gathered = { 0 }, part = { 0 }, src = { 0 }, dst = { 0 };
  int64_t shape[RL_MAX_DIMS];
  RlStatus status;

  if ((status = pl_check_backend ("sequence split gather", backend, ctx)) != RL_OK
      || (status = check_pair ("sequence split gather", local, full, split)) != RL_OK)
    return status;
  if (comm == NULL || rl_comm_size (comm) != split->parts
      || rl_comm_rank (comm) != split->index)
    return rl_set_error (RL_E_INVALID_ARG, "sequence split gather: the "
                         "communicator must have one rank per part (%d) and "
                         "this rank must be part %d", split->parts, split->index);
  shape[0] = split->parts;
  for (int d = 0; d < local->ndim; d++)
    shape[d + 1] = local->shape[d];
  if ((status = pl_alloc (backend, ctx, &gathered, local->dtype, local->ndim + 1, shape)) != RL_OK)
    return status;
  if ((status = rl_comm_all_gather (comm, &gathered, local)) != RL_OK)
    goto done;
  for (int p = 0; p < split->parts; p++) {
    RlSeqSplit other;
    rl_seq_split (split->length, split->parts, p, &other);
    if (other.valid_length == 0)
      continue;
    if ((status = rl_tensor_narrow (&part, &gathered, 0, p, 1)) != RL_OK
        || (status = rl_tensor_reshape (&part, &part, local->ndim, local->shape)) != RL_OK
        || (status = rl_tensor_narrow (&src, &part, 1, 0, other.valid_length)) != RL_OK
        || (status = rl_tensor_narrow (&dst, full, 1, other.offset, other.valid_length)) != RL_OK
        || (status = backend->ops->copy (ctx, &dst, &src)) != RL_OK)
      goto done;
  }
done:
  rl_tensor_release (&gathered);
  rl_tensor_release (&part);
  rl_tensor_release (&src);
  rl_tensor_release (&dst);
  return status;
}
