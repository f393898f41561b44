#include "workers/jobs/job-params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void
put_float (RlWireWriter *w,
           float         v)
{
  uint32_t bits;

  memcpy (&bits, &v, sizeof bits);
  rl_wire_put_u32 (w, bits);
}

static float
get_float (RlWireReader *r,
           const char   *field)
{
  uint32_t bits = rl_wire_get_u32 (r, field);
  float v;

  memcpy (&v, &bits, sizeof v);
  if (!isfinite (v) && rl_wire_reader_ok (r))
    rl_wire_reader_fail (r, field, "is not a finite number");
  return v;
}

static void
begin (RlWireWriter *w)
{
  rl_wire_put_u32 (w, RL_JOB_PARAMS_VERSION);
}

static void
check_version (RlWireReader *r)
{
  uint32_t version = rl_wire_get_u32 (r, "version");

  if (rl_wire_reader_ok (r) && version != RL_JOB_PARAMS_VERSION)
    rl_wire_reader_fail (r, "version", "is from another Raylight version; restart the worker pool");
}

static void
put_model (RlWireWriter     *w,
           const RlJobModel *m)
{
  rl_wire_put_string (w, m->path ? m->path : "");
  rl_wire_put_string (w, m->options ? m->options : "");
}

static void
get_model (RlWireReader *r,
           RlJobModel   *m)
{
  m->path = rl_wire_get_string (r, "model path");
  m->options = rl_wire_get_string (r, "model options");
  if (rl_wire_reader_ok (r) && (m->path == NULL || m->path[0] == '\0'))
    rl_wire_reader_fail (r, "model path", "is empty");
}

static void
clear_model (RlJobModel *m)
{
  free (m->path);
  free (m->options);
  m->path = m->options = NULL;
}

static int
finish (RlWireReader *r,
        RlErrorInfo  *err)
{
  return rl_wire_reader_finish (r, err);
}

void
rl_text_encode_params_encode (const RlTextEncodeParams *p,
                              RlWireWriter             *w)
{
  begin (w);
  put_model (w, &p->model);
  rl_wire_put_string (w, p->text ? p->text : "");
}

int
rl_text_encode_params_decode (const void          *data,
                              size_t               size,
                              RlTextEncodeParams  *p,
                              RlErrorInfo         *err)
{
  RlWireReader r;
  int status;

  memset (p, 0, sizeof *p);
  rl_wire_reader_init (&r, data, size, "text-encode parameters");
  check_version (&r);
  get_model (&r, &p->model);
  p->text = rl_wire_get_string (&r, "text");
  status = finish (&r, err);
  if (status != 0)
    rl_text_encode_params_clear (p);
  return status;
}

void
rl_text_encode_params_clear (RlTextEncodeParams *p)
{
  clear_model (&p->model);
  free (p->text);
  p->text = NULL;
}

void
rl_sample_params_init (RlSampleParams *p)
{
  memset (p, 0, sizeof *p);
  p->steps = 20;
  p->cfg = 1.0f;
  p->denoise = 1.0f;
  p->end_step = 10000;
  p->add_noise = true;
}

void
rl_sample_params_encode (const RlSampleParams *p,
                         RlWireWriter         *w)
{
  begin (w);
  put_model (w, &p->model);
  rl_wire_put_u64 (w, p->seed);
  rl_wire_put_u32 (w, p->steps);
  put_float (w, p->cfg);
  rl_wire_put_string (w, p->sampler ? p->sampler : "");
  rl_wire_put_string (w, p->scheduler ? p->scheduler : "");
  put_float (w, p->denoise);
  rl_wire_put_u32 (w, p->start_step);
  rl_wire_put_u32 (w, p->end_step);
  rl_wire_put_u32 (w, (p->add_noise ? 1u : 0u) | (p->return_with_leftover_noise ? 2u : 0u) |
                      (p->has_shift ? 4u : 0u) | (p->has_noise_mask ? 8u : 0u));
  put_float (w, p->has_shift ? p->shift : 0.0f);
  rl_wire_put_u32 (w, p->preview_every);
  rl_wire_put_string (w, p->attention ? p->attention : "");
  rl_wire_put_u64 (w, p->batch_index);
}

