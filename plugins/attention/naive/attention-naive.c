/* The `naive` attention variant: CUDA, obviously right rather than fast.
 * For each batch and each block of query rows:
 *   S = scale · Q Kᵀ     cuBLAS, f32 scores [H][rows][Lk]
 *   P = softmax(S)       naive-softmax.cu, P in the input dtype, LSE
 *   O = P V              cuBLAS, written straight into out (fp32 accumulate)
 * The query block is sized so S and P fit in a bounded workspace. */
#include <math.h>
#include <stdlib.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "plugins/attention/attention.h"
#include "plugins/attention/cuda-variant-util.h"
#include "plugins/attention/naive/naive-softmax.h"

const RlAttentionVariant *raylight_attention_variant (uint32_t host_abi_version);

/* Upper bound of the S + P workspace. */
#define NAIVE_WORKSPACE_BYTES ((size_t) 1 << 30)

struct RlAttentionInstance {
  int            device;
  cublasHandle_t blas;
  void          *workspace;
  size_t         workspace_bytes;
};

static int naive_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
                           size_t why_size);

static int
naive_open (int32_t device_index, RlAttentionInstance **out, char *error, size_t error_size)
{
  struct cudaDeviceProp properties;
  int result = rl_attention_cuda_device ("naive", device_index, &properties, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  RlAttentionInstance *instance = calloc (1, sizeof (RlAttentionInstance));
  if (instance == NULL)
    return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size, "naive: out of memory");
  instance->device = device_index;
  cudaSetDevice (device_index);
  cublasStatus_t status = cublasCreate (&instance->blas);
  if (status != CUBLAS_STATUS_SUCCESS)
    {
      free (instance);
      return rl_attention_fail (RL_ATTENTION_UNAVAILABLE, error, error_size,
                                "naive: cublasCreate failed (%d)", (int) status);
    }
  *out = instance;
  return RL_ATTENTION_OK;
}

static void
naive_close (RlAttentionInstance *instance)
{
  if (instance == NULL)
    return;
  cudaSetDevice (instance->device);
  cudaFree (instance->workspace);
  cublasDestroy (instance->blas);
  free (instance);
}

static double
naive_cost_hint (RlAttentionInstance *instance, const RlAttentionProblem *p)
{
  /* GEMMs near 300 TFLOP/s plus the score traffic (write S, read it three
   * times, write P) at about 2 TB/s. */
  double scores = (double) p->batch * p->heads * p->q_len * p->kv_len;
  return rl_attention_flops (p) / 300e12 * 1e3 + scores * 18.0 / 2e12 * 1e3;
}

static cudaDataType_t
blas_type (int32_t dtype)
{
  return dtype == RL_ATTENTION_BF16 ? CUDA_R_16BF : dtype == RL_ATTENTION_F16 ? CUDA_R_16F
                                                                             : CUDA_R_32F;
}

/* One batch, query rows [row0, row0 + rows), keys [0, keys). */
static int
naive_block (RlAttentionInstance *instance, const RlAttentionProblem *p,
             const RlAttentionArgs *args, int32_t b, int32_t row0, int32_t rows, int32_t keys,
             char *error, size_t error_size)
{
  size_t elem = rl_attention_dtype_size (p->qkv_dtype);
  size_t out_elem = rl_attention_dtype_size (p->out_dtype);
  int64_t hd = (int64_t) p->heads * p->head_dim, hdv = (int64_t) p->heads * p->v_head_dim;
  const char *q = (const char *) args->q + (((int64_t) b * p->q_len + row0) * hd) * elem;
  const char *k = (const char *) args->k + ((int64_t) b * p->kv_len * hd) * elem;
  const char *v = (const char *) args->v + ((int64_t) b * p->kv_len * hdv) * elem;
  char *out = (char *) args->out + (((int64_t) b * p->q_len + row0) * hdv) * out_elem;
  float *scores = instance->workspace;
  void *probs = scores + (int64_t) p->heads * rows * keys;
  cudaDataType_t type = blas_type (p->qkv_dtype);
  float alpha = p->scale, one = 1.0f, zero = 0.0f;
  /* Column-major view: Sᵀ (keys × rows) = Kᵀᵀ Q, per head (batched). */
  cublasStatus_t status = cublasGemmStridedBatchedEx (
      instance->blas, CUBLAS_OP_T, CUBLAS_OP_N, keys, rows, p->head_dim, &alpha,
      k, type, (int) hd, p->head_dim, q, type, (int) hd, p->head_dim, &zero,
      scores, CUDA_R_32F, keys, (int64_t) rows * keys, p->heads,
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (status != CUBLAS_STATUS_SUCCESS)
    return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size,
                              "naive: QKᵀ GEMM failed (%d) at batch %d rows %d+%d", (int) status,
                              b, row0, rows);
  float *lse = args->lse != NULL ? args->lse + (int64_t) b * p->heads * p->q_len + row0 : NULL;
  cudaError_t launch = rl_attention_naive_softmax (scores, probs, p->qkv_dtype, lse, p->q_len,
                                                   p->heads, rows, keys, args->stream);
  if (launch != cudaSuccess)
    return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size, "naive: softmax launch: %s",
                              cudaGetErrorString (launch));
  /* Column-major view: Oᵀ (Dv × rows) = Vᵀ Pᵀ, per head. */
  status = cublasGemmStridedBatchedEx (
      instance->blas, CUBLAS_OP_N, CUBLAS_OP_N, p->v_head_dim, rows, keys, &one,
      v, type, (int) hdv, p->v_head_dim, probs, type, keys, (int64_t) rows * keys, &zero,
      out, blas_type (p->out_dtype), (int) hdv, p->v_head_dim, p->heads,
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (status != CUBLAS_STATUS_SUCCESS)
    return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size,
                              "naive: PV GEMM failed (%d) at batch %d rows %d+%d", (int) status, b,
                              row0, rows);
  return RL_ATTENTION_OK;
}

