/* The attention plugin ABI: one shared module per variant
 * (raylight-attention-NAME.so) exporting one entry function.
 *
 * Plain C, no dependency on the runtime: tensors cross the boundary as raw
 * pointers (host memory for CPU variants, device memory for CUDA variants)
 * in one fixed layout, so a variant built against an older header keeps
 * working. Every struct starts with its size; a host fills the fields it
 * knows and a variant reads only the fields that fit in struct_size.
 *
 *   layout (RL_ATTENTION_LAYOUT_BLHD), all contiguous:
 *     q   [B, Lq, H, D]       k [B, Lk, H, D]      v [B, Lk, H, Dv]
 *     out [B, Lq, H, Dv]      lse f32 [B, H, Lq]   (may be NULL)
 *   out[b,i,h,:] = Σ_j softmax_j(scale · q[b,i,h,:]·k[b,j,h,:]) v[b,j,h,:]
 *   lse[b,h,i]   = log Σ_j exp(scale · q·k)          (natural log)
 *   Keys j ≥ kv_lengths[b] (when given) are left out; a row with no key
 *   gets out = 0 and lse = −inf, so merging it changes nothing.
 *
 * The log-sum-exp lets ring attention merge partial results over key
 * chunks (attention-merge.h). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RL_ATTENTION_ABI_VERSION 1

/* The symbol every variant exports, of type RlAttentionEntryFn. */
#define RL_ATTENTION_ENTRY_SYMBOL "raylight_attention_variant"

/* File names the loader picks up in a plugin folder. */
#define RL_ATTENTION_FILE_PREFIX "raylight-attention-"
#define RL_ATTENTION_FILE_SUFFIX ".so"

typedef enum {
  RL_ATTENTION_OK          = 0,
  RL_ATTENTION_UNSUPPORTED = 1,   /* this problem is not for this variant */
  RL_ATTENTION_UNAVAILABLE = 2,   /* missing library, GPU, or architecture */
  RL_ATTENTION_INVALID     = 3,   /* bad arguments (NULL pointer, sizes) */
  RL_ATTENTION_FAILED      = 4,   /* a launch or library call failed */
} RlAttentionResult;

typedef enum {
  RL_ATTENTION_BACKEND_CPU  = 0,   /* pointers are host memory */
  RL_ATTENTION_BACKEND_CUDA = 1,   /* pointers are device memory */
} RlAttentionBackend;

/* Element types; capability masks use (1u << type). */
typedef enum {
  RL_ATTENTION_F32  = 0,
  RL_ATTENTION_F16  = 1,
  RL_ATTENTION_BF16 = 2,
} RlAttentionDType;

#define RL_ATTENTION_DTYPE_BIT(t) (1u << (unsigned) (t))

typedef enum {
  RL_ATTENTION_LAYOUT_BLHD = 0,   /* the only layout of ABI version 1 */
} RlAttentionLayout;

/* What is computed. q, k and v share qkv_dtype; out has out_dtype. */
typedef struct {
  uint32_t struct_size;      /* sizeof (RlAttentionProblem) of the host */
  int32_t  batch;            /* B >= 1 */
  int32_t  heads;            /* H >= 1 (q, k and v have the same heads) */
  int32_t  q_len;            /* Lq >= 1 */
  int32_t  kv_len;           /* Lk >= 1 (row length of k and v) */
  int32_t  head_dim;         /* D of q and k */
  int32_t  v_head_dim;       /* Dv of v and out */
  int32_t  qkv_dtype;        /* RlAttentionDType */
  int32_t  out_dtype;        /* RlAttentionDType */
  int32_t  layout;           /* RlAttentionLayout */
  int32_t  has_kv_lengths;   /* 1: args.kv_lengths holds B key counts */
  int32_t  device_index;     /* CUDA ordinal (0 for CPU variants) */
  float    scale;            /* softmax scale, usually 1/√D */
} RlAttentionProblem;

/* The memory of one call. */
typedef struct {
  uint32_t       struct_size;   /* sizeof (RlAttentionArgs) of the host */
  const void    *q;
  const void    *k;
  const void    *v;
  void          *out;
  float         *lse;           /* may be NULL */
  const int32_t *kv_lengths;    /* HOST memory, B entries in [0, Lk]; or NULL */
  void          *stream;        /* cudaStream_t; NULL = the legacy stream */
} RlAttentionArgs;

/* A variant's state on one device (workspace, library handles). Opaque to
 * the host; used by one thread at a time. */
