/* The `cudnn` attention variant: cuDNN's fused scaled-dot-product
 * attention, built as an operation graph through the cuDNN backend C API
 * and run by whatever fused engine cuDNN's heuristics pick.
 *
 * libcudnn is opened with dlopen at run time ($RAYLIGHT_CUDNN_LIBRARY, else
 * libcudnn.so.9, else libcudnn.so), so this module loads on machines
 * without cuDNN and reports "not available" there. Types and enums come
 * from cudnn_graph.h; no symbol of it is linked.
 *
 * The graph is the decomposed SDPA forward the fused engines recognise:
 *   S = Q·Kᵀ → S·scale → softmax (max, sub, exp, sum, div) → P·V = O,
 *   Stats = max + log(sum)  (the log-sum-exp, f32 [B, H, Lq, 1]),
 * the Stats a virtual tensor when the caller asks for no LSE: cuDNN's
 * fused engine wants the log and add either way (without them heuristics
 * find no engine), and cuDNN's frontend builds inference SDPA so.
 * The fused engines want P (the A of P·V) in the I/O type, everything else
 * in f32. Our [B, L, H, D] tensors are described as [B, H, L, D] with strides, so
 * no copy is made. One plan is cached per shape. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <cudnn_graph.h>

#include "plugins/attention/attention.h"
#include "plugins/attention/cuda-variant-util.h"
#include "workers/runtime/cudnn-library.h"

const RlAttentionVariant *raylight_attention_variant (uint32_t host_abi_version);

#define DECLARE_FN(name) __typeof__ (&name) name
typedef struct {
  void *library;
  DECLARE_FN (cudnnGetVersion);
  DECLARE_FN (cudnnCreate);
  DECLARE_FN (cudnnDestroy);
  DECLARE_FN (cudnnSetStream);
  DECLARE_FN (cudnnGetErrorString);
  DECLARE_FN (cudnnGetLastErrorString);
  DECLARE_FN (cudnnBackendCreateDescriptor);
  DECLARE_FN (cudnnBackendDestroyDescriptor);
  DECLARE_FN (cudnnBackendSetAttribute);
  DECLARE_FN (cudnnBackendGetAttribute);
  DECLARE_FN (cudnnBackendFinalize);
  DECLARE_FN (cudnnBackendExecute);
} CudnnApi;
#undef DECLARE_FN

enum { UID_Q = 1, UID_K, UID_V, UID_O, UID_STATS, UID_SCALE, UID_VIRTUAL = 100 };

/* The descriptors of one finalized plan, for one shape. */
typedef struct {
  int32_t                     key[7];          /* B H Lq Lk D dtype, 1 + with stats */
  cudnnBackendDescriptor_t    plan;
  int64_t                     workspace_bytes;
} Plan;

/* Every descriptor made while building, so one loop frees them all. */
typedef struct {
  cudnnBackendDescriptor_t items[64];
  int                      count;
} DescriptorList;

struct RlAttentionInstance {
  CudnnApi      api;
  cudnnHandle_t handle;
  int           device;
  int           compute_capability;
  Plan          plan;
  void         *workspace;
  size_t        workspace_bytes;
};

static int cudnn_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
                           size_t why_size);

/* ------------------------------------------------------------ loading */

