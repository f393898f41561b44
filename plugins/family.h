/* The model-family plugin ABI: what a family (Wan, later Flux, Qwen-Image,
 * Hunyuan Video) gives the worker so it can recognise, load and run that
 * family's checkpoints. Plain C, versioned; a family is one shared module
 * (raylight-family-NAME.so) exporting one function:
 *
 *   const RlFamily *raylight_family_entry (void);
 *
 * The module links the runtime (tensors, status, checkpoint reader, CPU
 * backend) from libraylight-core.so, the same shared library the worker
 * links, so a process has one runtime and error messages set inside a
 * family reach the worker's rl_last_error(). The worker finds modules on
 * $RAYLIGHT_PLUGIN_PATH. Model code runs on whatever backend the worker
 * hands it, through backend->ops.
 *
 * Every function returns a negative RlStatus on failure with a message in
 * rl_last_error() that names the file or tensor and says what to do. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/checkpoint/safetensors.h"
#include "workers/comm/comm.h"
#include "workers/fsdp/fsdp-store.h"
#include "workers/runtime/backend.h"

#define RL_FAMILY_ABI_VERSION 4
#define RL_FAMILY_ENTRY_SYMBOL "raylight_family_entry"

typedef enum {
  RL_MODEL_DIFFUSION    = 1,   /* UNETLoader's files */
  RL_MODEL_TEXT_ENCODER = 2,   /* CLIPLoader's files */
  RL_MODEL_VAE          = 3,   /* VAELoader's files */
} RlModelKind;

/* How latents of a diffusion model or VAE look, and ComfyUI's
 * process_in/out normalisation (z' = (z − mean)/std · scale). */
typedef struct {
  int           channels;            /* 16 (Wan 2.1), 48 (Wan 2.2 5B) */
  int           time_compression;    /* frames per latent frame after the first: 4 */
  int           space_compression;   /* pixels per latent pixel: 8 or 16 */
  const float  *mean;                /* [channels] */
  const float  *std;                 /* [channels] */
  float         scale;               /* 1.0 for Wan */
  /* ComfyUI's latent_rgb_factors / _bias, the cheap preview: for a latent
   * in model space, rgb[c] = Σ_k z[k]·rgb_factors[k·3 + c] + rgb_bias[c],
   * roughly in −1..1. NULL when the family has none. */
  const float  *rgb_factors;         /* [channels · 3] */
  const float  *rgb_bias;            /* [3] */
} RlLatentFormat;

/* ComfyUI's model sampling of a diffusion model (ModelSamplingSD3 etc.). */
typedef struct {
  int    is_flow;                    /* CONST / rectified flow */
  float  shift;                      /* default shift (Wan: 8.0) */
  float  multiplier;                 /* timestep = sigma · multiplier (1000) */
} RlFamilySampling;

/* VAEDecodeTiled's widgets: sizes in pixels and frames; 0 = untiled. */
typedef struct {
  int  tile_size;
  int  tile_overlap;
  int  temporal_size;
  int  temporal_overlap;
} RlVaeTiling;

/* Sequence parallelism of a diffusion forward (workers/parallel): `sp` is
 * the group whose ranks split the token sequence by the one rule
 * (seq-split.h); `ulysses` and `ring` are its USP groups (NULL for a
 * degree of 1). Owned by the worker; valid until the next set_parallel. */
typedef struct {
  RlComm  *sp;
  RlComm  *ulysses;
  RlComm  *ring;
  int      ulysses_degree;
  int      ring_degree;
} RlParallelContext;

typedef struct RlFamilyModel RlFamilyModel;

