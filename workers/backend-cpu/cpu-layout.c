/* Data movement: copy, dtype conversion (incl. dequantisation), concat,
 * pad, nearest 2× upsampling and embedding lookup. */
#include "workers/backend-cpu/cpu-internal.h"

#include <math.h>

/* Byte offset of the first element of outer row r (all dims but the last). */
static int64_t
row_byte_offset (const RlTensor *t, int64_t r)
{
  int64_t index[RL_MAX_DIMS] = { 0 };
  int64_t rest = r;
  for (int d = t->ndim - 2; d >= 0; d--)
    {
      index[d] = rest % t->shape[d];
      rest /= t->shape[d];
    }
  return rl_tensor_byte_offset (t, index);
}

RlStatus
cpu_copy (RlContext *ctx, RlTensor *dst, const RlTensor *src)
{
  const char *op = "copy";
  RlStatus st;

  if ((st = cpu_check (op, "dst", dst, 0)) != RL_OK
      || (st = cpu_check (op, "src", src, 0)) != RL_OK
      || (st = cpu_check_same_shape (op, "dst", dst, "src", src)) != RL_OK)
    return st;
  if (dst->dtype != src->dtype)
    return rl_set_error (RL_E_DTYPE, "copy: dst is %s but src is %s; use convert",
                         rl_dtype_name (dst->dtype), rl_dtype_name (src->dtype));
  int64_t numel = rl_tensor_numel (src);
  if (numel == 0)
    return RL_OK;
  if (rl_tensor_is_contiguous (dst) && rl_tensor_is_contiguous (src))
    {
      memmove (dst->data, src->data, rl_tensor_nbytes (src));
      return RL_OK;
    }
  int last = src->ndim - 1;
  int64_t n = src->ndim > 0 ? src->shape[last] : 1;
  int64_t rows = numel / n;
  bool rows_contiguous = src->ndim == 0 || (src->strides[last] == 1 && dst->strides[last] == 1)
                         || n == 1;
  size_t elem = rl_dtype_block_bytes (src->dtype);
  if (rl_dtype_is_quantized (src->dtype))
    {
      /* Views of block tensors always keep rows contiguous (tensor.h). */
      size_t row_bytes = (size_t) (n / rl_dtype_block_elems (src->dtype)) * elem;
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < rows; r++)
        memcpy ((char *) dst->data + row_byte_offset (dst, r),
                (const char *) src->data + row_byte_offset (src, r), row_bytes);
      return RL_OK;
    }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++)
    {
      char *d = (char *) dst->data + row_byte_offset (dst, r);
      const char *s = (const char *) src->data + row_byte_offset (src, r);
      if (rows_contiguous)
        memcpy (d, s, (size_t) n * elem);
      else
        for (int64_t i = 0; i < n; i++)
          memcpy (d + i * dst->strides[last] * (int64_t) elem,
                  s + i * src->strides[last] * (int64_t) elem, elem);
    }
  return RL_OK;
}

static int64_t
load_int (RlDType dtype, const void *base, int64_t index)
{
  switch (dtype)
    {
    case RL_I8:   return ((const int8_t *) base)[index];
    case RL_I16:  return ((const int16_t *) base)[index];
    case RL_I32:  return ((const int32_t *) base)[index];
    case RL_I64:  return ((const int64_t *) base)[index];
    case RL_U8:   return ((const uint8_t *) base)[index];
    case RL_BOOL: return ((const uint8_t *) base)[index] != 0;
    default:      return 0;
    }
}

static void
store_int (RlDType dtype, void *base, int64_t index, int64_t v)
{
#define CLAMP_(lo, hi) (v < (lo) ? (lo) : v > (hi) ? (hi) : v)
  switch (dtype)
    {
    case RL_I8:   ((int8_t *) base)[index] = (int8_t) CLAMP_ (INT8_MIN, INT8_MAX); break;
    case RL_I16:  ((int16_t *) base)[index] = (int16_t) CLAMP_ (INT16_MIN, INT16_MAX); break;
    case RL_I32:  ((int32_t *) base)[index] = (int32_t) CLAMP_ (INT32_MIN, INT32_MAX); break;
    case RL_I64:  ((int64_t *) base)[index] = v; break;
    case RL_U8:   ((uint8_t *) base)[index] = (uint8_t) CLAMP_ (0, UINT8_MAX); break;
    case RL_BOOL: ((uint8_t *) base)[index] = v != 0; break;
    default:      break;
    }
#undef CLAMP_
}