/* A batch whose keys are all padding: out = 0, lse = −inf. */
static int
naive_empty_batch (const RlAttentionProblem *p, const RlAttentionArgs *args, int32_t b,
                   char *error, size_t error_size)
{
  size_t out_elem = rl_attention_dtype_size (p->out_dtype);
  size_t row_bytes = (size_t) p->q_len * p->heads * p->v_head_dim * out_elem;
  cudaError_t status = cudaMemsetAsync ((char *) args->out + b * row_bytes, 0, row_bytes,
                                        args->stream);
  if (status == cudaSuccess && args->lse != NULL)
    status = rl_attention_naive_softmax (NULL, NULL, p->qkv_dtype,
                                         args->lse + (int64_t) b * p->heads * p->q_len,
                                         p->q_len, p->heads, p->q_len, 0, args->stream);
  return status == cudaSuccess ? RL_ATTENTION_OK
                               : rl_attention_fail (RL_ATTENTION_FAILED, error, error_size,
                                                    "naive: clearing batch %d: %s", b,
                                                    cudaGetErrorString (status));
}

static int
naive_run (RlAttentionInstance *instance, const RlAttentionProblem *p, const RlAttentionArgs *args,
           char *error, size_t error_size)
{
  int result = rl_attention_check_run (raylight_attention_variant (RL_ATTENTION_ABI_VERSION),
                                       instance, p, args, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  cudaSetDevice (instance->device);
  cublasSetStream (instance->blas, (cudaStream_t) args->stream);
  size_t per_row = (size_t) p->heads * p->kv_len * (4 + rl_attention_dtype_size (p->qkv_dtype));
  int64_t rows = (int64_t) (NAIVE_WORKSPACE_BYTES / per_row);
  rows = rows > p->q_len ? p->q_len : rows > 64 ? rows / 64 * 64 : rows < 1 ? 1 : rows;
  result = rl_attention_cuda_grow (&instance->workspace, &instance->workspace_bytes,
                                   rows * per_row + 256, "naive", "workspace", error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  for (int32_t b = 0; b < p->batch && result == RL_ATTENTION_OK; b++)
    {
      int32_t keys = rl_attention_keys_of (p, args, b);
      if (keys == 0)
        {
          result = naive_empty_batch (p, args, b, error, error_size);
          continue;
        }
      for (int32_t row0 = 0; row0 < p->q_len && result == RL_ATTENTION_OK; row0 += (int32_t) rows)
        {
          int32_t count = (int32_t) (p->q_len - row0 < rows ? p->q_len - row0 : rows);
          result = naive_block (instance, p, args, b, row0, count, keys, error, error_size);
        }
    }
  return result;
}

static const RlAttentionVariant naive_variant = {
  .abi_version = RL_ATTENTION_ABI_VERSION,
  .struct_size = sizeof (RlAttentionVariant),
  .name = "naive",
  .description = "CUDA: cuBLAS QKᵀ, softmax kernel, cuBLAS PV in blocks of query rows",
  .backend = RL_ATTENTION_BACKEND_CUDA,
  .qkv_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F32) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16)
                | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .out_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F32) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16)
                | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .head_dims = NULL,
  .max_head_dim = 512,
  .min_compute_capability = 50,
  .supports_kv_lengths = 1,
  .open = naive_open,
  .close = naive_close,
  .supports = naive_supports,
  .cost_hint = naive_cost_hint,
  .run = naive_run,
};

static int
naive_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
                size_t why_size)
{
  int result = rl_attention_check_declared (&naive_variant, p, why, why_size);
  if (result != RL_ATTENTION_OK)
    return result;
  if (p->out_dtype != p->qkv_dtype && p->out_dtype != RL_ATTENTION_F32)
    return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                              "naive: output must be %s or f32, not %s",
                              rl_attention_dtype_name (p->qkv_dtype),
                              rl_attention_dtype_name (p->out_dtype));
  return rl_attention_check_device ("naive", instance->device, p, why, why_size);
}

const RlAttentionVariant *
raylight_attention_variant (uint32_t host_abi_version)
{
  return host_abi_version == RL_ATTENTION_ABI_VERSION ? &naive_variant : NULL;
}
