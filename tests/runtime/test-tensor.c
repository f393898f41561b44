/* Status codes, the dtype table, tensors and views, storage ownership and
 * the caching allocator's statistics. */
#include "tests/runtime/runtime-test-util.h"

#include "workers/runtime/rope-table.h"

static void
test_status_codes (void)
{
  PT_CHECK (strcmp (rl_strerror (RL_OK), "success") == 0, "RL_OK");
  PT_CHECK (strcmp (rl_status_name (RL_E_SHAPE), "RL_E_SHAPE") == 0, "name");
  PT_CHECK (strcmp (rl_strerror (RL_E_NOT_SUPPORTED), "operation not supported by this backend") == 0, "msg");
  PT_CHECK (strcmp (rl_strerror (-9999), "unknown status") == 0, "unknown");
  PT_CHECK (RL_E_INVALID_ARG < 0 && RL_E_INTERNAL < 0, "negative codes");
  rl_clear_error ();
  PT_CHECK (rl_last_error ()[0] == '\0', "cleared");
  RlStatus st = rl_set_error (RL_E_SHAPE, "tensor %s is [%d]", "blocks.0.q", 7);
  PT_CHECK (st == RL_E_SHAPE, "returns the status");
  rl_prefix_error (st, "loading %s: ", "model.safetensors");
  PT_CHECK (strcmp (rl_last_error (), "loading model.safetensors: tensor blocks.0.q is [7]") == 0,
            "detail: %s", rl_last_error ());
}

static void
test_dtype_table (void)
{
  PT_CHECK (rl_dtype_from_safetensors ("F8_E4M3") == RL_F8_E4M3FN, "F8_E4M3");
  PT_CHECK (rl_dtype_from_safetensors ("BF16") == RL_BF16, "BF16");
  PT_CHECK (rl_dtype_from_safetensors ("F4") == RL_DTYPE_INVALID, "unknown");
  PT_CHECK (strcmp (rl_dtype_safetensors_name (RL_F8_E5M2), "F8_E5M2") == 0, "name");
  PT_CHECK (rl_dtype_safetensors_name (RL_Q4_K) == NULL, "no safetensors name for Q4_K");
  const struct { RlDType t; int id; int64_t elems; size_t bytes; } gguf[] = {
    { RL_F32, 0, 1, 4 }, { RL_F16, 1, 1, 2 }, { RL_Q4_0, 2, 32, 18 }, { RL_Q4_1, 3, 32, 20 },
    { RL_Q5_0, 6, 32, 22 }, { RL_Q5_1, 7, 32, 24 }, { RL_Q8_0, 8, 32, 34 }, { RL_Q2_K, 10, 256, 84 },
    { RL_Q3_K, 11, 256, 110 }, { RL_Q4_K, 12, 256, 144 }, { RL_Q5_K, 13, 256, 176 },
    { RL_Q6_K, 14, 256, 210 }, { RL_BF16, 30, 1, 2 }, { RL_I8, 24, 1, 1 },
  };
  for (size_t i = 0; i < sizeof gguf / sizeof gguf[0]; i++)
    {
      PT_CHECK (rl_dtype_from_gguf ((uint32_t) gguf[i].id) == gguf[i].t, "gguf id %d", gguf[i].id);
      PT_CHECK (rl_dtype_gguf_id (gguf[i].t) == gguf[i].id, "%s id", rl_dtype_name (gguf[i].t));
      PT_CHECK (rl_dtype_block_elems (gguf[i].t) == gguf[i].elems
                && rl_dtype_block_bytes (gguf[i].t) == gguf[i].bytes, "%s geometry",
                rl_dtype_name (gguf[i].t));
    }
  PT_CHECK (rl_dtype_from_gguf (9) == RL_DTYPE_INVALID, "Q8_1 unsupported");
  size_t bytes;
  PT_CHECK (rl_dtype_bytes_for (RL_Q4_K, 512, &bytes) == RL_OK && bytes == 288, "q4_k bytes");
  PT_CHECK (rl_dtype_bytes_for (RL_Q4_K, 100, &bytes) == RL_E_SHAPE, "partial block refused");
  PT_CHECK (rl_dtype_bytes_for (RL_F32, INT64_MAX, &bytes) == RL_E_OVERFLOW, "overflow");
  PT_CHECK (rl_dtype_is_quantized (RL_Q6_K) && !rl_dtype_is_quantized (RL_F8_E4M3FN), "kinds");
  PT_CHECK (rl_dtype_is_float (RL_F8_E4M3FN) && rl_dtype_is_integer (RL_I32), "kinds");
}