RlStatus
cpu_convert (RlContext *ctx, RlTensor *dst, const RlTensor *src)
{
  const char *op = "convert";
  RlStatus st;

  if ((st = cpu_check (op, "dst", dst, CPU_PLAIN)) != RL_OK
      || (st = cpu_check (op, "src", src, 0)) != RL_OK
      || (st = cpu_check_same_shape (op, "dst", dst, "src", src)) != RL_OK)
    return st;
  if (rl_dtype_block_elems (src->dtype) == 0)
    return rl_set_error (RL_E_DTYPE, "convert: src has an invalid dtype");
  float src_scale = rl_tensor_scale (src);
  float dst_scale = rl_tensor_scale (dst);
  if (dst->dtype == src->dtype && src_scale == dst_scale)
    return cpu_copy (ctx, dst, src);
  int64_t numel = rl_tensor_numel (src);
  if (numel == 0)
    return RL_OK;
  int last = src->ndim - 1;
  int64_t n = src->ndim > 0 ? src->shape[last] : 1;
  int64_t rows = numel / n;
  int64_t s_step = src->ndim > 0 ? src->strides[last] : 1;
  int64_t d_step = dst->ndim > 0 ? dst->strides[last] : 1;
  bool quantized = rl_dtype_is_quantized (src->dtype);

  if (rl_dtype_is_integer (src->dtype) && rl_dtype_is_integer (dst->dtype))
    {
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < rows; r++)
        {
          int64_t so = cpu_outer_offset (last, src->shape, src->strides, r);
          int64_t dof = cpu_outer_offset (last, dst->shape, dst->strides, r);
          for (int64_t i = 0; i < n; i++)
            store_int (dst->dtype, dst->data, dof + i * d_step,
                       load_int (src->dtype, src->data, so + i * s_step));
        }
      return RL_OK;
    }

  float *scratch;
  int threads = cpu_thread_count ();
  if ((st = cpu_scratch (ctx, (size_t) (threads * n) * sizeof (float), (void **) &scratch)) != RL_OK)
    return st;
  int failed = 0;
#pragma omp parallel for schedule(static) reduction(|:failed)
  for (int64_t r = 0; r < rows; r++)
    {
      float *row = scratch + cpu_thread_slot () * n;
      if (quantized)
        failed |= cpu_dequantize (src->dtype, (const char *) src->data + row_byte_offset (src, r),
                                  n, row) != RL_OK;
      else
        cpu_load_row (src->dtype, src->data, cpu_outer_offset (last, src->shape, src->strides, r),
                      s_step, n, row);
      if (src_scale != 1.0f)
        for (int64_t i = 0; i < n; i++)
          row[i] *= src_scale;
      int64_t dof = cpu_outer_offset (last, dst->shape, dst->strides, r);
      size_t size = rl_dtype_block_bytes (dst->dtype);
      if (d_step == 1)
        rl_convert_row_from_f32 (dst->dtype, (char *) dst->data + dof * (int64_t) size, row, n, dst_scale);
      else
        for (int64_t i = 0; i < n; i++)
          rl_convert_row_from_f32 (dst->dtype, (char *) dst->data + (dof + i * d_step) * (int64_t) size,
                                   row + i, 1, dst_scale);
    }
  cpu_scratch_free (ctx, scratch);
  if (failed)
    {
      char ds[RL_TENSOR_DESCRIBE_SIZE];
      /* Re-run one row serially to get this thread's error message. */
      float probe[256];
      RlStatus why = cpu_dequantize (src->dtype, src->data, rl_dtype_block_elems (src->dtype), probe);
      return rl_prefix_error (why != RL_OK ? why : RL_E_INTERNAL, "convert: dequantising %s: ",
                              rl_tensor_describe (src, ds, sizeof ds));
    }
  return RL_OK;
}

RlStatus
cpu_concat (RlContext *ctx, RlTensor *y, const RlTensor *const *inputs, int n, int dim)
{
  const char *op = "concat";
  char dy[RL_TENSOR_DESCRIBE_SIZE], di[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_PLAIN)) != RL_OK)
    return st;
  int d = dim < 0 ? dim + y->ndim : dim;
  if (d < 0 || d >= y->ndim || n < 0 || (n > 0 && inputs == NULL))
    return rl_set_error (RL_E_INVALID_ARG, "concat: dim %d / %d inputs invalid for y %s", dim, n,
                         rl_tensor_describe (y, dy, sizeof dy));
  int64_t total = 0;
  for (int i = 0; i < n; i++)
    {
      const RlTensor *t = inputs[i];
      if ((st = cpu_check (op, "input", t, 0)) != RL_OK)
        return rl_prefix_error (st, "input %d: ", i);
      bool ok = t->ndim == y->ndim;
      for (int e = 0; ok && e < y->ndim; e++)
        ok = e == d || t->shape[e] == y->shape[e];
      if (!ok)
        return rl_set_error (RL_E_SHAPE, "concat: input %d %s does not fit y %s along dim %d", i,
                             rl_tensor_describe (t, di, sizeof di), rl_tensor_describe (y, dy, sizeof dy), d);
      total += t->shape[d];
    }
  if (total != y->shape[d])
    return rl_set_error (RL_E_SHAPE, "concat: inputs add up to %lld along dim %d but y %s has %lld",
                         (long long) total, d, rl_tensor_describe (y, dy, sizeof dy),
                         (long long) y->shape[d]);
  int64_t start = 0;
  for (int i = 0; i < n; i++)
    {
      RlTensor part = { 0 };
      if ((st = rl_tensor_narrow (&part, y, d, start, inputs[i]->shape[d])) != RL_OK)
        return st;
      st = cpu_convert (ctx, &part, inputs[i]);
      rl_tensor_release (&part);
      if (st != RL_OK)
        return rl_prefix_error (st, "concat input %d: ", i);
      start += inputs[i]->shape[d];
    }
  return RL_OK;
}

