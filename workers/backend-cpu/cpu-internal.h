/* Shared helpers of the CPU backend: the context, argument checks, and
 * row loads/stores between any plain dtype and f32. Private to
 * workers/backend-cpu. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <omp.h>

#include "workers/runtime/backend.h"
#include "workers/runtime/float-convert.h"
#include "workers/runtime/ops.h"
#include "workers/runtime/tensor.h"

struct RlContext {
  RlAllocator *allocator;   /* owned: host caching allocator */
};

/* Flags for cpu_check. */
enum {
  CPU_FLOAT      = 1 << 0,   /* f32, f16 or bf16 */
  CPU_FLOAT8     = 1 << 1,   /* also f8_e4m3fn / f8_e5m2 */
  CPU_CONTIGUOUS = 1 << 2,
  CPU_PLAIN      = 1 << 3,   /* any non-block dtype */
  CPU_INDEX      = 1 << 4,   /* i32 or i64 */
};

/* Validates one argument: non-NULL, on the CPU, dtype and layout per
 * `flags`. Sets an error naming op and argument. */
RlStatus cpu_check          (const char *op, const char *arg,
                             const RlTensor *t, unsigned flags);

/* Requires a.shape == b.shape. */
RlStatus cpu_check_same_shape (const char *op, const char *name_a,
                               const RlTensor *a, const char *name_b,
                               const RlTensor *b);

/* Requires t to be `ndim`-D with the given sizes (-1 = any). */
RlStatus cpu_check_dims     (const char *op, const char *arg,
                             const RlTensor *t, int ndim,
                             const int64_t *sizes);

/* Element `index` of a plain-dtype buffer, as f32 (no scale). */
float    cpu_load           (RlDType dtype, const void *base, int64_t index);

/* Stores v at element `index` of a plain-dtype buffer (RNE rounding). */
void     cpu_store          (RlDType dtype, void *base, int64_t index,
                             float v);

/* n elements starting at element `start`, `stride` apart, to/from f32. */
void     cpu_load_row       (RlDType dtype, const void *base, int64_t start,
                             int64_t stride, int64_t n, float *out);
void     cpu_store_row      (RlDType dtype, void *base, int64_t start,
                             int64_t stride, int64_t n, const float *in);

/* Element offset of outer index `o` (row-major over dims [0, ndim)). */
int64_t  cpu_outer_offset   (int ndim, const int64_t *shape,
                             const int64_t *strides, int64_t o);

/* Scratch memory from the context's allocator. */
RlStatus cpu_scratch        (RlContext *ctx, size_t bytes, void **out);
void     cpu_scratch_free   (RlContext *ctx, void *ptr);

/* A dense row-major f32 copy of `t` (any strides, any plain or GGUF dtype,
 * scale applied), or t->data itself when it already is one (*owned false).
 * Free with cpu_dense_f32_free. */
RlStatus cpu_dense_f32      (RlContext *ctx, const RlTensor *t,
                             float **out, bool *owned);
void     cpu_dense_f32_free (RlContext *ctx, float *data, bool owned);

/* Decodes `n` elements of row-contiguous GGUF blocks to f32; the
 * dequantisers live in workers/checkpoint. */
RlStatus cpu_dequantize     (RlDType dtype, const void *src, int64_t n,
                             float *dst);

/* Number of threads the OpenMP loops use (fixed per process), and this
 * thread's index below it: per-thread scratch slots. */
int      cpu_thread_count   (void);

static inline int64_t
cpu_thread_slot (void)
{
  return omp_get_thread_num ();
}

/* Op entry points, one per RlOps member, defined across the cpu-*.c files. */
RlStatus cpu_gemm               (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, RlActivation);
RlStatus cpu_batched_gemm       (RlContext *, RlTensor *, const RlTensor *, bool, const RlTensor *, bool, float, float);
RlStatus cpu_layer_norm         (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, float);
RlStatus cpu_rms_norm           (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, float);
RlStatus cpu_norm_modulate      (RlContext *, RlTensor *, const RlTensor *, RlNormKind, const RlTensor *, const RlTensor *, float, const RlTensor *, const RlTensor *, RlTokenGroups);
RlStatus cpu_gated_residual     (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, RlTokenGroups);
RlStatus cpu_group_norm         (RlContext *, RlTensor *, const RlTensor *, int, const RlTensor *, const RlTensor *, float);
RlStatus cpu_channel_rms_norm   (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, float);
RlStatus cpu_rope               (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *);
RlStatus cpu_softmax            (RlContext *, RlTensor *, const RlTensor *);
RlStatus cpu_add                (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, float, float);
RlStatus cpu_mul                (RlContext *, RlTensor *, const RlTensor *, const RlTensor *);
RlStatus cpu_activation         (RlContext *, RlTensor *, const RlTensor *, RlActivation);
RlStatus cpu_scale_shift        (RlContext *, RlTensor *, const RlTensor *, float, float);
RlStatus cpu_embedding          (RlContext *, RlTensor *, const RlTensor *, const RlTensor *);
RlStatus cpu_copy               (RlContext *, RlTensor *, const RlTensor *);
RlStatus cpu_convert            (RlContext *, RlTensor *, const RlTensor *);
RlStatus cpu_concat             (RlContext *, RlTensor *, const RlTensor *const *, int, int);
RlStatus cpu_pad                (RlContext *, RlTensor *, const RlTensor *, const int64_t *, const int64_t *, RlPadMode, float);
RlStatus cpu_fill               (RlContext *, RlTensor *, float);
RlStatus cpu_upsample_nearest2x (RlContext *, RlTensor *, const RlTensor *);
RlStatus cpu_conv2d             (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, const RlConvParams *);
RlStatus cpu_conv3d             (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, const RlConvParams *);
RlStatus cpu_reduce             (RlContext *, RlTensor *, const RlTensor *, int, RlReduceKind);
RlStatus cpu_attention          (RlContext *, RlTensor *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, float);

/* Activation functions in f32 (shared by gemm epilogues and activation). */
float    cpu_activate       (RlActivation act, float x);
