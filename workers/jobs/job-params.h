/* The parameters of model jobs (ENCODE_TEXT, SAMPLE, VAE_ENCODE,
 * VAE_DECODE) as they travel in a request's opaque blob. The app encodes
 * them from node inputs; every worker decodes them. Tensors travel beside
 * the blob as sealed memfds, in the order each struct documents.
 *
 * Encoding: the protocol's wire writer (little-endian, length-prefixed
 * strings), a leading version number, floats as their IEEE-754 bits.
 * Decoders check every field and say which one is wrong. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "workers/protocol/error-info.h"
#include "workers/protocol/wire.h"

#define RL_JOB_PARAMS_VERSION 3   /* 2: SAMPLE carries an attention variant; 3: a batch_index */

/* The model a job runs on: the cache key of LOAD_MODEL. */
typedef struct {
  char *path;
  char *options;
} RlJobModel;

/* ENCODE_TEXT: tensors none; result tensor 0 = conditioning f32 [1, L, D]. */
typedef struct {
  RlJobModel  model;
  char       *text;
} RlTextEncodeParams;

/* SAMPLE: tensors 0 = latent f32 [B, C, T, H, W] (raw, as EmptyLatent or
 * VAEEncode give it), 1 = positive conditioning, 2 = negative conditioning
 * (absent when cfg == 1), then 3 = noise mask f32 [B, 1|C, T, H, W] when
 * has_noise_mask. Result tensor 0 = the latent after sampling. Semantics
 * are KSamplerAdvanced's; KSampler is start 0, end 10000, add_noise on,
 * no leftover noise. */
typedef struct {
  RlJobModel  model;
  uint64_t    seed;
  uint32_t    steps;
  float       cfg;
  char       *sampler;          /* "euler", "uni_pc", ... */
  char       *scheduler;        /* "simple", "normal", ... */
  float       denoise;          /* 1.0 unless img2img */
  uint32_t    start_step;
  uint32_t    end_step;         /* 10000: to the end */
  bool        add_noise;
  bool        return_with_leftover_noise;
  bool        has_shift;        /* ModelSamplingSD3 override */
  float       shift;
  bool        has_noise_mask;
  uint32_t    preview_every;    /* send a preview latent every N steps; 0 none */
  char       *attention;        /* attention variant for this job ("flash", "cudnn",
                                 * ...); NULL or "" = the worker's default */
  uint64_t    batch_index;      /* ComfyUI's latent batch_index of item 0 (items
                                 * follow): noise is drawn for indices 0..last
                                 * and item b gets draw batch_index + b */
} RlSampleParams;

/* VAE_DECODE: tensor 0 = latent (raw); result tensor 0 = images f32
 * [B, F, H, W, 3] in 0..1 (ComfyUI's IMAGE layout, frames of all batch
 * items in order). VAE_ENCODE: tensor 0 = images f32 [N, H, W, 3];
 * result tensor 0 = latent (raw). tile_size 0 = untiled. */
typedef struct {
  RlJobModel  model;
  uint32_t    tile_size;        /* in pixels, as VAEDecodeTiled's widget */
  uint32_t    tile_overlap;
  uint32_t    temporal_size;    /* VAEDecodeTiled: frames per chunk, 0 all */
  uint32_t    temporal_overlap;
} RlVaeParams;

void  rl_text_encode_params_encode (const RlTextEncodeParams *p, RlWireWriter *w);
int   rl_text_encode_params_decode (const void *data, size_t size,
                                    RlTextEncodeParams *p, RlErrorInfo *err);
void  rl_text_encode_params_clear  (RlTextEncodeParams *p);

void  rl_sample_params_init        (RlSampleParams *p);
void  rl_sample_params_encode      (const RlSampleParams *p, RlWireWriter *w);
int   rl_sample_params_decode      (const void *data, size_t size,
                                    RlSampleParams *p, RlErrorInfo *err);
void  rl_sample_params_clear       (RlSampleParams *p);

void  rl_vae_params_encode         (const RlVaeParams *p, RlWireWriter *w);
int   rl_vae_params_decode         (const void *data, size_t size,
                                    RlVaeParams *p, RlErrorInfo *err);
void  rl_vae_params_clear          (RlVaeParams *p);
