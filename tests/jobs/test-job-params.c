/* Model job parameters: round trips, and every malformed blob refused with
 * the field named. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/plain-test.h"
#include "workers/jobs/job-params.h"

static void
test_sample_round_trip (void)
{
  RlSampleParams in, out;
  RlWireWriter w;
  RlErrorInfo err = { 0 };

  rl_sample_params_init (&in);
  in.model.path = "/models/wan2.1_t2v_1.3B_bf16.safetensors";
  in.model.options = "dtype=bf16";
  in.seed = 0xFFFFFFFFFFFFFFFFull;
  in.steps = 30;
  in.cfg = 6.0f;
  in.sampler = "uni_pc";
  in.scheduler = "simple";
  in.denoise = 0.75f;
  in.start_step = 10;
  in.end_step = 20;
  in.add_noise = false;
  in.return_with_leftover_noise = true;
  in.has_shift = true;
  in.shift = 8.0f;
  in.has_noise_mask = true;
  in.preview_every = 1;
  in.attention = "flash";
  in.batch_index = 3;

  rl_wire_writer_init (&w);
  rl_sample_params_encode (&in, &w);
  PT_REQUIRE (rl_sample_params_decode (w.data, w.size, &out, &err) == 0, "%s", err.message);
  PT_CHECK (strcmp (out.model.path, in.model.path) == 0 && strcmp (out.model.options, "dtype=bf16") == 0, "model");
  PT_CHECK (out.seed == in.seed && out.steps == 30 && out.cfg == 6.0f && out.denoise == 0.75f, "numbers");
  PT_CHECK (strcmp (out.sampler, "uni_pc") == 0 && strcmp (out.scheduler, "simple") == 0, "names");
  PT_CHECK (out.start_step == 10 && out.end_step == 20 && !out.add_noise && out.return_with_leftover_noise &&
            out.has_shift && out.shift == 8.0f && out.has_noise_mask && out.preview_every == 1, "flags");
  PT_CHECK (out.attention != NULL && strcmp (out.attention, "flash") == 0, "attention variant");
  PT_CHECK (out.batch_index == 3, "batch_index %llu", (unsigned long long) out.batch_index);
  rl_sample_params_clear (&out);

  /* Every truncation is refused, never half-decoded. */
  for (size_t n = 0; n < w.size; n++)
    {
      RlSampleParams cut;
      PT_CHECK (rl_sample_params_decode (w.data, n, &cut, &err) != 0, "truncated at %zu accepted", n);
      PT_CHECK (cut.model.path == NULL && cut.sampler == NULL, "truncated decode left fields set");
    }
  rl_wire_writer_clear (&w);
}

static void
test_sample_rejects_bad_values (void)
{
  RlSampleParams in, out;
  RlWireWriter w;
  RlErrorInfo err = { 0 };

  rl_sample_params_init (&in);
  in.model.path = "/m.safetensors";
  in.sampler = "euler";
  in.scheduler = "simple";
  in.steps = 0;
  rl_wire_writer_init (&w);
  rl_sample_params_encode (&in, &w);
  PT_CHECK (rl_sample_params_decode (w.data, w.size, &out, &err) != 0 && strstr (err.message, "steps"),
            "zero steps: %s", err.message);
  rl_wire_writer_clear (&w);

  in.steps = 4;
  in.cfg = NAN;
  rl_wire_writer_init (&w);
  rl_sample_params_encode (&in, &w);
  PT_CHECK (rl_sample_params_decode (w.data, w.size, &out, &err) != 0 && strstr (err.message, "cfg"),
            "NaN cfg: %s", err.message);
  rl_wire_writer_clear (&w);

  in.cfg = 5.0f;
  in.model.path = "";
  rl_wire_writer_init (&w);
  rl_sample_params_encode (&in, &w);
  PT_CHECK (rl_sample_params_decode (w.data, w.size, &out, &err) != 0 && strstr (err.message, "model path"),
            "empty model path: %s", err.message);
  rl_wire_writer_clear (&w);
}

static void
test_text_and_vae_round_trip (void)
{
  RlTextEncodeParams t = { { "/te.safetensors", "" }, "a cat, (walking:1.2) 色调艳丽" }, t2;
  RlVaeParams v = { { "/vae.safetensors", "" }, 512, 64, 64, 8 }, v2;
  RlWireWriter w;
  RlErrorInfo err = { 0 };

  rl_wire_writer_init (&w);
  rl_text_encode_params_encode (&t, &w);
  PT_REQUIRE (rl_text_encode_params_decode (w.data, w.size, &t2, &err) == 0, "%s", err.message);
  PT_CHECK (strcmp (t2.text, t.text) == 0 && strcmp (t2.model.path, "/te.safetensors") == 0, "text");
  rl_text_encode_params_clear (&t2);
  rl_wire_writer_clear (&w);

  rl_wire_writer_init (&w);
  rl_vae_params_encode (&v, &w);
  PT_REQUIRE (rl_vae_params_decode (w.data, w.size, &v2, &err) == 0, "%s", err.message);
  PT_CHECK (v2.tile_size == 512 && v2.tile_overlap == 64 && v2.temporal_size == 64 && v2.temporal_overlap == 8, "vae");
  rl_vae_params_clear (&v2);
  rl_wire_writer_clear (&w);

  v.tile_overlap = 512;
  rl_wire_writer_init (&w);
  rl_vae_params_encode (&v, &w);
  PT_CHECK (rl_vae_params_decode (w.data, w.size, &v2, &err) != 0 && strstr (err.message, "tile_overlap"),
            "overlap >= tile: %s", err.message);
  rl_wire_writer_clear (&w);
}

int
main (void)
{
  PT_RUN (test_sample_round_trip);
  PT_RUN (test_sample_rejects_bad_values);
  PT_RUN (test_text_and_vae_round_trip);
  return pt_finish ();
}