int
rl_sample_params_decode (const void      *data,
                         size_t           size,
                         RlSampleParams  *p,
                         RlErrorInfo     *err)
{
  RlWireReader r;
  uint32_t flags;
  int status;

  memset (p, 0, sizeof *p);
  rl_wire_reader_init (&r, data, size, "sample parameters");
  check_version (&r);
  get_model (&r, &p->model);
  p->seed = rl_wire_get_u64 (&r, "seed");
  p->steps = rl_wire_get_u32 (&r, "steps");
  p->cfg = get_float (&r, "cfg");
  p->sampler = rl_wire_get_string (&r, "sampler");
  p->scheduler = rl_wire_get_string (&r, "scheduler");
  p->denoise = get_float (&r, "denoise");
  p->start_step = rl_wire_get_u32 (&r, "start_step");
  p->end_step = rl_wire_get_u32 (&r, "end_step");
  flags = rl_wire_get_u32 (&r, "flags");
  p->add_noise = (flags & 1u) != 0;
  p->return_with_leftover_noise = (flags & 2u) != 0;
  p->has_shift = (flags & 4u) != 0;
  p->has_noise_mask = (flags & 8u) != 0;
  p->shift = get_float (&r, "shift");
  p->preview_every = rl_wire_get_u32 (&r, "preview_every");
  p->attention = rl_wire_get_string (&r, "attention");
  p->batch_index = rl_wire_get_u64 (&r, "batch_index");
  if (rl_wire_reader_ok (&r) && p->batch_index > 4096)
    rl_wire_reader_fail (&r, "batch_index", "must be 0 to 4096");
  if (rl_wire_reader_ok (&r) && (p->steps == 0 || p->steps > 10000))
    rl_wire_reader_fail (&r, "steps", "must be 1 to 10000");
  if (rl_wire_reader_ok (&r) && (p->denoise < 0.0f || p->denoise > 1.0f))
    rl_wire_reader_fail (&r, "denoise", "must be between 0 and 1");
  status = finish (&r, err);
  if (status != 0)
    rl_sample_params_clear (p);
  return status;
}

void
rl_sample_params_clear (RlSampleParams *p)
{
  clear_model (&p->model);
  free (p->sampler);
  free (p->scheduler);
  free (p->attention);
  p->sampler = p->scheduler = p->attention = NULL;
}

void
rl_vae_params_encode (const RlVaeParams *p,
                      RlWireWriter      *w)
{
  begin (w);
  put_model (w, &p->model);
  rl_wire_put_u32 (w, p->tile_size);
  rl_wire_put_u32 (w, p->tile_overlap);
  rl_wire_put_u32 (w, p->temporal_size);
  rl_wire_put_u32 (w, p->temporal_overlap);
}

int
rl_vae_params_decode (const void   *data,
                      size_t        size,
                      RlVaeParams  *p,
                      RlErrorInfo  *err)
{
  RlWireReader r;
  int status;

  memset (p, 0, sizeof *p);
  rl_wire_reader_init (&r, data, size, "VAE parameters");
  check_version (&r);
  get_model (&r, &p->model);
  p->tile_size = rl_wire_get_u32 (&r, "tile_size");
  p->tile_overlap = rl_wire_get_u32 (&r, "tile_overlap");
  p->temporal_size = rl_wire_get_u32 (&r, "temporal_size");
  p->temporal_overlap = rl_wire_get_u32 (&r, "temporal_overlap");
  if (rl_wire_reader_ok (&r) && p->tile_size != 0 && p->tile_overlap >= p->tile_size)
    rl_wire_reader_fail (&r, "tile_overlap", "must be smaller than tile_size");
  status = finish (&r, err);
  if (status != 0)
    rl_vae_params_clear (p);
  return status;
}

void
rl_vae_params_clear (RlVaeParams *p)
{
  clear_model (&p->model);
}
