/* cuDNN convolutions through the descriptor API (cudnnConvolutionForward):
 * cuDNN 9 still ships it, and its algorithms run the same kernels PyTorch's
 * convolutions pick (for the Wan VAE: IMPLICIT_PRECOMP_GEMM, which copies
 * NC[D]HW data to NDHWC in its workspace). libcudnn is opened
 * with dlopen so the backend loads where cuDNN is absent; the types come
 * from the cuDNN headers, no symbol is linked. */
#include "cuda-conv-cudnn.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cudnn.h>

#include "workers/runtime/cudnn-library.h"

#define DECLARE_FN(name) __typeof__ (&name) name
typedef struct {
  void *library;
  DECLARE_FN (cudnnGetVersion);
  DECLARE_FN (cudnnCreate);
  DECLARE_FN (cudnnDestroy);
  DECLARE_FN (cudnnSetStream);
  DECLARE_FN (cudnnGetErrorString);
  DECLARE_FN (cudnnCreateTensorDescriptor);
  DECLARE_FN (cudnnDestroyTensorDescriptor);
  DECLARE_FN (cudnnSetTensorNdDescriptor);
  DECLARE_FN (cudnnCreateFilterDescriptor);
  DECLARE_FN (cudnnDestroyFilterDescriptor);
  DECLARE_FN (cudnnSetFilterNdDescriptor);
  DECLARE_FN (cudnnCreateConvolutionDescriptor);
  DECLARE_FN (cudnnDestroyConvolutionDescriptor);
  DECLARE_FN (cudnnSetConvolutionNdDescriptor);
  DECLARE_FN (cudnnSetConvolutionMathType);
  DECLARE_FN (cudnnGetConvolutionNdForwardOutputDim);
  DECLARE_FN (cudnnGetConvolutionForwardAlgorithm_v7);
  DECLARE_FN (cudnnGetConvolutionForwardWorkspaceSize);
  DECLARE_FN (cudnnConvolutionForward);
} CudnnConvApi;
#undef DECLARE_FN

/* Shapes kept at once; a Wan VAE decode uses a few dozen. */
#define PLAN_CAPACITY 128
/* Algorithms asked of the heuristics per shape. */
#define ALGO_QUERY 16

/* What was decided for one shape: descriptors and algorithm, or the
 * reason cuDNN cannot run it. */
typedef struct {
  RlCudaConvShape              shape;
  bool                         usable;
  char                         refusal[200];
  cudnnTensorDescriptor_t      x_desc, y_desc;
  cudnnFilterDescriptor_t      w_desc;
  cudnnConvolutionDescriptor_t conv_desc;
  cudnnConvolutionFwdAlgo_t    algo;
  cudnnMathType_t              math;
  size_t                       workspace_bytes;
  double                       build_ms;      /* descriptors and choice */
} ConvPlan;

struct RlCudaCudnnConv {
  CudnnConvApi  api;
  cudnnHandle_t handle;
  ConvPlan      plans[PLAN_CAPACITY];
  int           n_plans;
  int           next_evict;   /* round robin once full */
  int           last_used;
};

/* ------------------------------------------------------------ loading */