static bool
load_api (CudnnApi *api, char *error, size_t error_size)
{
  char tried[512];
  /* NODELETE: unloading libcudnn (and the libgomp it pulls in) crashed at
   * process exit. */
  api->library = rl_cudnn_library_open (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE, tried,
                                        sizeof tried);
  if (api->library == NULL)
    return rl_attention_fail (false, error, error_size,
                              "cudnn: not available: libcudnn not found (tried %s; install cuDNN 9 "
                              "or set RAYLIGHT_CUDNN_LIBRARY)", tried);
#define LOAD(name)                                                                           \
  if ((*(void **) &api->name = dlsym (api->library, #name)) == NULL)                         \
    return rl_attention_fail (false, error, error_size,                                     \
                              "cudnn: not available: libcudnn lacks %s (need cuDNN 9)", #name)
  LOAD (cudnnGetVersion);
  LOAD (cudnnCreate);
  LOAD (cudnnDestroy);
  LOAD (cudnnSetStream);
  LOAD (cudnnGetErrorString);
  LOAD (cudnnGetLastErrorString);
  LOAD (cudnnBackendCreateDescriptor);
  LOAD (cudnnBackendDestroyDescriptor);
  LOAD (cudnnBackendSetAttribute);
  LOAD (cudnnBackendGetAttribute);
  LOAD (cudnnBackendFinalize);
  LOAD (cudnnBackendExecute);
#undef LOAD
  return true;
}

/* ----------------------------------------------------- graph building */

/* Carries the first failure through a sequence of backend calls. */
typedef struct {
  const CudnnApi *api;
  DescriptorList *list;
  cudnnStatus_t   status;
  const char     *step;
} Builder;

static cudnnBackendDescriptor_t
make (Builder *b, cudnnBackendDescriptorType_t type, const char *step)
{
  cudnnBackendDescriptor_t descriptor = NULL;
  if (b->status != CUDNN_STATUS_SUCCESS || b->list->count == 64)
    return NULL;
  b->status = b->api->cudnnBackendCreateDescriptor (type, &descriptor);
  if (b->status != CUDNN_STATUS_SUCCESS)
    {
      b->step = step;
      return NULL;
    }
  b->list->items[b->list->count++] = descriptor;
  return descriptor;
}

static void
set (Builder *b, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
     cudnnBackendAttributeType_t type, int64_t count, const void *values, const char *step)
{
  if (b->status != CUDNN_STATUS_SUCCESS)
    return;
  b->status = b->api->cudnnBackendSetAttribute (d, name, type, count, values);
  if (b->status != CUDNN_STATUS_SUCCESS)
    b->step = step;
}

static void
finalize (Builder *b, cudnnBackendDescriptor_t d, const char *step)
{
  if (b->status != CUDNN_STATUS_SUCCESS)
    return;
  b->status = b->api->cudnnBackendFinalize (d);
  if (b->status != CUDNN_STATUS_SUCCESS)
    b->step = step;
}

static cudnnBackendDescriptor_t
tensor (Builder *b, int64_t uid, cudnnDataType_t type, const int64_t dims[4],
        const int64_t strides[4], bool is_virtual, bool by_value, const char *step)
{
  cudnnBackendDescriptor_t d = make (b, CUDNN_BACKEND_TENSOR_DESCRIPTOR, step);
  int64_t alignment = 16;
  set (b, d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type, step);
  set (b, d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims, step);
  set (b, d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides, step);
  set (b, d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, step);
  set (b, d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment, step);
  set (b, d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual, step);
  if (by_value)
    set (b, d, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value, step);
  finalize (b, d, step);
  return d;
}

/* A virtual tensor of `dims` with packed strides. */
static cudnnBackendDescriptor_t
virtual_tensor (Builder *b, int64_t *next_uid, cudnnDataType_t type, const int64_t dims[4],
                const char *step)
{
  int64_t strides[4] = { dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1 };
  return tensor (b, (*next_uid)++, type, dims, strides, true, false, step);
}

static cudnnBackendDescriptor_t
matmul (Builder *b, cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t bt,
        cudnnBackendDescriptor_t c, const char *step)
{
  cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  cudnnBackendDescriptor_t desc = make (b, CUDNN_BACKEND_MATMUL_DESCRIPTOR, step);
  set (b, desc, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute, step);
  finalize (b, desc, step);
  cudnnBackendDescriptor_t op = make (b, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, step);
  set (b, op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &a, step);
  set (b, op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &bt, step);
  set (b, op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c, step);
  set (b, op, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &desc, step);
  finalize (b, op, step);
  return op;
}

/* y = mode(x[, x2]) elementwise. */
static cudnnBackendDescriptor_t
pointwise (Builder *b, cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x,
           cudnnBackendDescriptor_t x2, cudnnBackendDescriptor_t y, const char *step)
{
  cudnnDataType_t precision = CUDNN_DATA_FLOAT;
  cudnnBackendDescriptor_t desc = make (b, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, step);
  set (b, desc, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, step);
  set (b, desc, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision, step);
  finalize (b, desc, step);
  cudnnBackendDescriptor_t op = make (b, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, step);
  set (b, op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
       &desc, step);
  set (b, op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, step);
  if (x2 != NULL)
    set (b, op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x2, step);
  set (b, op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, step);
  finalize (b, op, step);
  return op;
}

static cudnnBackendDescriptor_t
reduction (Builder *b, cudnnReduceTensorOp_t mode, cudnnBackendDescriptor_t x,
           cudnnBackendDescriptor_t y, const char *step)
{
  cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  cudnnBackendDescriptor_t desc = make (b, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, step);
  set (b, desc, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode, step);
  set (b, desc, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute, step);
  finalize (b, desc, step);
  cudnnBackendDescriptor_t op = make (b, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, step);
  set (b, op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, step);
  set (b, op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, step);
  set (b, op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &desc, step);
  finalize (b, op, step);
  return op;
}

/* Builds the SDPA operation graph for `p`, the Stats an output when
 * `stats`, else virtual; the graph descriptor or NULL. */
static cudnnBackendDescriptor_t
build_graph (RlAttentionInstance *instance, Builder *b, const RlAttentionProblem *p, bool stats)
{
  int64_t B = p->batch, H = p->heads, Q = p->q_len, K = p->kv_len, D = p->head_dim;
  cudnnDataType_t io = p->qkv_dtype == RL_ATTENTION_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
  int64_t q_dims[4] = { B, H, Q, D }, q_strides[4] = { Q * H * D, D, H * D, 1 };
  int64_t kt_dims[4] = { B, H, D, K }, kt_strides[4] = { K * H * D, D, 1, H * D };
  int64_t v_dims[4] = { B, H, K, D }, v_strides[4] = { K * H * D, D, H * D, 1 };
  int64_t s_dims[4] = { B, H, Q, K }, row_dims[4] = { B, H, Q, 1 };
  int64_t row_strides[4] = { H * Q, Q, 1, 1 }, one[4] = { 1, 1, 1, 1 };
  int64_t next = UID_VIRTUAL;

  cudnnBackendDescriptor_t tq = tensor (b, UID_Q, io, q_dims, q_strides, false, false, "tensor Q");
  cudnnBackendDescriptor_t tk = tensor (b, UID_K, io, kt_dims, kt_strides, false, false, "tensor K");
  cudnnBackendDescriptor_t tv = tensor (b, UID_V, io, v_dims, v_strides, false, false, "tensor V");
  cudnnBackendDescriptor_t to = tensor (b, UID_O, io, q_dims, q_strides, false, false, "tensor O");
  cudnnBackendDescriptor_t tstats = tensor (b, stats ? UID_STATS : next++, CUDNN_DATA_FLOAT, row_dims,
                                            row_strides, !stats, false, "tensor Stats");
  cudnnBackendDescriptor_t tscale = tensor (b, UID_SCALE, CUDNN_DATA_FLOAT, one, one, false, true,
                                            "tensor scale");
  cudnnBackendDescriptor_t s = virtual_tensor (b, &next, CUDNN_DATA_FLOAT, s_dims, "S");
  cudnnBackendDescriptor_t scaled = virtual_tensor (b, &next, CUDNN_DATA_FLOAT, s_dims, "S·scale");
  cudnnBackendDescriptor_t max = virtual_tensor (b, &next, CUDNN_DATA_FLOAT, row_dims, "max");
  cudnnBackendDescriptor_t shifted = virtual_tensor (b, &next, CUDNN_DATA_FLOAT, s_dims, "S−max");
  cudnnBackendDescriptor_t exps = virtual_tensor (b, &next, CUDNN_DATA_FLOAT, s_dims, "exp");
  cudnnBackendDescriptor_t sum = virtual_tensor (b, &next, CUDNN_DATA_FLOAT, row_dims, "sum");
  cudnnBackendDescriptor_t log_sum = virtual_tensor (b, &next, CUDNN_DATA_FLOAT, row_dims, "log sum");
  cudnnBackendDescriptor_t probs = virtual_tensor (b, &next, io, s_dims, "P");

  cudnnBackendDescriptor_t ops[] = {
    matmul (b, tq, tk, s, "Q·Kᵀ"),
    pointwise (b, CUDNN_POINTWISE_MUL, s, tscale, scaled, "scale"),
    reduction (b, CUDNN_REDUCE_TENSOR_MAX, scaled, max, "row max"),
    pointwise (b, CUDNN_POINTWISE_SUB, scaled, max, shifted, "subtract max"),
    pointwise (b, CUDNN_POINTWISE_EXP, shifted, NULL, exps, "exp"),
    reduction (b, CUDNN_REDUCE_TENSOR_ADD, exps, sum, "row sum"),
    pointwise (b, CUDNN_POINTWISE_LOG, sum, NULL, log_sum, "log"),
    pointwise (b, CUDNN_POINTWISE_ADD, max, log_sum, tstats, "stats"),
    pointwise (b, CUDNN_POINTWISE_DIV, exps, sum, probs, "normalise"),
    matmul (b, probs, tv, to, "P·V"),
  };
  const int64_t count = sizeof ops / sizeof ops[0];
  cudnnBackendDescriptor_t graph = make (b, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "graph");
  set (b, graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &instance->handle, "graph");
  set (b, graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, ops, "graph");
  finalize (b, graph, "graph");
  return b->status == CUDNN_STATUS_SUCCESS ? graph : NULL;
}

/* The first heuristic engine config that makes a plan, or NULL. */
static cudnnBackendDescriptor_t
build_plan (RlAttentionInstance *instance, Builder *b, cudnnBackendDescriptor_t graph,
            char *error, size_t error_size)
{
  const CudnnApi *api = &instance->api;
  cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
  cudnnBackendDescriptor_t heuristics = make (b, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "heuristics");
  set (b, heuristics, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
       &graph, "heuristics");
  set (b, heuristics, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "heuristics");
  finalize (b, heuristics, "heuristics");
  if (b->status != CUDNN_STATUS_SUCCESS)
    return NULL;
  enum { MAX_CONFIGS = 8 };
  cudnnBackendDescriptor_t configs[MAX_CONFIGS];
  int64_t count = 0;
  for (int i = 0; i < MAX_CONFIGS; i++)
    configs[i] = make (b, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine configs");
  if (b->status == CUDNN_STATUS_SUCCESS)
    b->status = api->cudnnBackendGetAttribute (heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                               CUDNN_TYPE_BACKEND_DESCRIPTOR, MAX_CONFIGS, &count,
                                               configs);
  if (b->status != CUDNN_STATUS_SUCCESS || count == 0)
    {
      b->step = "heuristics found no engine for the SDPA graph";
      if (b->status == CUDNN_STATUS_SUCCESS)
        b->status = CUDNN_STATUS_NOT_SUPPORTED;
      return NULL;
    }
  for (int64_t i = 0; i < count; i++)
    {
      cudnnBackendDescriptor_t plan = NULL;
      if (api->cudnnBackendCreateDescriptor (CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan)
          != CUDNN_STATUS_SUCCESS)
        continue;
      bool ok = api->cudnnBackendSetAttribute (plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE,
                                               CUDNN_TYPE_HANDLE, 1, &instance->handle)
                    == CUDNN_STATUS_SUCCESS
                && api->cudnnBackendSetAttribute (plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                                  CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &configs[i])
                       == CUDNN_STATUS_SUCCESS
                && api->cudnnBackendFinalize (plan) == CUDNN_STATUS_SUCCESS;
      if (ok)
        return plan;
      api->cudnnBackendDestroyDescriptor (plan);
    }
  char last[256] = "";
  api->cudnnGetLastErrorString (last, sizeof last);
  rl_attention_fail (0, error, error_size, "%s", last);
  b->step = "no engine config finalized a plan";
  b->status = CUDNN_STATUS_NOT_SUPPORTED;
  return NULL;
}

static void
plan_key (const RlAttentionProblem *p, bool stats, int32_t key[7])
{
  int32_t values[7] = { p->batch, p->heads, p->q_len, p->kv_len, p->head_dim, p->qkv_dtype,
                        1 + stats };
  memcpy (key, values, sizeof values);
}

/* Makes instance->plan the plan for `p` (with the Stats output when
 * `stats`), building it when the shape changed. */
static int
ensure_plan (RlAttentionInstance *instance, const RlAttentionProblem *p, bool stats, char *error,
             size_t error_size)
{
  int32_t key[7];
  plan_key (p, stats, key);
  if (instance->plan.plan != NULL && memcmp (key, instance->plan.key, sizeof key) == 0)
    return RL_ATTENTION_OK;
  if (instance->plan.plan != NULL)
    instance->api.cudnnBackendDestroyDescriptor (instance->plan.plan);
  instance->plan.plan = NULL;
  DescriptorList list = { .count = 0 };
  Builder b = { &instance->api, &list, CUDNN_STATUS_SUCCESS, NULL };
  char detail[256] = "";
  cudnnBackendDescriptor_t graph = build_graph (instance, &b, p, stats);
  cudnnBackendDescriptor_t plan = graph != NULL ? build_plan (instance, &b, graph, detail,
                                                              sizeof detail) : NULL;
  if (plan == NULL && detail[0] == '\0')
    instance->api.cudnnGetLastErrorString (detail, sizeof detail);
  for (int i = list.count - 1; i >= 0; i--)
    instance->api.cudnnBackendDestroyDescriptor (list.items[i]);
  if (plan == NULL)
    return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, error, error_size,
                              "cudnn: SDPA graph for B=%d H=%d Lq=%d Lk=%d D=%d failed at '%s': "
                              "%s %s", p->batch, p->heads, p->q_len, p->kv_len, p->head_dim,
                              b.step != NULL ? b.step : "?",
                              instance->api.cudnnGetErrorString (b.status), detail);
  int64_t workspace = 0, count = 0;
  instance->api.cudnnBackendGetAttribute (plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                          CUDNN_TYPE_INT64, 1, &count, &workspace);
  instance->plan.plan = plan;
  instance->plan.workspace_bytes = workspace;
  memcpy (instance->plan.key, key, sizeof key);
  return RL_ATTENTION_OK;
}

/* -------------------------------------------------------- the variant */

static int
cudnn_open (int32_t device_index, RlAttentionInstance **out, char *error, size_t error_size)
{
  struct cudaDeviceProp properties;
  int result = rl_attention_cuda_device ("cudnn", device_index, &properties, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  RlAttentionInstance *instance = calloc (1, sizeof (RlAttentionInstance));
  if (instance == NULL)
    return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size, "cudnn: out of memory");
  instance->device = device_index;
  instance->compute_capability = properties.major * 10 + properties.minor;
  if (!load_api (&instance->api, error, error_size))
    {
      if (instance->api.library != NULL)
        dlclose (instance->api.library);
      free (instance);
      return RL_ATTENTION_UNAVAILABLE;
    }
  cudaSetDevice (device_index);
  cudnnStatus_t status = instance->api.cudnnCreate (&instance->handle);
  if (status != CUDNN_STATUS_SUCCESS)
    {
      rl_attention_fail (0, error, error_size, "cudnn: not available: cudnnCreate failed: %s",
                         instance->api.cudnnGetErrorString (status));
      dlclose (instance->api.library);
      free (instance);
      return RL_ATTENTION_UNAVAILABLE;
    }
  *out = instance;
  return RL_ATTENTION_OK;
}

static void
cudnn_close (RlAttentionInstance *instance)
{
  if (instance == NULL)
    return;
  cudaSetDevice (instance->device);
  if (instance->plan.plan != NULL)
    instance->api.cudnnBackendDestroyDescriptor (instance->plan.plan);
  cudaFree (instance->workspace);
  instance->api.cudnnDestroy (instance->handle);
  dlclose (instance->api.library);
  free (instance);
}

static double
cudnn_cost_hint (RlAttentionInstance *instance, const RlAttentionProblem *p)
{
  /* cuDNN's fused kernels reach about 600 TFLOP/s on an H100 at large L. */
  double rate = instance->compute_capability >= 90 ? 550e12 : 200e12;
  return rl_attention_flops (p) / rate * 1e3 + 0.01;
}

static int
cudnn_run (RlAttentionInstance *instance, const RlAttentionProblem *p, const RlAttentionArgs *args,
           char *error, size_t error_size)
{
  int result = rl_attention_check_run (raylight_attention_variant (RL_ATTENTION_ABI_VERSION),
                                       instance, p, args, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  cudaSetDevice (instance->device);
  const bool stats = args->lse != NULL;
  if ((result = ensure_plan (instance, p, stats, error, error_size)) != RL_ATTENTION_OK)
    return result;
  if ((result = rl_attention_cuda_grow (&instance->workspace, &instance->workspace_bytes,
                                        (size_t) instance->plan.workspace_bytes + 1, "cudnn",
                                        "workspace", error, error_size)) != RL_ATTENTION_OK)
    return result;
  instance->api.cudnnSetStream (instance->handle, (cudaStream_t) args->stream);
  float scale = p->scale;
  int64_t uids[6] = { UID_Q, UID_K, UID_V, UID_O, UID_SCALE, UID_STATS };
  void *pointers[6] = { (void *) args->q, (void *) args->k, (void *) args->v, args->out, &scale,
                        args->lse };
  const int64_t bound = stats ? 6 : 5;
  DescriptorList list = { .count = 0 };
  Builder b = { &instance->api, &list, CUDNN_STATUS_SUCCESS, NULL };
  cudnnBackendDescriptor_t pack = make (&b, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, "variant pack");
  set (&b, pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, bound, uids, "variant pack");
  set (&b, pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, bound, pointers,
       "variant pack");
  set (&b, pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &instance->workspace,
       "variant pack");
  finalize (&b, pack, "variant pack");
  if (b.status == CUDNN_STATUS_SUCCESS)
    {
      b.status = instance->api.cudnnBackendExecute (instance->handle, instance->plan.plan, pack);
      b.step = "execute";
    }
  for (int i = list.count - 1; i >= 0; i--)
    instance->api.cudnnBackendDestroyDescriptor (list.items[i]);
  if (b.status != CUDNN_STATUS_SUCCESS)
    {
      char detail[256] = "";
      instance->api.cudnnGetLastErrorString (detail, sizeof detail);
      return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size, "cudnn: %s failed: %s %s",
                                b.step, instance->api.cudnnGetErrorString (b.status), detail);
    }
  return RL_ATTENTION_OK;
}

static const int32_t cudnn_head_dims[] = { 64, 128, 0 };

static const RlAttentionVariant cudnn_variant = {
  .abi_version = RL_ATTENTION_ABI_VERSION,
  .struct_size = sizeof (RlAttentionVariant),
  .name = "cudnn",
  .description = "CUDA: cuDNN fused SDPA through the backend graph API (libcudnn at run time)",
  .backend = RL_ATTENTION_BACKEND_CUDA,
  .qkv_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .out_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .head_dims = cudnn_head_dims,
  .min_compute_capability = 80,
  .supports_kv_lengths = 0,
  .open = cudnn_open,
  .close = cudnn_close,
  .supports = cudnn_supports,
  .cost_hint = cudnn_cost_hint,
  .run = cudnn_run,
};

static int
cudnn_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
                size_t why_size)
{
  int result = rl_attention_check_declared (&cudnn_variant, p, why, why_size);
  if (result == RL_ATTENTION_OK)
    result = rl_attention_check_out_is_input_dtype ("cudnn", p, why, why_size);
  if (result != RL_ATTENTION_OK)
    return result;
  if (instance->compute_capability < 80)
    return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                              "cudnn: fused SDPA needs sm_80 or newer (device is sm_%d)",
                              instance->compute_capability);
  return rl_attention_check_device ("cudnn", instance->device, p, why, why_size);
}

const RlAttentionVariant *
raylight_attention_variant (uint32_t host_abi_version)
{
  return host_abi_version == RL_ATTENTION_ABI_VERSION ? &cudnn_variant : NULL;
}