static void
test_views (void)
{
  RlAllocator *alloc = rl_host_allocator_new ();
  int64_t shape[3] = { 2, 3, 4 };
  RlTensor t = rt_tensor (alloc, RL_F32, 3, shape);
  for (int64_t i = 0; i < 24; i++)
    ((float *) t.data)[i] = (float) i;
  PT_CHECK (rl_tensor_numel (&t) == 24 && rl_tensor_nbytes (&t) == 96 && rl_tensor_is_contiguous (&t),
            "basic");

  RlTensor n = { 0 };
  RT_REQUIRE_OK (rl_tensor_narrow (&n, &t, 1, 1, 2));
  PT_CHECK (n.shape[1] == 2 && rt_get (&n, 0) == 4.0f && rt_get (&n, 4) == 8.0f && rt_get (&n, 8) == 16.0f, "narrow values");
  PT_CHECK (!rl_tensor_is_contiguous (&n), "narrow of a middle dim is strided");
  PT_CHECK (rl_tensor_nbytes (&n) == (size_t) (12 + 4 + 3 + 1) * 4, "span %zu", rl_tensor_nbytes (&n));
  PT_CHECK (rl_tensor_narrow (&n, &t, 1, 2, 2) == RL_E_SHAPE, "out-of-range narrow");
  PT_CHECK (strstr (rl_last_error (), "f32[2,3,4]") != NULL, "error names the tensor: %s", rl_last_error ());

  RlTensor p = { 0 };
  int perm[3] = { 2, 0, 1 };
  RT_REQUIRE_OK (rl_tensor_permute (&p, &t, perm));
  PT_CHECK (p.shape[0] == 4 && p.shape[1] == 2 && p.shape[2] == 3, "permuted shape");
  /* p[k, i, j] = t[i, j, k] */
  PT_CHECK (rt_get (&p, 1 * 6 + 1 * 3 + 2) == (float) (1 * 12 + 2 * 4 + 1), "permuted value");

  RlTensor r = { 0 };
  int64_t flat[2] = { 6, -1 };
  RT_REQUIRE_OK (rl_tensor_reshape (&r, &t, 2, flat));
  PT_CHECK (r.shape[1] == 4 && rt_get (&r, 23) == 23.0f, "reshape infers");
  int64_t bad[2] = { 5, 5 };
  PT_CHECK (rl_tensor_reshape (&r, &t, 2, bad) == RL_E_SHAPE, "wrong count");
  /* Transposed view can't be flattened without copying, but can be split. */
  RlTensor tr = { 0 };
  RT_REQUIRE_OK (rl_tensor_transpose (&tr, &t, 1, 2));
  int64_t merged[2] = { 2, 12 };
  PT_CHECK (rl_tensor_reshape (&r, &tr, 2, merged) == RL_E_NOT_CONTIGUOUS, "no-copy reshape refused");
  int64_t split[4] = { 2, 2, 2, 3 };
  RT_REQUIRE_OK (rl_tensor_reshape (&r, &tr, 4, split));
  /* r[a, b, c, j] = tr[a, b*2 + c, j] = t[a, j, b*2+c] */
  PT_CHECK (rt_get (&r, ((1 * 2 + 1) * 2 + 0) * 3 + 2) == (float) (1 * 12 + 2 * 4 + 2), "split value");

  RlTensor u = { 0 };
  RT_REQUIRE_OK (rl_tensor_unsqueeze (&u, &t, 1));
  PT_CHECK (u.ndim == 4 && u.shape[1] == 1 && rl_tensor_is_contiguous (&u), "unsqueeze");

  /* In-place view on the same object keeps storage alive. */
  RlTensor self = { 0 };
  rl_tensor_view (&self, &t);
  RT_REQUIRE_OK (rl_tensor_narrow (&self, &self, 0, 1, 1));
  PT_CHECK (rt_get (&self, 0) == 12.0f, "self narrow");

  char desc[RL_TENSOR_DESCRIBE_SIZE];
  PT_CHECK (strcmp (rl_tensor_describe (&n, desc, sizeof desc), "f32[2,2,4] cpu strided") == 0,
            "describe: %s", desc);

  rl_tensor_release (&n);
  rl_tensor_release (&p);
  rl_tensor_release (&r);
  rl_tensor_release (&tr);
  rl_tensor_release (&u);
  rl_tensor_release (&self);
  RlAllocatorStats s;
  rl_allocator_stats (alloc, &s);
  PT_CHECK (s.current_bytes > 0, "t still alive");
  rl_tensor_release (&t);
  rl_allocator_stats (alloc, &s);
  PT_CHECK (s.current_bytes == 0, "all views released → storage freed (%zu)", s.current_bytes);
  rl_allocator_destroy (alloc);
}