static bool
load_api (CudnnConvApi *api, RlCudaError *error)
{
  char tried[400];
  api->library = rl_cudnn_library_open (RTLD_NOW | RTLD_LOCAL, tried, sizeof tried);
  if (api->library == NULL)
    return rl_cuda_error_set (error, 0, "cuDNN not found (tried %s); install cuDNN 9 or set "
                              "RAYLIGHT_CUDNN_LIBRARY", tried);
#define LOAD(name)                                                                         \
  if ((*(void **) &api->name = dlsym (api->library, #name)) == NULL)                       \
    return rl_cuda_error_set (error, 0, "libcudnn lacks %s (need cuDNN 8 or 9)", #name)
  LOAD (cudnnGetVersion);
  LOAD (cudnnCreate);
  LOAD (cudnnDestroy);
  LOAD (cudnnSetStream);
  LOAD (cudnnGetErrorString);
  LOAD (cudnnCreateTensorDescriptor);
  LOAD (cudnnDestroyTensorDescriptor);
  LOAD (cudnnSetTensorNdDescriptor);
  LOAD (cudnnCreateFilterDescriptor);
  LOAD (cudnnDestroyFilterDescriptor);
  LOAD (cudnnSetFilterNdDescriptor);
  LOAD (cudnnCreateConvolutionDescriptor);
  LOAD (cudnnDestroyConvolutionDescriptor);
  LOAD (cudnnSetConvolutionNdDescriptor);
  LOAD (cudnnSetConvolutionMathType);
  LOAD (cudnnGetConvolutionNdForwardOutputDim);
  LOAD (cudnnGetConvolutionForwardAlgorithm_v7);
  LOAD (cudnnGetConvolutionForwardWorkspaceSize);
  LOAD (cudnnConvolutionForward);
#undef LOAD
  return true;
}

RlCudaCudnnConv *
rl_cuda_cudnn_conv_new (RlCudaError *error)
{
  RlCudaCudnnConv *conv = calloc (1, sizeof *conv);
  if (conv == NULL) {
    rl_cuda_error_set (error, 0, "out of host memory for the cuDNN convolutions");
    return NULL;
  }
  if (!load_api (&conv->api, error)) {
    if (conv->api.library != NULL)
      dlclose (conv->api.library);
    free (conv);
    return NULL;
  }
  cudnnStatus_t status = conv->api.cudnnCreate (&conv->handle);
  if (status != CUDNN_STATUS_SUCCESS) {
    rl_cuda_error_set (error, (int) status, "cudnnCreate failed: %s",
                       conv->api.cudnnGetErrorString (status));
    dlclose (conv->api.library);
    free (conv);
    return NULL;
  }
  return conv;
}

static void
plan_release (const CudnnConvApi *api, ConvPlan *plan)
{
  if (plan->x_desc != NULL) api->cudnnDestroyTensorDescriptor (plan->x_desc);
  if (plan->y_desc != NULL) api->cudnnDestroyTensorDescriptor (plan->y_desc);
  if (plan->w_desc != NULL) api->cudnnDestroyFilterDescriptor (plan->w_desc);
  if (plan->conv_desc != NULL) api->cudnnDestroyConvolutionDescriptor (plan->conv_desc);
  memset (plan, 0, sizeof *plan);
}

void
rl_cuda_cudnn_conv_free (RlCudaCudnnConv *conv)
{
  if (conv == NULL)
    return;
  for (int i = 0; i < conv->n_plans; i++)
    plan_release (&conv->api, &conv->plans[i]);
  conv->api.cudnnDestroy (conv->handle);
  dlclose (conv->api.library);
  free (conv);
}

/* ------------------------------------------------------------- plans */

static bool
same_shape (const RlCudaConvShape *a, const RlCudaConvShape *b)
{
  if (a->spatial != b->spatial || a->type != b->type || a->batch != b->batch
      || a->in_channels != b->in_channels || a->out_channels != b->out_channels)
    return false;
  for (int d = 0; d < a->spatial + 2; d++)
    if (a->x_strides[d] != b->x_strides[d] || a->y_strides[d] != b->y_strides[d])
      return false;
  for (int d = 0; d < a->spatial; d++)
    if (a->in[d] != b->in[d] || a->kernel[d] != b->kernel[d] || a->stride[d] != b->stride[d]
        || a->pad[d] != b->pad[d] || a->out[d] != b->out[d])
      return false;
  return true;
}

static ConvPlan *
find_plan (RlCudaCudnnConv *conv, const RlCudaConvShape *shape)
{
  if (conv->last_used < conv->n_plans && same_shape (&conv->plans[conv->last_used].shape, shape))
    return &conv->plans[conv->last_used];
  for (int i = 0; i < conv->n_plans; i++)
    if (same_shape (&conv->plans[i].shape, shape)) {
      conv->last_used = i;
      return &conv->plans[i];
    }
  return NULL;
}

static ConvPlan *
new_plan (RlCudaCudnnConv *conv)
{
  int i;
  if (conv->n_plans < PLAN_CAPACITY) {
    i = conv->n_plans++;
  } else {
    i = conv->next_evict;
    conv->next_evict = (conv->next_evict + 1) % PLAN_CAPACITY;
    plan_release (&conv->api, &conv->plans[i]);
  }
  conv->last_used = i;
  return &conv->plans[i];
}

static bool
cudnn_type (cudaDataType_t type, cudnnDataType_t *out)
{
  switch (type) {
  case CUDA_R_32F:  *out = CUDNN_DATA_FLOAT;    return true;
  case CUDA_R_16F:  *out = CUDNN_DATA_HALF;     return true;
  case CUDA_R_16BF: *out = CUDNN_DATA_BFLOAT16; return true;
  default:          return false;
  }
}

/* `dims` with `given` strides, or packed NC[D]HW ones when `given` is
 * NULL or all zero, as cuDNN's ints; false when one does not fit. */
static bool
int_dims (int nd, const int64_t *dims64, const int64_t *given, int *dims, int *strides)
{
  bool packed = true;
  for (int d = 0; given != NULL && d < nd; d++)
    packed = packed && given[d] == 0;
  int64_t stride = 1, extent = 1;
  for (int d = nd - 1; d >= 0; d--) {
    int64_t s = packed ? stride : given[d];
    if (dims64[d] > INT_MAX || s > INT_MAX || s < 0)
      return false;
    dims[d] = (int) dims64[d];
    strides[d] = (int) s;
    stride *= dims64[d];
    extent += (dims64[d] - 1) * s;
  }
  return stride <= INT_MAX && extent <= INT_MAX;
}

/* Whether algorithm `algo` with `math` runs the plan within `limit`;
 * sets the plan's choice when it does. */
static bool
try_algorithm (RlCudaCudnnConv *conv, ConvPlan *plan, cudnnConvolutionFwdAlgo_t algo,
               cudnnMathType_t math, size_t limit)
{
  const CudnnConvApi *api = &conv->api;
  size_t bytes = 0;
  if (api->cudnnSetConvolutionMathType (plan->conv_desc, math) != CUDNN_STATUS_SUCCESS
      || api->cudnnGetConvolutionForwardWorkspaceSize (conv->handle, plan->x_desc, plan->w_desc,
                                                       plan->conv_desc, plan->y_desc, algo,
                                                       &bytes) != CUDNN_STATUS_SUCCESS
      || bytes > limit)
    return false;
  plan->algo = algo;
  plan->math = math;
  plan->workspace_bytes = bytes;
  plan->usable = true;
  return true;
}

/* Records why a shape is refused; false, so callers can return it. */
static bool
refuse (ConvPlan *plan, RlCudaError *error, int code, const char *why)
{
  plan->usable = false;
  snprintf (plan->refusal, sizeof plan->refusal, "%s", why);
  return rl_cuda_error_set (error, code, "%s", plan->refusal);
}

/* The algorithm tried before the heuristics for f16/bf16 data:
 * $RAYLIGHT_CUDA_CONV_ALGO (a cudnnConvolutionFwdAlgo_t number, or
 * "heuristic" for none), by default IMPLICIT_PRECOMP_GEMM. The heuristics
 * ranked it first for every shape of the Wan 2.1 and 2.2 VAE decodes on an
 * H100 (cuDNN 9.14), and asking them cost 2-10 ms per new shape, 236 ms for
 * the first (0.47 s of a 3.1 s cold decode). -1: ask the heuristics. */
static int
first_choice (void)
{
  const char *asked = getenv ("RAYLIGHT_CUDA_CONV_ALGO");
  if (asked == NULL || asked[0] == '\0')
    return CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  if (asked[0] >= '0' && asked[0] <= '9')
    return atoi (asked);
  return -1;
}

/* Builds the descriptors of plan->shape and picks its algorithm. */
static bool
plan_build (RlCudaCudnnConv *conv, ConvPlan *plan, size_t workspace_limit, RlCudaError *error)
{
  const CudnnConvApi *api = &conv->api;
  const RlCudaConvShape *s = &plan->shape;
  int nd = s->spatial + 2;
  cudnnDataType_t data_type;
  if (!cudnn_type (s->type, &data_type))
    return refuse (plan, error, 0, "cuDNN convolutions take f32, f16 or bf16");
  int64_t x64[5] = { s->batch, s->in_channels }, y64[5] = { s->batch, s->out_channels };
  int64_t w64[5] = { s->out_channels, s->in_channels };
  int pad[3], stride[3], dilation[3] = { 1, 1, 1 };
  for (int d = 0; d < s->spatial; d++) {
    x64[2 + d] = s->in[d];
    y64[2 + d] = s->out[d];
    w64[2 + d] = s->kernel[d];
    if (s->pad[d] > INT_MAX || s->stride[d] > INT_MAX)
      return refuse (plan, error, 0, "padding or stride beyond cuDNN's int");
    pad[d] = (int) s->pad[d];
    stride[d] = (int) s->stride[d];
  }
  int x_dims[5], x_strides[5], y_dims[5], y_strides[5], w_dims[5], w_strides[5];
  if (!int_dims (nd, x64, s->x_strides, x_dims, x_strides)
      || !int_dims (nd, y64, s->y_strides, y_dims, y_strides)
      || !int_dims (nd, w64, NULL, w_dims, w_strides))
    return refuse (plan, error, 0, "a tensor of over 2^31 elements (cuDNN's descriptors count "
                   "in int)");
  cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
  const char *step = "";
#define CALL(what, call)                                                                   \
  if (st == CUDNN_STATUS_SUCCESS) {                                                        \
    st = (call);                                                                           \
    step = what;                                                                           \
  }
  CALL ("creating the input descriptor", api->cudnnCreateTensorDescriptor (&plan->x_desc));
  CALL ("creating the output descriptor", api->cudnnCreateTensorDescriptor (&plan->y_desc));
  CALL ("creating the filter descriptor", api->cudnnCreateFilterDescriptor (&plan->w_desc));
  CALL ("creating the convolution descriptor",
        api->cudnnCreateConvolutionDescriptor (&plan->conv_desc));
  CALL ("describing the input", api->cudnnSetTensorNdDescriptor (plan->x_desc, data_type, nd,
                                                                 x_dims, x_strides));
  CALL ("describing the output", api->cudnnSetTensorNdDescriptor (plan->y_desc, data_type, nd,
                                                                  y_dims, y_strides));
  CALL ("describing the filter", api->cudnnSetFilterNdDescriptor (plan->w_desc, data_type,
                                                                  CUDNN_TENSOR_NCHW, nd, w_dims));
  /* Products accumulate in f32 for every data type. */
  CALL ("describing the convolution",
        api->cudnnSetConvolutionNdDescriptor (plan->conv_desc, s->spatial, pad, stride, dilation,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  /* f32 stays true fp32 (the parity path: no TF32); f16/bf16 use tensor cores. */
  cudnnMathType_t math = s->type == CUDA_R_32F ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
  CALL ("setting the math type", api->cudnnSetConvolutionMathType (plan->conv_desc, math));
  int out_dims[5] = { 0 };
  CALL ("computing the output shape",
        api->cudnnGetConvolutionNdForwardOutputDim (plan->conv_desc, plan->x_desc, plan->w_desc,
                                                    nd, out_dims));
  char why[160];
  if (st != CUDNN_STATUS_SUCCESS) {
    snprintf (why, sizeof why, "%s: %s", step, api->cudnnGetErrorString (st));
    return refuse (plan, error, (int) st, why);
  }
  for (int d = 0; d < nd; d++)
    if (out_dims[d] != y_dims[d])
      return refuse (plan, error, 0, "cuDNN computes another output shape");
  int first = first_choice ();
  if (first >= 0 && s->type != CUDA_R_32F
      && try_algorithm (conv, plan, (cudnnConvolutionFwdAlgo_t) first, math, workspace_limit))
    return true;
  cudnnConvolutionFwdAlgoPerf_t ranked[ALGO_QUERY];
  int returned = 0;
  CALL ("asking the heuristics",
        api->cudnnGetConvolutionForwardAlgorithm_v7 (conv->handle, plan->x_desc, plan->w_desc,
                                                     plan->conv_desc, plan->y_desc, ALGO_QUERY,
                                                     &returned, ranked));
  if (st != CUDNN_STATUS_SUCCESS) {
    snprintf (why, sizeof why, "%s: %s", step, api->cudnnGetErrorString (st));
    return refuse (plan, error, (int) st, why);
  }
  for (int i = 0; i < returned; i++) {
    const cudnnConvolutionFwdAlgoPerf_t *r = &ranked[i];
    if (r->status != CUDNN_STATUS_SUCCESS || r->memory > workspace_limit)
      continue;
    if (s->type == CUDA_R_32F && r->mathType != CUDNN_FMA_MATH)
      continue;   /* a TF32 kernel would break the f32 parity path */
    if (try_algorithm (conv, plan, r->algo, r->mathType, workspace_limit))
      return true;
  }
  snprintf (why, sizeof why, "no cuDNN algorithm runs this shape within a %zu MiB workspace",
            workspace_limit >> 20);
  return refuse (plan, error, 0, why);
#undef CALL
}

bool
rl_cuda_cudnn_conv_prepare (RlCudaCudnnConv *conv, const RlCudaConvShape *shape,
                            size_t workspace_limit, size_t *workspace_bytes, bool *first_time,
                            RlCudaError *error)
{
  *workspace_bytes = 0;
  *first_time = false;
  ConvPlan *plan = find_plan (conv, shape);
  if (plan == NULL) {
    struct timespec t0, t1;
    *first_time = true;
    plan = new_plan (conv);
    plan->shape = *shape;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    bool built = plan_build (conv, plan, workspace_limit, error);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    plan->build_ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) * 1e-6;
    if (!built)
      return false;
  }
  if (!plan->usable)
    return rl_cuda_error_set (error, 0, "%s", plan->refusal);
  *workspace_bytes = plan->workspace_bytes;
  return true;
}

bool
rl_cuda_cudnn_conv_run (RlCudaCudnnConv *conv, const RlCudaConvShape *shape, const void *x,
                        const void *w, void *y, void *workspace, size_t workspace_bytes,
                        cudaStream_t stream, bool *refused, RlCudaError *error)
{
  const CudnnConvApi *api = &conv->api;
  ConvPlan *plan = find_plan (conv, shape);
  *refused = false;
  if (plan == NULL || !plan->usable)
    return rl_cuda_error_set (error, 0, "cuDNN convolution run before it was prepared");
  if (workspace_bytes < plan->workspace_bytes)
    return rl_cuda_error_set (error, 0, "cuDNN convolution given %zu workspace bytes of %zu",
                              workspace_bytes, plan->workspace_bytes);
  /* alpha and beta are float for f32, f16 and bf16 data alike. */
  const float alpha = 1.0f, beta = 0.0f;
  cudnnStatus_t st = api->cudnnSetStream (conv->handle, stream);
  if (st == CUDNN_STATUS_SUCCESS)
    st = api->cudnnConvolutionForward (conv->handle, &alpha, plan->x_desc, x, plan->w_desc, w,
                                       plan->conv_desc, plan->algo, workspace,
                                       plan->workspace_bytes, &beta, plan->y_desc, y);
  if (st == CUDNN_STATUS_SUCCESS)
    return true;
  char why[200];
  snprintf (why, sizeof why, "cudnnConvolutionForward (algorithm %d) failed: %s", (int) plan->algo,
            api->cudnnGetErrorString (st));
  if (st >= CUDNN_STATUS_NOT_SUPPORTED && st < CUDNN_STATUS_NOT_SUPPORTED + 1000) {
    /* a configuration this cuDNN cannot run after all: kept as refused */
    *refused = true;
    return refuse (plan, error, (int) st, why);
  }
  return rl_cuda_error_set (error, (int) st, "%s", why);
}

void
rl_cuda_cudnn_conv_describe (RlCudaCudnnConv *conv, const RlCudaConvShape *shape, char *out,
                             size_t out_size)
{
  ConvPlan *plan = find_plan (conv, shape);
  if (plan == NULL || !plan->usable) {
    snprintf (out, out_size, "%s", plan != NULL ? plan->refusal : "");
    return;
  }
  snprintf (out, out_size, "cuDNN %zu algorithm %d, %s, workspace %.1f MiB, chosen in %.2f ms",
            conv->api.cudnnGetVersion (), (int) plan->algo,
            plan->math == CUDNN_FMA_MATH ? "fma" : plan->math == CUDNN_TENSOR_OP_MATH
            ? "tensor ops" : "tensor ops with conversion",
            (double) plan->workspace_bytes / (1 << 20), plan->build_ms);
}