/* Source index for output index i on a dim of size `size` padded by
 * `before`; -1 means "outside, use the constant". */
static int64_t
pad_source (int64_t i, int64_t before, int64_t size, RlPadMode mode)
{
  int64_t s = i - before;
  if (s >= 0 && s < size)
    return s;
  if (size == 0)
    return -1;
  switch (mode)
    {
    case RL_PAD_REPLICATE:
      return s < 0 ? 0 : size - 1;
    case RL_PAD_CIRCULAR:
      return ((s % size) + size) % size;
    case RL_PAD_CONSTANT:
    default:
      return -1;
    }
}

RlStatus
cpu_pad (RlContext *ctx, RlTensor *y, const RlTensor *x, const int64_t *pad_before,
         const int64_t *pad_after, RlPadMode mode, float value)
{
  const char *op = "pad";
  char dx[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_FLOAT8)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT | CPU_FLOAT8)) != RL_OK)
    return st;
  if (pad_before == NULL || pad_after == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "pad: pad_before and pad_after are required");
  if (mode < RL_PAD_CONSTANT || mode > RL_PAD_CIRCULAR)
    return rl_set_error (RL_E_INVALID_ARG, "pad: unknown mode %d", (int) mode);
  bool ok = x->ndim == y->ndim && x->ndim > 0;
  for (int d = 0; ok && d < x->ndim; d++)
    ok = x->shape[d] + pad_before[d] + pad_after[d] == y->shape[d];
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "pad: x %s with the given padding does not give y %s",
                         rl_tensor_describe (x, dx, sizeof dx), rl_tensor_describe (y, dy, sizeof dy));
  int last = y->ndim - 1;
  int64_t ny = y->shape[last], nx = x->shape[last];
  int64_t rows = ny > 0 ? rl_tensor_numel (y) / ny : 0;
  float scale = rl_tensor_scale (x);
  float *scratch;
  int threads = cpu_thread_count ();

  if ((st = cpu_scratch (ctx, (size_t) (threads * (nx + ny + 1)) * sizeof (float),
                         (void **) &scratch)) != RL_OK)
    return st;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++)
    {
      float *out = scratch + cpu_thread_slot () * (nx + ny + 1);
      float *in = out + ny;
      int64_t src_off = 0;
      bool inside = true;
      int64_t rest = r;
      for (int d = last - 1; d >= 0; d--)
        {
          int64_t i = rest % y->shape[d];
          rest /= y->shape[d];
          int64_t s = pad_source (i, pad_before[d], x->shape[d], mode);
          if (s < 0)
            inside = false;
          else
            src_off += s * x->strides[d];
        }
      if (inside && nx > 0)
        cpu_load_row (x->dtype, x->data, src_off, x->strides[last], nx, in);
      for (int64_t i = 0; i < ny; i++)
        {
          int64_t s = inside ? pad_source (i, pad_before[last], nx, mode) : -1;
          out[i] = s < 0 ? value : in[s] * scale;
        }
      cpu_store_row (y->dtype, y->data, cpu_outer_offset (last, y->shape, y->strides, r),
                     y->strides[last], ny, out);
    }
  cpu_scratch_free (ctx, scratch);
  return RL_OK;
}

RlStatus
cpu_upsample_nearest2x (RlContext *ctx, RlTensor *y, const RlTensor *x)
{
  const char *op = "upsample_nearest2x";
  char dx[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK)
    return st;
  bool ok = (x->ndim == 4 || x->ndim == 5) && y->ndim == x->ndim;
  for (int d = 0; ok && d < x->ndim; d++)
    ok = y->shape[d] == (d >= x->ndim - 2 ? 2 * x->shape[d] : x->shape[d]);
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "upsample_nearest2x: x %s must be 4-D/5-D and y %s twice its H and W",
                         rl_tensor_describe (x, dx, sizeof dx), rl_tensor_describe (y, dy, sizeof dy));
  int64_t h = x->shape[x->ndim - 2], w = x->shape[x->ndim - 1];
  int64_t planes = h * w > 0 ? rl_tensor_numel (x) / (h * w) : 0;
  float *scratch;
  int threads = cpu_thread_count ();
  if ((st = cpu_scratch (ctx, (size_t) (threads * 3 * w) * sizeof (float), (void **) &scratch)) != RL_OK)
    return st;