typedef struct RlAttentionInstance RlAttentionInstance;

typedef struct {
  uint32_t    abi_version;       /* RL_ATTENTION_ABI_VERSION it was built for */
  uint32_t    struct_size;       /* sizeof (RlAttentionVariant) */
  const char *name;              /* "reference", "naive", "flash", "cudnn" */
  const char *description;       /* one line for the UI */

  /* Capabilities, for listing and a first filter; supports() decides. */
  int32_t     backend;           /* RlAttentionBackend */
  uint32_t    qkv_dtypes;        /* mask of RL_ATTENTION_DTYPE_BIT */
  uint32_t    out_dtypes;        /* mask of RL_ATTENTION_DTYPE_BIT */
  const int32_t *head_dims;      /* supported D (= Dv), 0-terminated; NULL: any */
  int32_t     max_head_dim;      /* with head_dims NULL: largest D; 0 none */
  int32_t     min_compute_capability;  /* 80 = sm_80; 0 on CPU */
  int32_t     max_compute_capability;  /* 0: no upper bound */
  int32_t     supports_kv_lengths;     /* padded keys (per-batch lengths) */

  /* Creates the state on `device_index`. RL_ATTENTION_UNAVAILABLE with a
   * reason in `error` when the variant cannot run here (no library, no GPU,
   * architecture out of range). */
  int    (*open)     (int32_t device_index, RlAttentionInstance **out,
                      char *error, size_t error_size);
  void   (*close)    (RlAttentionInstance *instance);   /* NULL-safe */

  /* RL_ATTENTION_OK when run() would accept `problem`; otherwise
   * RL_ATTENTION_UNSUPPORTED and the reason in `why`. Cheap, no GPU work. */
  int    (*supports) (RlAttentionInstance *instance,
                      const RlAttentionProblem *problem,
                      char *why, size_t why_size);

  /* Expected milliseconds of run() for `problem`, for choosing among
   * variants that support it (lower is better); a rough model is fine. */
  double (*cost_hint) (RlAttentionInstance *instance,
                       const RlAttentionProblem *problem);

  /* Computes out (and lse when non-NULL) for `problem`. Asynchronous on
   * args->stream for CUDA variants; writes every element of out and lse. */
  int    (*run)      (RlAttentionInstance *instance,
                      const RlAttentionProblem *problem,
                      const RlAttentionArgs *args,
                      char *error, size_t error_size);

  /* 1: results are deliberately approximate (quantised arithmetic, e.g.
   * `sage`), so the selector uses this variant only when it is named,
   * never for "auto" or as a fallback. Added after the first release of
   * ABI 1: a table whose struct_size ends before it counts as 0. */
  int32_t     approximate;
} RlAttentionVariant;

/* The fields every ABI-1 table has (tables built before `approximate`). */
#define RL_ATTENTION_VARIANT_MIN_SIZE offsetof (RlAttentionVariant, approximate)

/* Whether `variant` declares itself approximate. */
static inline int
rl_attention_variant_is_approximate (const RlAttentionVariant *variant)
{
  return variant->struct_size >= offsetof (RlAttentionVariant, approximate) + sizeof (int32_t)
         && variant->approximate != 0;
}

/* The entry function: the variant's table when it can serve a host of
 * `host_abi_version`, NULL otherwise. */
typedef const RlAttentionVariant *(*RlAttentionEntryFn) (uint32_t host_abi_version);

/* "f32", "f16", "bf16" or "?". */
static inline const char *
rl_attention_dtype_name (int32_t dtype)
{
  switch (dtype)
    {
    case RL_ATTENTION_F32:  return "f32";
    case RL_ATTENTION_F16:  return "f16";
    case RL_ATTENTION_BF16: return "bf16";
    default:                return "?";
    }
}

/* Bytes of one element, 0 for an unknown type. */
static inline size_t
rl_attention_dtype_size (int32_t dtype)
{
  switch (dtype)
    {
    case RL_ATTENTION_F32:  return 4;
    case RL_ATTENTION_F16:
    case RL_ATTENTION_BF16: return 2;
    default:                return 0;
    }
}

/* Multiply-adds of QKᵀ and PV, times 2: the FLOP count benchmarks divide
 * by (4·B·H·Lq·Lk·D for D = Dv). */
static inline double
rl_attention_flops (const RlAttentionProblem *p)
{
  return 2.0 * p->batch * p->heads * (double) p->q_len * p->kv_len
         * (double) (p->head_dim + p->v_head_dim);
}

#ifdef __cplusplus
}
#endif