static void
test_block_views (void)
{
  uint8_t blocks[4 * 144];
  int64_t shape[2] = { 2, 512 };
  RlTensor q = { 0 }, row = { 0 };
  RT_REQUIRE_OK (rl_tensor_wrap (&q, blocks, rl_device_cpu (), RL_Q4_K, 2, shape, NULL, NULL));
  PT_CHECK (rl_tensor_nbytes (&q) == sizeof blocks, "q4_k bytes %zu", rl_tensor_nbytes (&q));
  RT_REQUIRE_OK (rl_tensor_narrow (&row, &q, 0, 1, 1));
  PT_CHECK ((uint8_t *) row.data == blocks + 2 * 144, "row 1 starts after two blocks");
  PT_CHECK (rl_tensor_narrow (&row, &q, 1, 100, 256) == RL_E_SHAPE, "partial block narrow refused");
  int64_t odd[2] = { 2, 500 };
  PT_CHECK (rl_tensor_wrap (&q, blocks, rl_device_cpu (), RL_Q4_K, 2, odd, NULL, NULL) == RL_E_SHAPE,
            "rows must be whole blocks");
}

static int release_calls;

static void
count_release (void *user, void *data, size_t bytes)
{
  release_calls++;
  PT_CHECK (user == (void *) &release_calls && bytes == 64, "release args");
}

static void
test_external_storage (void)
{
  static float buffer[16];
  RlStorage *s = NULL;
  release_calls = 0;
  RT_REQUIRE_OK (rl_storage_new_external (buffer, 64, rl_device_cpu (), count_release, &release_calls, &s)
             );
  int64_t shape[1] = { 8 };
  RlTensor a = { 0 }, b = { 0 };
  RT_REQUIRE_OK (rl_tensor_wrap (&a, buffer + 8, rl_device_cpu (), RL_F32, 1, shape, NULL, s));
  PT_CHECK (rl_tensor_wrap (&b, buffer + 9, rl_device_cpu (), RL_F32, 1, shape, NULL, s)
            == RL_E_INVALID_ARG, "view past the storage refused");
  rl_storage_unref (s);
  PT_CHECK (release_calls == 0, "tensor keeps storage alive");
  rl_tensor_view (&b, &a);
  rl_tensor_release (&a);
  PT_CHECK (release_calls == 0, "second view keeps storage alive");
  rl_tensor_release (&b);
  PT_CHECK (release_calls == 1, "released once (%d)", release_calls);
}

static void
test_allocator_stats (void)
{
  RlAllocator *alloc = rl_host_allocator_new ();
  RlAllocatorStats s;
  void *p[8];
  size_t sizes[8];
  size_t expected = 0;
  for (int i = 0; i < 8; i++)
    {
      sizes[i] = (size_t) rt_int (1, 3 << 20);
      RT_REQUIRE_OK (rl_alloc (alloc, sizes[i], &p[i]));
      PT_CHECK (((uintptr_t) p[i] & 255) == 0, "256-byte aligned");
      memset (p[i], 0x5a, sizes[i]);
    }
  rl_allocator_stats (alloc, &s);
  for (int i = 0; i < 8; i++)
    expected += sizes[i];
  PT_CHECK (s.current_bytes >= expected && s.current_bytes <= expected + expected / 8 + 8 * 512,
            "current %zu for %zu requested", s.current_bytes, expected);
  PT_CHECK (s.peak_bytes == s.current_bytes && s.cache_hits == 0 && s.alloc_count == 8, "fresh");
  size_t peak = s.peak_bytes;
  for (int i = 0; i < 8; i++)
    rl_free (alloc, p[i]);
  rl_allocator_stats (alloc, &s);
  PT_CHECK (s.current_bytes == 0 && s.peak_bytes == peak && s.cached_bytes == peak
            && s.reserved_bytes == peak, "after free: current %zu cached %zu", s.current_bytes,
            s.cached_bytes);
  void *again;
  RT_REQUIRE_OK (rl_alloc (alloc, sizes[3], &again));
  rl_allocator_stats (alloc, &s);
  PT_CHECK (again == p[3] || s.cache_hits == 1, "same size class is served from the cache");
  PT_CHECK (s.cache_hits == 1, "cache hit counted (%zu)", s.cache_hits);
  rl_allocator_reset_peak (alloc);
  rl_allocator_stats (alloc, &s);
  PT_CHECK (s.peak_bytes == s.current_bytes, "reset peak");
  rl_allocator_trim (alloc);
  rl_allocator_stats (alloc, &s);
  PT_CHECK (s.cached_bytes == 0 && s.reserved_bytes == s.current_bytes, "trim");
  void *zero;
  PT_CHECK (rl_alloc (alloc, 0, &zero) == RL_OK && zero != NULL && zero != again, "0 bytes unique");
  rl_free (alloc, zero);
  rl_free (alloc, again);
  /* Many live blocks exercise the pointer map's growth and deletion. */
  void *many[500];
  for (int i = 0; i < 500; i++)
    RT_REQUIRE_OK (rl_alloc (alloc, (size_t) (i % 7) * 100, &many[i]));
  for (int i = 0; i < 500; i += 2)
    rl_free (alloc, many[i]);
  for (int i = 1; i < 500; i += 2)
    rl_free (alloc, many[i]);
  rl_allocator_stats (alloc, &s);
  PT_CHECK (s.current_bytes == 0, "all freed (%zu)", s.current_bytes);
  rl_allocator_destroy (alloc);
}

