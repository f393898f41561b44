/* The Wan 2.1 and 2.2 VAEs on the CPU backend: decode, encode and tiled
 * decode of tiny models (real key layout, random bf16 weights) against the
 * PyTorch reference's outputs (tests/reference/wan_vae.py make-tiny), the
 * tiled decode's memory bound and agreement with the untiled decode, the
 * 2.1 decode's one-frame temporal-upsample cache (ComfyUI's) against the
 * original two frames, the
 * latent normalisation, and every way a checkpoint can be wrong. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugins/wan/vae.h"
#include "tests/plain-test.h"
#include "tools/make-checkpoint-writer.h"

static char fixture_dir[1024];

static const char *
fixture (const char *name)
{
  static char path[1200];
  snprintf (path, sizeof path, "%s/%s", fixture_dir, name);
  return path;
}

/* One tiny VAE and its cases, open for a test. */
typedef struct {
  const RlBackend *be;
  RlContext       *ctx;
  RlSafetensors   *ckpt, *cases;
  WanVaeConfig     config;
  WanVae          *vae;
} Tiny;

static bool
tiny_open_as (Tiny *t, const char *version, RlDType act)
{
  char name[64];

  memset (t, 0, sizeof *t);
  t->be = rl_backend_cpu ();
  if (t->be->context_new (0, &t->ctx) != RL_OK)
    return false;
  snprintf (name, sizeof name, "tiny-vae%s.safetensors", version);
  if (rl_safetensors_open (fixture (name), &t->ckpt) != RL_OK)
    return false;
  snprintf (name, sizeof name, "tiny-vae%s-cases.safetensors", version);
  if (rl_safetensors_open (fixture (name), &t->cases) != RL_OK)
    return false;
  if (wan_vae_config_detect (t->ckpt, &t->config) != RL_OK)
    return false;
  /* The fixture says which temporal-upsample cache the reference decoded
   * with (wan_vae.py writes decode_time_cache); fixtures without it were
   * made with the original Wan code's two cached frames. */
  const RlSafetensorsTensor *mode = rl_safetensors_find (t->cases, "decode_time_cache");
  t->config.upsample_time_cache = mode != NULL ? (int) *(const int64_t *) mode->data : 2;
  return wan_vae_load (t->be, t->ctx, t->ckpt, &t->config, act, &t->vae) == RL_OK;
}

static bool
tiny_open (Tiny *t, const char *version)
{
  return tiny_open_as (t, version, RL_F32);
}

static void
tiny_close (Tiny *t)
{
  wan_vae_free (t->vae);
  rl_safetensors_close (t->cases);
  rl_safetensors_close (t->ckpt);
  if (t->ctx != NULL)
    t->be->context_free (t->ctx);
}

static RlTensor
case_tensor (Tiny *t, const char *name)
{
  RlTensor v = { 0 };
  const RlSafetensorsTensor *st = rl_safetensors_find (t->cases, name);

  if (st != NULL)
    rl_safetensors_view (t->cases, st, &v);
  return v;
}

/* A host f32 tensor of `like`'s shape (or `shape`), filled with NaN so
 * unwritten elements show. Free with host_free. */
static RlTensor
host_poisoned (int ndim, const int64_t *shape)
{
  RlTensor t = { 0 };
  int64_t n = 1;

  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  float *data = malloc ((size_t) n * sizeof (float) + 1);
  for (int64_t i = 0; data != NULL && i < n; i++)
    data[i] = NAN;
  if (data != NULL)
    rl_tensor_wrap (&t, data, rl_device_cpu (), RL_F32, ndim, shape, NULL, NULL);
  return t;
}

static void
host_free (RlTensor *t)
{
  free (t->data);
  rl_tensor_release (t);
}

typedef struct {
  double rel, max_abs;
  bool   finite;
} Diff;