#pragma omp parallel for schedule(static)
  for (int64_t ph = 0; ph < planes * h; ph++)
    {
      float *in = scratch + cpu_thread_slot () * 3 * w;
      float *out = in + w;
      int64_t p = ph / h, row = ph % h;
      cpu_load_row (x->dtype, x->data, (p * h + row) * w, 1, w, in);
      for (int64_t i = 0; i < w; i++)
        out[2 * i] = out[2 * i + 1] = in[i];
      for (int k = 0; k < 2; k++)
        cpu_store_row (y->dtype, y->data, (p * 2 * h + 2 * row + k) * 2 * w, 1, 2 * w, out);
    }
  cpu_scratch_free (ctx, scratch);
  return RL_OK;
}

RlStatus
cpu_embedding (RlContext *ctx, RlTensor *y, const RlTensor *table, const RlTensor *ids)
{
  const char *op = "embedding";
  char dt[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "table", table, 0)) != RL_OK
      || (st = cpu_check (op, "ids", ids, CPU_INDEX | CPU_CONTIGUOUS)) != RL_OK)
    return st;
  bool quantized = rl_dtype_is_quantized (table->dtype);
  if (!quantized && (st = cpu_check (op, "table", table, CPU_FLOAT | CPU_FLOAT8)) != RL_OK)
    return st;
  if (quantized && !rl_tensor_is_contiguous (table))
    return rl_set_error (RL_E_NOT_CONTIGUOUS, "embedding: quantised table %s must be contiguous",
                         rl_tensor_describe (table, dt, sizeof dt));
  bool ok = table->ndim == 2 && y->ndim == ids->ndim + 1 && y->shape[y->ndim - 1] == table->shape[1];
  for (int d = 0; ok && d < ids->ndim; d++)
    ok = y->shape[d] == ids->shape[d];
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "embedding: table %s must be [V, D] and y %s [ids..., D]",
                         rl_tensor_describe (table, dt, sizeof dt), rl_tensor_describe (y, dy, sizeof dy));
  int64_t vocab = table->shape[0], d = table->shape[1];
  int64_t count = rl_tensor_numel (ids);
  for (int64_t i = 0; i < count; i++)
    {
      int64_t id = ids->dtype == RL_I32 ? ((const int32_t *) ids->data)[i]
                                        : ((const int64_t *) ids->data)[i];
      if (id < 0 || id >= vocab)
        return rl_set_error (RL_E_INVALID_ARG, "embedding: id %lld at position %lld is outside the vocabulary of %lld",
                             (long long) id, (long long) i, (long long) vocab);
    }
  float scale = rl_tensor_scale (table);
  float *scratch;
  int threads = cpu_thread_count ();
  size_t row_bytes = quantized ? (size_t) (d / rl_dtype_block_elems (table->dtype))
                                   * rl_dtype_block_bytes (table->dtype) : 0;
  int failed = 0;
  if ((st = cpu_scratch (ctx, (size_t) (threads * d) * sizeof (float), (void **) &scratch)) != RL_OK)
    return st;
#pragma omp parallel for schedule(static) reduction(|:failed)
  for (int64_t i = 0; i < count; i++)
    {
      float *row = scratch + cpu_thread_slot () * d;
      int64_t id = ids->dtype == RL_I32 ? ((const int32_t *) ids->data)[i]
                                        : ((const int64_t *) ids->data)[i];
      if (quantized)
        failed |= cpu_dequantize (table->dtype, (const char *) table->data + (size_t) id * row_bytes,
                                  d, row) != RL_OK;
      else
        cpu_load_row (table->dtype, table->data, id * table->strides[0], table->strides[1], d, row);
      if (scale != 1.0f)
        for (int64_t j = 0; j < d; j++)
          row[j] *= scale;
      cpu_store_row (y->dtype, y->data, i * d, 1, d, row);
    }
  cpu_scratch_free (ctx, scratch);
  if (failed)
    {
      /* Repeat one row on this thread for the dequantiser's message. */
      float probe[256];
      RlStatus why = cpu_dequantize (table->dtype, table->data, rl_dtype_block_elems (table->dtype), probe);
      return rl_prefix_error (why != RL_OK ? why : RL_E_INTERNAL, "embedding: dequantising %s: ",
                              rl_tensor_describe (table, dt, sizeof dt));
    }
  return RL_OK;
}