/* A raw allocator with a fixed budget, like a GPU with little memory. */
typedef struct {
  size_t held, budget;
  int    calls;
} Budget;

static RlStatus
budget_alloc (void *user, size_t bytes, void **out)
{
  Budget *b = user;
  b->calls++;
  if (b->held + bytes > b->budget)
    return RL_E_DEVICE_OOM;
  *out = malloc (bytes + sizeof (size_t));
  memcpy (*out, &bytes, sizeof bytes);
  *out = (char *) *out + sizeof (size_t);
  b->held += bytes;
  return RL_OK;
}

static void
budget_free (void *user, void *ptr)
{
  Budget *b = user;
  size_t bytes;
  char *base = (char *) ptr - sizeof (size_t);
  memcpy (&bytes, base, sizeof bytes);
  b->held -= bytes;
  free (base);
}

static void
test_allocator_trims_on_failure (void)
{
  Budget budget = { 0, 4096, 0 };
  RlRawMemory raw = { budget_alloc, budget_free, &budget };
  RlAllocator *a = rl_caching_allocator_new (rl_device_cuda (1), raw);
  RlAllocatorStats s;
  void *p, *q, *r;
  RT_REQUIRE_OK (rl_alloc (a, 2000, &p));
  rl_free (a, p);
  RT_REQUIRE_OK (rl_alloc (a, 3000, &q));   /* needs the cached 2048 back first */
  rl_allocator_stats (a, &s);
  PT_CHECK (s.cached_bytes == 0 && s.reserved_bytes == 3072 && budget.held == 3072,
            "cache trimmed to make room: cached %zu reserved %zu held %zu", s.cached_bytes,
            s.reserved_bytes, budget.held);
  rl_clear_error ();
  PT_CHECK (rl_alloc (a, 3000, &r) == RL_E_DEVICE_OOM, "out of budget");
  PT_CHECK (strstr (rl_last_error (), "3072 bytes") != NULL && strstr (rl_last_error (), "cuda") != NULL,
            "message says how much and where: %s", rl_last_error ());
  rl_free (a, q);
  rl_allocator_destroy (a);
  PT_CHECK (budget.held == 0, "destroy returned everything (%zu held)", budget.held);
}

static void
test_rope_table (void)
{
  RlAllocator *alloc = rl_host_allocator_new ();
  int axes[3] = { 44, 42, 42 };
  int64_t grid[3] = { 3, 4, 5 };
  int64_t shape[2] = { 64, 64 };   /* 60 tokens + 4 padding, offset 0 */
  RlTensor c = rt_tensor (alloc, RL_F32, 2, shape), s = rt_tensor (alloc, RL_F32, 2, shape);
  RT_REQUIRE_OK (rl_rope_table_3d (&c, &s, 3, axes, grid, 0, 10000.0));
  /* token (t=2, h=1, w=3) = 2*20 + 1*5 + 3 = 48; pair 22+j is h-axis j, 43+j is w-axis j */
  int64_t tok = 48;
  double want_t1 = cos (2.0 * pow (10000.0, -2.0 * 1 / 44));
  double want_h0 = sin (1.0);
  double want_w2 = cos (3.0 * pow (10000.0, -2.0 * 2 / 42));
  float *cd = c.data, *sd = s.data;
  PT_CHECK (cd[tok * 64 + 1] == (float) want_t1, "t-axis cos");
  PT_CHECK (sd[tok * 64 + 22] == (float) want_h0, "h-axis sin");
  PT_CHECK (cd[tok * 64 + 43 + 2] == (float) want_w2, "w-axis cos");
  PT_CHECK (cd[62 * 64 + 5] == 1.0f && sd[62 * 64 + 5] == 0.0f, "padding token is identity");
  rl_tensor_release (&c);
  rl_tensor_release (&s);
  rl_allocator_destroy (alloc);
}

int
main (void)
{
  rt_seed ();
  PT_RUN (test_status_codes);
  PT_RUN (test_dtype_table);
  PT_RUN (test_views);
  PT_RUN (test_block_views);
  PT_RUN (test_external_storage);
  PT_RUN (test_allocator_stats);
  PT_RUN (test_allocator_trims_on_failure);
  PT_RUN (test_rope_table);
  return pt_finish ();
}