static Diff
compare (const RlTensor *got, const RlTensor *want)
{
  Diff d = { 0, 0, true };
  double err2 = 0, ref2 = 0;

  for (int64_t i = 0; i < rl_tensor_numel (want); i++)
    {
      double a = ((const float *) got->data)[i], b = ((const float *) want->data)[i];
      if (!isfinite (a))
        d.finite = false;
      err2 += (a - b) * (a - b);
      ref2 += b * b;
      if (fabs (a - b) > d.max_abs)
        d.max_abs = fabs (a - b);
    }
  d.rel = sqrt (err2 / (ref2 > 0 ? ref2 : 1));
  return d;
}

/* ------------------------------------------------------- against PyTorch */

static void
check_decode (const char *version, int z, int space)
{
  Tiny t;
  RlTensor in, want, out;
  Diff d;

  PT_REQUIRE (tiny_open (&t, version), "tiny VAE %s: %s", version, rl_last_error ());
  PT_CHECK (t.config.z_dim == z && t.config.space_factor == space && t.config.dim == 8,
            "detected z %d space %d dim %d", t.config.z_dim, t.config.space_factor, t.config.dim);
  in = case_tensor (&t, "decode_in");
  want = case_tensor (&t, "decode_out");
  out = host_poisoned (5, want.shape);
  PT_CHECK (wan_vae_decode (t.vae, &in, &out) == RL_OK, "decode: %s", rl_last_error ());
  d = compare (&out, &want);
  printf ("# Wan%s VAE decode %lldx%lld frames vs PyTorch fp32: rel L2 %.3g, max abs %.3g\n", version,
          (long long) in.shape[2], (long long) want.shape[2], d.rel, d.max_abs);
  PT_CHECK (d.finite, "output has NaN (unwritten elements)");
  PT_CHECK (d.rel <= 1e-4, "relative error %.3g > 1e-4", d.rel);
  host_free (&out);
  tiny_close (&t);
}

static void
test_decode_21 (void)
{
  check_decode ("21", 16, 8);
}

static void
test_decode_22 (void)
{
  check_decode ("22", 48, 16);
}

static void
check_encode (const char *version)
{
  Tiny t;
  RlTensor in, want, out;
  Diff d;

  PT_REQUIRE (tiny_open (&t, version), "tiny VAE %s: %s", version, rl_last_error ());
  in = case_tensor (&t, "encode_in");
  want = case_tensor (&t, "encode_out");
  out = host_poisoned (5, want.shape);
  PT_CHECK (wan_vae_encode (t.vae, &in, &out) == RL_OK, "encode: %s", rl_last_error ());
  d = compare (&out, &want);
  printf ("# Wan%s VAE encode %lld frames vs PyTorch fp32: rel L2 %.3g, max abs %.3g\n", version,
          (long long) in.shape[2], d.rel, d.max_abs);
  PT_CHECK (d.finite, "latent has NaN (unwritten elements)");
  PT_CHECK (d.rel <= 1e-4, "relative error %.3g > 1e-4", d.rel);
  host_free (&out);
  tiny_close (&t);
}

static void
test_encode_21 (void)
{
  check_encode ("21");
}

static void
test_encode_22 (void)
{
  check_encode ("22");
}

/* Wan 2.1 as ComfyUI decodes it (temporal-upsample convs frame by frame on
 * a one-frame cache, the default) against the original Wan code's two
 * cached frames: equal up to the second latent frame's frames (1 + 4), then
 * apart, since the first conv that would see two cached frames is the
 * second upsample's on the third latent frame. */