typedef struct RlFamily {
  uint32_t     abi_version;          /* RL_FAMILY_ABI_VERSION */
  uint32_t     struct_size;          /* sizeof (RlFamily) of the module */
  const char  *name;                 /* "wan" */
  const char  *description;

  /* Whether `st` belongs to this family. RL_OK with *kind and a variant
   * name ("Wan2.1 T2V 1.3B") when it does; RL_E_NOT_FOUND when it does not
   * (a message, if any, says what the file looks like instead and is shown
   * to the user); RL_E_NOT_SUPPORTED when it is this family's but a
   * variant Raylight refuses, with a message saying so. */
  RlStatus   (*probe)            (const RlSafetensors *st,
                                  RlModelKind         *kind,
                                  char                *variant,
                                  size_t               variant_size);

  /* Loads `st` (kept open by the caller while the model lives) onto ctx's
   * device. `options` is the loader's option string ("dtype=bf16"). */
  RlStatus   (*load)             (const RlBackend     *backend,
                                  RlContext           *ctx,
                                  RlSafetensors       *st,
                                  RlModelKind          kind,
                                  const char          *options,
                                  RlFamilyModel      **out);
  void       (*unload)           (RlFamilyModel       *model);
  /* Device memory the model holds beyond the page cache. */
  uint64_t   (*device_bytes)     (const RlFamilyModel *model);

  /* RL_MODEL_DIFFUSION: latent format and default sampling. */
  RlStatus   (*latent_format)    (const RlFamilyModel *model,
                                  RlLatentFormat      *out);
  RlStatus   (*model_sampling)   (const RlFamilyModel *model,
                                  RlFamilySampling    *out);
  /* The raw model output (velocity for flow models) for latent x
   * f32 [B, C, T, H, W] at timestep[b] = sigma·multiplier, text context
   * [B, L, D]; out f32 like x. */
  RlStatus   (*diffusion_forward)(RlFamilyModel       *model,
                                  const RlTensor      *x,
                                  const float         *timestep,
                                  const RlTensor      *context,
                                  RlTensor            *out);

  /* RL_MODEL_TEXT_ENCODER: `text` (ComfyUI prompt syntax) to conditioning
   * f32 [1, L, D] allocated on ctx's device (*out owned by the caller). */
  RlStatus   (*encode_text)      (RlFamilyModel       *model,
                                  const char          *text,
                                  RlTensor            *out);

  /* RL_MODEL_VAE: raw latent f32 [B, C, T, h, w] (as the sampler returns
   * it; the VAE applies its own normalisation where the family needs it)
   * to images f32 [B, 3, F, H, W] in 0..1; `tiling` NULL decodes whole. */
  RlStatus   (*vae_decode)       (RlFamilyModel       *model,
                                  const RlTensor      *latent,
                                  const RlVaeTiling   *tiling,
                                  RlTensor            *images);
  /* Output shape of vae_decode / vae_encode for an input shape. */
  void       (*vae_decoded_shape)(const RlFamilyModel *model,
                                  const int64_t       *latent_shape,
                                  int64_t             *image_shape);
  /* images f32 [B, 3, F, H, W] in 0..1 to latent (process_in not applied). */
  RlStatus   (*vae_encode)       (RlFamilyModel       *model,
                                  const RlTensor      *images,
                                  RlTensor            *latent);
  void       (*vae_encoded_shape)(const RlFamilyModel *model,
                                  const int64_t       *image_shape,
                                  int64_t             *latent_shape);

  /* RL_MODEL_DIFFUSION (ABI 3): makes later diffusion_forward calls
   * sequence-parallel over `parallel`, or single-rank for NULL. Every rank
   * of the group then calls diffusion_forward with the same inputs and
   * gets the whole output. Refuses degrees the model cannot use (heads
   * not divisible by the Ulysses degree) with the valid degrees listed.
   * NULL when the family has no sequence parallelism. */
  RlStatus   (*set_parallel)     (RlFamilyModel           *model,
                                  const RlParallelContext *parallel);

  /* ABI 4: load() with a diffusion model's block weights sharded over
   * `fsdp->group` (each rank reads and keeps 1/N of every block) and/or
   * in pinned host memory, gathered one block ahead of use
   * (workers/fsdp/fsdp-store.h). Collective: every rank of the group
   * loads the file together and then runs every diffusion_forward
   * (SPMD). Other model kinds load as with load(). NULL when the family
   * cannot shard its weights. */
  RlStatus   (*load_sharded)     (const RlBackend     *backend,
                                  RlContext           *ctx,
                                  RlSafetensors       *st,
                                  RlModelKind          kind,
                                  const char          *options,
                                  const RlFsdpOptions *fsdp,
                                  RlFamilyModel      **out);
} RlFamily;

typedef const RlFamily *(*RlFamilyEntryFunc) (void);