static void
test_decode_21_comfy_time_cache (void)
{
  Tiny t;
  WanVaeConfig detected;
  WanVae *comfy = NULL, *original = NULL;
  RlTensor in, a, b;
  double early = 0, late = 0;

  PT_REQUIRE (tiny_open (&t, "21"), "tiny VAE 21: %s", rl_last_error ());
  PT_REQUIRE (wan_vae_config_detect (t.ckpt, &detected) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (detected.upsample_time_cache == 1, "Wan 2.1 detected with a %d-frame upsample cache; "
            "ComfyUI's decode keeps 1", detected.upsample_time_cache);
  PT_REQUIRE (wan_vae_load (t.be, t.ctx, t.ckpt, &detected, RL_F32, &comfy) == RL_OK, "%s", rl_last_error ());
  detected.upsample_time_cache = 2;
  PT_REQUIRE (wan_vae_load (t.be, t.ctx, t.ckpt, &detected, RL_F32, &original) == RL_OK, "%s",
              rl_last_error ());
  in = case_tensor (&t, "decode_in");
  PT_REQUIRE (in.shape[2] == 3, "the fixture has %lld latent frames, the test needs 3", (long long) in.shape[2]);
  const int64_t shape[5] = { in.shape[0], 3, 9, in.shape[3] * 8, in.shape[4] * 8 };
  a = host_poisoned (5, shape);
  b = host_poisoned (5, shape);
  PT_CHECK (wan_vae_decode (comfy, &in, &a) == RL_OK, "decode: %s", rl_last_error ());
  PT_CHECK (wan_vae_decode (original, &in, &b) == RL_OK, "decode: %s", rl_last_error ());
  const int64_t frame = shape[3] * shape[4];
  for (int64_t bc = 0; bc < shape[0] * shape[1]; bc++)
    for (int64_t f = 0; f < shape[2]; f++)
      for (int64_t i = 0; i < frame; i++)
        {
          int64_t at = (bc * shape[2] + f) * frame + i;
          double d = fabs ((double) ((float *) a.data)[at] - ((float *) b.data)[at]);
          if (f < 5 && d > early)
            early = d;
          if (f >= 5 && d > late)
            late = d;
        }
  printf ("# Wan2.1 VAE, ComfyUI's one-frame upsample cache vs the original two: frames 0-4 max abs %.3g, "
          "frames 5-8 max abs %.3g\n", early, late);
  PT_CHECK (early == 0, "frames before the third latent frame differ by %.3g", early);
  PT_CHECK (late > 1e-3, "frames of the third latent frame agree (%.3g): the cache length is not applied", late);
  host_free (&a);
  host_free (&b);
  wan_vae_free (original);
  wan_vae_free (comfy);
  tiny_close (&t);
}

/* bf16 activations and caches (the GPU setting) stay close to the fp32
 * reference: exercises every dtype conversion on the way in and out. */
static void
check_bf16 (const char *version)
{
  Tiny t;
  RlTensor in, want, out;
  Diff d, e;

  PT_REQUIRE (tiny_open_as (&t, version, RL_BF16), "tiny VAE %s: %s", version, rl_last_error ());
  in = case_tensor (&t, "decode_in");
  want = case_tensor (&t, "decode_out");
  out = host_poisoned (5, want.shape);
  PT_CHECK (wan_vae_decode (t.vae, &in, &out) == RL_OK, "decode: %s", rl_last_error ());
  d = compare (&out, &want);
  host_free (&out);
  in = case_tensor (&t, "encode_in");
  want = case_tensor (&t, "encode_out");
  out = host_poisoned (5, want.shape);
  PT_CHECK (wan_vae_encode (t.vae, &in, &out) == RL_OK, "encode: %s", rl_last_error ());
  e = compare (&out, &want);
  printf ("# Wan%s VAE with bf16 activations vs PyTorch fp32: decode rel L2 %.3g, encode rel L2 %.3g\n",
          version, d.rel, e.rel);
  PT_CHECK (d.finite && e.finite, "NaN in bf16 outputs");
  PT_CHECK (d.rel <= 3e-2 && e.rel <= 3e-2, "bf16 decode %.3g / encode %.3g off by more than 3e-2", d.rel, e.rel);
  host_free (&out);
  tiny_close (&t);
}

static void
test_bf16_activations (void)
{
  check_bf16 ("21");
  check_bf16 ("22");
}

/* ComfyUI's tiled_scale_multidim on the fixture's tiles (temporal and
 * spatial, with feathering) against PyTorch, and how far tiling moves the
 * result from the untiled decode of the same latent. */
static void
check_tiled (const char *version)
{
  Tiny t;
  RlTensor in, want, params, out, whole;
  WanVaeTiling tiling;
  Diff d, seam;

  PT_REQUIRE (tiny_open (&t, version), "tiny VAE %s: %s", version, rl_last_error ());
  in = case_tensor (&t, "tiled_in");
  want = case_tensor (&t, "tiled_out");
  params = case_tensor (&t, "tiled_params");
  const int64_t *p = params.data;
  tiling = (WanVaeTiling) { (int) p[0], (int) p[1], (int) p[2], (int) p[3], (int) p[4], (int) p[5] };
  out = host_poisoned (5, want.shape);
  whole = host_poisoned (5, want.shape);
  PT_CHECK (wan_vae_decode_tiled (t.vae, &in, &tiling, &out) == RL_OK, "tiled: %s", rl_last_error ());
  PT_CHECK (wan_vae_decode (t.vae, &in, &whole) == RL_OK, "untiled: %s", rl_last_error ());
  d = compare (&out, &want);
  seam = compare (&out, &whole);
  printf ("# Wan%s VAE tiled decode (tile %d,%d,%d overlap %d,%d,%d) vs PyTorch: rel L2 %.3g, max abs %.3g; "
          "vs untiled (random tiny weights): rel L2 %.3g, max abs %.3g\n", version, tiling.tile_t,
          tiling.tile_h, tiling.tile_w, tiling.overlap_t, tiling.overlap_h, tiling.overlap_w, d.rel, d.max_abs,
          seam.rel, seam.max_abs);
  PT_CHECK (d.finite, "tiled output has NaN (unwritten elements)");
  PT_CHECK (d.rel <= 1e-4, "relative error %.3g > 1e-4", d.rel);
  PT_CHECK (seam.rel > 1e-6, "tiles this small must differ from the untiled decode (tiling not applied?)");
  host_free (&whole);
  host_free (&out);
  tiny_close (&t);
}

static void
test_tiled_21 (void)
{
  check_tiled ("21");
}

static void
test_tiled_22 (void)
{
  check_tiled ("22");
}

/* ------------------------------------------- tiling: memory and limits */

static unsigned long long
fresh_seed (void)
{
  static unsigned long long seed;
  if (seed == 0)
    {
      seed = (unsigned long long) time (NULL) ^ ((unsigned long long) getpid () << 16);
      printf ("# random seed %llu\n", seed);
    }
  return seed;
}

/* Gaussian-ish values (sum of uniforms), never all zero. */
static RlTensor
host_random (int ndim, const int64_t *shape, unsigned long long *state)
{
  RlTensor t = host_poisoned (ndim, shape);
  for (int64_t i = 0; i < rl_tensor_numel (&t); i++)
    {
      double s = 0;
      for (int k = 0; k < 4; k++)
        {
          *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
          s += (double) (*state >> 11) / 9007199254740992.0;
        }
      ((float *) t.data)[i] = (float) ((s - 2.0) * 1.7);
    }
  return t;
}

static size_t
peak_of (Tiny *t, RlStatus (*run) (Tiny *, const RlTensor *, RlTensor *), const RlTensor *in, RlTensor *out)
{
  RlAllocator *alloc = t->be->context_allocator (t->ctx);
  RlAllocatorStats st;

  rl_allocator_reset_peak (alloc);
  rl_allocator_stats (alloc, &st);
  size_t base = st.current_bytes;
  PT_CHECK (run (t, in, out) == RL_OK, "%s", rl_last_error ());
  rl_allocator_stats (alloc, &st);
  return st.peak_bytes - base;
}

static const WanVaeTiling small_tiles = { 0, 4, 4, 1, 1, 1 };

static RlStatus
run_untiled (Tiny *t, const RlTensor *in, RlTensor *out)
{
  return wan_vae_decode (t->vae, in, out);
}

static RlStatus
run_tiled (Tiny *t, const RlTensor *in, RlTensor *out)
{
  return wan_vae_decode_tiled (t->vae, in, &small_tiles, out);
}

/* Peak device memory of a tiled decode stays at what one tile needs, far
 * below the untiled decode of the whole latent; a latent that fits in one
 * tile decodes exactly as untiled. */
static void
test_tiled_memory_bound (void)
{
  Tiny t;
  unsigned long long state = fresh_seed ();
  const int64_t big[5] = { 1, 16, 2, 8, 8 }, big_out[5] = { 1, 3, 5, 64, 64 };
  const int64_t one[5] = { 1, 16, 2, 4, 4 }, one_out[5] = { 1, 3, 5, 32, 32 };
  RlTensor latent, tile_latent, out_tiled, out_whole, out_tile, out_tile_tiled;
  size_t peak_tiled, peak_whole, peak_tile;
  Diff d;

  PT_REQUIRE (tiny_open (&t, "21"), "tiny VAE: %s", rl_last_error ());
  latent = host_random (5, big, &state);
  tile_latent = host_random (5, one, &state);
  out_tiled = host_poisoned (5, big_out);
  out_whole = host_poisoned (5, big_out);
  out_tile = host_poisoned (5, one_out);
  out_tile_tiled = host_poisoned (5, one_out);

  peak_whole = peak_of (&t, run_untiled, &latent, &out_whole);
  peak_tiled = peak_of (&t, run_tiled, &latent, &out_tiled);
  peak_tile = peak_of (&t, run_untiled, &tile_latent, &out_tile);
  d = compare (&out_tiled, &out_whole);
  printf ("# 8x8 latent: peak device memory untiled %zu KiB, tiled (4x4, overlap 1) %zu KiB, "
          "one 4x4 tile %zu KiB; tiled vs untiled rel L2 %.3g max abs %.3g\n",
          peak_whole >> 10, peak_tiled >> 10, peak_tile >> 10, d.rel, d.max_abs);
  PT_CHECK (d.finite, "tiled output has NaN");
  PT_CHECK (peak_tiled * 2 < peak_whole, "tiled peak %zu not well below untiled %zu", peak_tiled, peak_whole);
  /* one tile's decode plus the latent held on the device */
  PT_CHECK (peak_tiled <= peak_tile + (size_t) rl_tensor_numel (&latent) * 4 + (64u << 10),
            "tiled peak %zu exceeds one tile's %zu", peak_tiled, peak_tile);

  PT_CHECK (run_tiled (&t, &tile_latent, &out_tile_tiled) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (memcmp (out_tile.data, out_tile_tiled.data, (size_t) rl_tensor_numel (&out_tile) * 4) == 0,
            "a latent inside one tile must decode exactly as untiled");

  host_free (&out_tile_tiled);
  host_free (&out_tile);
  host_free (&out_whole);
  host_free (&out_tiled);
  host_free (&tile_latent);
  host_free (&latent);
  tiny_close (&t);
}

static void
test_bad_arguments (void)
{
  Tiny t;
  const int64_t lat[5] = { 1, 16, 2, 4, 4 }, wrong_out[5] = { 1, 3, 4, 32, 32 };
  const int64_t vid[5] = { 1, 3, 5, 30, 32 }, vid_lat[5] = { 1, 16, 2, 4, 4 };
  unsigned long long state = fresh_seed () + 1;
  RlTensor latent, out, video, enc;
  WanVaeTiling bad = { 0, 2, 2, 0, 2, 2 };

  PT_REQUIRE (tiny_open (&t, "21"), "tiny VAE: %s", rl_last_error ());
  latent = host_random (5, lat, &state);
  out = host_poisoned (5, wrong_out);
  PT_CHECK (wan_vae_decode (t.vae, &latent, &out) == RL_E_SHAPE && strstr (rl_last_error (), "[1, 3, 5, 32, 32]"),
            "wrong output shape named with the expected one: %s", rl_last_error ());
  video = host_random (5, vid, &state);
  enc = host_poisoned (5, vid_lat);
  PT_CHECK (wan_vae_encode (t.vae, &video, &enc) == RL_E_SHAPE && strstr (rl_last_error (), "multiples of 8"),
            "frame size not a multiple of 8 refused: %s", rl_last_error ());
  host_free (&out);
  {
    const int64_t good_out[5] = { 1, 3, 5, 32, 32 };
    out = host_poisoned (5, good_out);
  }
  PT_CHECK (wan_vae_decode_tiled (t.vae, &latent, &bad, &out) == RL_E_INVALID_ARG &&
            strstr (rl_last_error (), "longer than the overlap"), "tile ≤ overlap refused: %s", rl_last_error ());
  host_free (&enc);
  host_free (&video);
  host_free (&out);
  host_free (&latent);
  tiny_close (&t);
}

/* process_in then process_out gives the latent back; process_in of the
 * mean is zero. */
static void
test_latent_normalisation (void)
{
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  unsigned long long state = fresh_seed () + 2;
  const int64_t shape[5] = { 2, 48, 3, 2, 2 };
  RlTensor z, copy;
  double worst = 0;

  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  z = host_random (5, shape, &state);
  copy = host_poisoned (5, shape);
  memcpy (copy.data, z.data, (size_t) rl_tensor_numel (&z) * 4);
  PT_CHECK (wan_vae_process_in (be, ctx, &z) == RL_OK, "%s", rl_last_error ());
  {
    const float *mean = wan_vae_latent_mean (48), *std = wan_vae_latent_std (48);
    const float *a = copy.data, *b = z.data;
    for (int64_t i = 0; i < rl_tensor_numel (&z); i++)
      {
        int c = (int) ((i / 12) % 48);
        double want = ((double) a[i] - mean[c]) / std[c];
        if (fabs (b[i] - want) > worst)
          worst = fabs (b[i] - want);
      }
  }
  PT_CHECK (worst < 1e-5, "process_in off by %.3g", worst);
  PT_CHECK (wan_vae_process_out (be, ctx, &z) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (compare (&z, &copy).max_abs < 1e-5, "process_out ∘ process_in is not the identity");
  PT_CHECK (wan_vae_latent_mean (16)[0] == -0.7571f && wan_vae_latent_std (48)[47] == 0.7744f,
            "published constants");
  host_free (&copy);
  host_free (&z);
  be->context_free (ctx);
}

/* ------------------------------------------------- bad checkpoints */

/* The fixture's key layout as specs for make-checkpoint. */
static size_t
fixture_specs (const char *version, MakeCheckpointSpec *specs, size_t cap)
{
  char name[64];
  RlSafetensors *st = NULL;
  size_t n = 0;

  snprintf (name, sizeof name, "tiny-vae%s.safetensors", version);
  if (rl_safetensors_open (fixture (name), &st) != RL_OK)
    return 0;
  for (size_t i = 0; i < rl_safetensors_count (st) && n < cap; i++, n++)
    {
      const RlSafetensorsTensor *t = rl_safetensors_tensor_at (st, i);
      snprintf (specs[n].name, sizeof specs[n].name, "%s", t->name);
      specs[n].dtype = t->dtype;
      specs[n].ndim = t->ndim;
      for (int d = 0; d < t->ndim; d++)
        specs[n].shape[d] = t->shape[d];
    }
  rl_safetensors_close (st);
  return n;
}

static MakeCheckpointSpec *
find_spec (MakeCheckpointSpec *specs, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (specs[i].name, name) == 0)
      return &specs[i];
  return NULL;
}

static size_t
remove_spec (MakeCheckpointSpec *specs, size_t n, const char *name)
{
  MakeCheckpointSpec *s = find_spec (specs, n, name);
  if (s == NULL)
    return n;
  memmove (s, s + 1, (size_t) (specs + n - (s + 1)) * sizeof *specs);
  return n - 1;
}

static RlStatus
try_load (const MakeCheckpointSpec *specs, size_t n, char *message, size_t size)
{
  char path[] = "/tmp/raylight-wan-vae-XXXXXX";
  int fd = mkstemp (path);
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  RlSafetensors *st = NULL;
  WanVaeConfig config;
  WanVae *vae = NULL;
  RlStatus s;

  close (fd);
  s = make_checkpoint_write (path, specs, n, 11, 0, NULL, 0);
  if (s == RL_OK) s = rl_safetensors_open (path, &st);
  if (s == RL_OK) s = wan_vae_config_detect (st, &config);
  if (s == RL_OK) s = be->context_new (0, &ctx);
  if (s == RL_OK) s = wan_vae_load (be, ctx, st, &config, RL_F32, &vae);
  snprintf (message, size, "%s", s < 0 ? rl_last_error () : "");
  wan_vae_free (vae);
  if (ctx != NULL)
    be->context_free (ctx);
  rl_safetensors_close (st);
  unlink (path);
  return s;
}

static void
test_bad_checkpoints (void)
{
  const size_t cap = 256;
  MakeCheckpointSpec *specs = calloc (cap, sizeof *specs);
  char msg[1024];
  size_t n;

  PT_REQUIRE (specs != NULL, "out of memory");
  n = fixture_specs ("21", specs, cap);
  PT_REQUIRE (n == 194, "the tiny 2.1 VAE has the real 194 tensors, not %zu", n);
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_OK, "the intact tiny 2.1 VAE loads: %s", msg);

  n = remove_spec (specs, n, "decoder.upsamples.7.time_conv.bias");
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "decoder.upsamples.7.time_conv.bias"),
            "missing key named: %s", msg);

  n = fixture_specs ("21", specs, cap);
  find_spec (specs, n, "encoder.middle.1.to_qkv.weight")->shape[1] = 16;
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "encoder.middle.1.to_qkv.weight") &&
            strstr (msg, "[96, 16, 1, 1]") && strstr (msg, "expected [96, 32, 1, 1]"),
            "wrong shape named with both shapes: %s", msg);

  n = fixture_specs ("21", specs, cap);
  find_spec (specs, n, "conv2.weight")->shape[0] = 48;
  find_spec (specs, n, "conv2.weight")->shape[1] = 48;
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "decoder.conv1.weight"),
            "latent width mismatch named: %s", msg);

  n = fixture_specs ("22", specs, cap);
  PT_REQUIRE (n == 196, "the tiny 2.2 VAE has the real 196 tensors, not %zu", n);
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_OK, "the intact tiny 2.2 VAE loads: %s", msg);
  n = remove_spec (specs, n, "decoder.upsamples.1.upsamples.3.time_conv.weight");
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_FORMAT &&
            strstr (msg, "decoder.upsamples.1.upsamples.3.time_conv.weight"), "2.2 missing key named: %s", msg);

  n = 0;
  snprintf (specs[n].name, sizeof specs[n].name, "head.modulation");
  specs[n].dtype = RL_BF16;
  specs[n].ndim = 3;
  specs[n].shape[0] = 1, specs[n].shape[1] = 2, specs[n].shape[2] = 64;
  n++;
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "not a Wan VAE") &&
            strstr (msg, "diffusion model"), "a DiT file is named as such: %s", msg);
  free (specs);
}

int
main (int argc, char **argv)
{
  (void) argc;
  (void) argv;
  /* Tiny tensors and many small ops: threads would only add barriers (and
   * spin against the other tests meson runs beside this one). */
  omp_set_num_threads (1);
  openblas_set_num_threads (1);
  snprintf (fixture_dir, sizeof fixture_dir, "%s/tests/wan-vae/data",
            getenv ("RAYLIGHT_SOURCE_DIR") ? getenv ("RAYLIGHT_SOURCE_DIR") : ".");
  PT_RUN (test_decode_21);
  PT_RUN (test_decode_22);
  PT_RUN (test_encode_21);
  PT_RUN (test_encode_22);
  PT_RUN (test_decode_21_comfy_time_cache);
  PT_RUN (test_tiled_21);
  PT_RUN (test_tiled_22);
  PT_RUN (test_bf16_activations);
  PT_RUN (test_tiled_memory_bound);
  PT_RUN (test_bad_arguments);
  PT_RUN (test_latent_normalisation);
  PT_RUN (test_bad_checkpoints);
  return pt_finish ();
}
