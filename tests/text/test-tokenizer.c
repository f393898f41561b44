/* SentencePiece unigram tokenizer against the sentencepiece package.
 *
 * make_spm_testdata.py trains three unigram models on a fresh multi-script
 * corpus (seeded from the time; the seed is printed) and records the ids
 * and normalized text the package produces for 13,000+ strings that are not
 * in the corpus; every one must come out identical here. Then hand-built
 * and damaged models: each must load with a clear error or work, never
 * crash. The Python comes from $RAYLIGHT_SPM_PYTHON, else the .venv that
 * tools/install-deps creates; without it the test fails and says so. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "workers/text/comfy-prompt.h"
#include "workers/text/comfy-tokens.h"
#include "workers/text/tokenizer.h"

static char data_dir[] = "/tmp/raylight-spm-XXXXXX";
static int data_ready;
static unsigned long long test_seed;

typedef struct {
  uint8_t *data;
  size_t   size;
} Blob;

static Blob
read_file (const char *path)
{
  Blob b = { NULL, 0 };
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return b;
  fseek (f, 0, SEEK_END);
  long size = ftell (f);
  fseek (f, 0, SEEK_SET);
  b.data = malloc (size > 0 ? (size_t) size : 1);
  if (b.data && fread (b.data, 1, (size_t) size, f) == (size_t) size)
    b.size = (size_t) size;
  fclose (f);
  return b;
}

static int
run_generator (void)
{
  const char *python = getenv ("RAYLIGHT_SPM_PYTHON");
  const char *source = getenv ("RAYLIGHT_SOURCE_DIR");
  if (source == NULL) {
    printf ("# RAYLIGHT_SOURCE_DIR unset: run through meson test\n");
    return -1;
  }
  char default_python[4096], script[4096], seed_text[32];
  snprintf (default_python, sizeof default_python, "%s/.venv/bin/python", source);
  snprintf (script, sizeof script, "%s/tests/text/make_spm_testdata.py", source);
  snprintf (seed_text, sizeof seed_text, "%llu", test_seed);
  if (python == NULL)
    python = default_python;
  if (access (python, X_OK) != 0) {
    printf ("# %s not found: run tools/install-deps (it installs the sentencepiece package "
            "into .venv), or point RAYLIGHT_SPM_PYTHON at a python3 that has it\n", python);
    return -1;
  }
  fflush (stdout);
  pid_t pid = fork ();
  if (pid == 0) {
    execl (python, python, script, data_dir, seed_text, (char *) NULL);
    _exit (127);
  }
  int status;
  if (pid < 0 || waitpid (pid, &status, 0) != pid || !WIFEXITED (status) || WEXITSTATUS (status) != 0) {
    printf ("# %s %s failed: is the sentencepiece package installed? (tools/install-deps)\n",
            python, script);
    return -1;
  }
  return 0;
}

/* Prints text with non-printable and non-ASCII bytes escaped. */
static void
print_escaped (const char *label, const uint8_t *s, size_t n)
{
  printf ("#   %s \"", label);
  for (size_t i = 0; i < n && i < 300; i++)
    if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
      putchar (s[i]);
    else
      printf ("\\x%02x", s[i]);
  printf ("%s\"\n", n > 300 ? "..." : "");
}

static void
print_ids (const char *label, const int32_t *ids, size_t n)
{
  printf ("#   %s [", label);
  for (size_t i = 0; i < n && i < 40; i++)
    printf ("%s%d", i ? ", " : "", (int) ids[i]);
  printf ("%s] (%zu)\n", n > 40 ? ", ..." : "", n);
}

static int
is_valid_utf8 (const uint8_t *s, size_t n)
{
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > n)
      return 0;
    uint32_t cp = len == 1 ? c : (uint32_t) (c & (0x7f >> len));
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
      return 0;
    i += len;
  }
  return 1;
}

static uint32_t
read_u32 (const uint8_t **p, const uint8_t *end, int *ok)
{
  if (end - *p < 4) {
    *ok = 0;
    return 0;
  }
  uint32_t v = (uint32_t) (*p)[0] | (uint32_t) (*p)[1] << 8 | (uint32_t) (*p)[2] << 16 | (uint32_t) (*p)[3] << 24;
  *p += 4;
  return v;
}

/* Encodes every case of <name>.cases with <name>.model; returns the number
 * of strings checked (or -1 when the files are unreadable). */
static long
check_model_against_package (const char *name)
{
  char path[512];
  snprintf (path, sizeof path, "%s/%s.model", data_dir, name);
  Blob model = read_file (path);
  snprintf (path, sizeof path, "%s/%s.cases", data_dir, name);
  Blob cases = read_file (path);
  long checked = -1;
  RlTokenizer *tok = NULL;
  if (model.size == 0 || cases.size < 12 || memcmp (cases.data, "RLSPMT1\n", 8) != 0) {
    PT_CHECK (0, "%s: test data missing or unreadable in %s", name, data_dir);
    goto out;
  }
  RlStatus st = rl_tokenizer_new_from_bytes (model.data, model.size, &tok);
  if (st != RL_OK) {
    PT_CHECK (0, "%s: load failed: %s", name, rl_last_error ());
    goto out;
  }

  const uint8_t *p = cases.data + 8, *end = cases.data + cases.size;
  int ok = 1;
  uint32_t count = read_u32 (&p, end, &ok);
  long id_mismatches = 0, norm_mismatches = 0;
  checked = 0;
  for (uint32_t c = 0; c < count && ok; c++) {
    uint32_t text_len = read_u32 (&p, end, &ok);
    if (!ok || (size_t) (end - p) < text_len)
      break;
    const uint8_t *text = p;
    p += text_len;
    uint32_t norm_len = read_u32 (&p, end, &ok);
    if (!ok || (size_t) (end - p) < norm_len)
      break;
    const uint8_t *norm = p;
    p += norm_len;
    uint32_t n_ids = read_u32 (&p, end, &ok);
    if (!ok || (size_t) (end - p) / 4 < n_ids)
      break;
    int32_t *expected = malloc ((n_ids ? n_ids : 1) * sizeof *expected);
    for (uint32_t i = 0; i < n_ids; i++)
      expected[i] = (int32_t) read_u32 (&p, end, &ok);

    int32_t *ids = NULL;
    size_t n = 0;
    st = rl_tokenizer_encode (tok, (const char *) text, text_len, &ids, &n);
    int same = st == RL_OK && n == n_ids && (n == 0 || memcmp (ids, expected, n * sizeof *ids) == 0);
    if (!same && ++id_mismatches <= 15) {
      printf ("# %s: case %u: ids differ%s%s\n", name, c, st == RL_OK ? "" : ": ",
              st == RL_OK ? "" : rl_last_error ());
      print_escaped ("text      ", text, text_len);
      print_ids ("sentencepiece", expected, n_ids);
      print_ids ("ours         ", ids, n);
    }
    if (is_valid_utf8 (text, text_len)) {
      char *ours = NULL;
      size_t ours_len = 0;
      st = rl_tokenizer_normalize (tok, (const char *) text, text_len, &ours, &ours_len);
      if ((st != RL_OK || ours_len != norm_len || memcmp (ours, norm, norm_len) != 0)
          && ++norm_mismatches <= 15) {
        printf ("# %s: case %u: normalized text differs\n", name, c);
        print_escaped ("text      ", text, text_len);
        print_escaped ("expected  ", norm, norm_len);
        print_escaped ("ours      ", (const uint8_t *) ours, ours_len);
      }
      free (ours);
    }
    free (ids);
    free (expected);
    checked++;
  }
  PT_CHECK (ok && (uint32_t) checked == count, "%s: cases file truncated after %ld of %u", name, checked, count);
  PT_CHECK (id_mismatches == 0, "%s: %ld of %ld strings tokenized differently from sentencepiece",
            name, id_mismatches, checked);
  PT_CHECK (norm_mismatches == 0, "%s: %ld strings normalized differently", name, norm_mismatches);
  printf ("# %s: %ld strings, %ld id mismatches, %ld normalization mismatches\n",
          name, checked, id_mismatches, norm_mismatches);

out:
  rl_tokenizer_free (tok);
  free (model.data);
  free (cases.data);
  return checked;
}

static void
test_umt5like_matches_sentencepiece (void)
{
  PT_REQUIRE (data_ready, "no test data (see above)");
  long n = check_model_against_package ("umt5like");
  PT_CHECK (n >= 10000, "only %ld strings checked; need 10,000", n);
}

static void
test_byte_fallback_and_user_defined_match_sentencepiece (void)
{
  PT_REQUIRE (data_ready, "no test data (see above)");
  check_model_against_package ("bytefb");
}

static void
test_identity_whitespace_suffix_matches_sentencepiece (void)
{
  PT_REQUIRE (data_ready, "no test data (see above)");
  check_model_against_package ("suffix");
}

/* ---- hand-built models --------------------------------------------------- */

typedef struct {
  uint8_t data[4096];
  size_t  size;
} Proto;

static void
put_varint (Proto *p, uint64_t v)
{
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    p->data[p->size++] = b | (v ? 0x80 : 0);
  } while (v);
}

static void
put_bytes (Proto *p, uint32_t field, const void *bytes, size_t n)
{
  put_varint (p, (uint64_t) field << 3 | 2);
  put_varint (p, n);
  memcpy (p->data + p->size, bytes, n);
  p->size += n;
}

static void
put_piece (Proto *p, const char *text, float score, int type)
{
  Proto piece = { .size = 0 };
  put_bytes (&piece, 1, text, strlen (text));
  put_varint (&piece, 2 << 3 | 5);
  memcpy (piece.data + piece.size, &score, 4);
  piece.size += 4;
  put_varint (&piece, 3 << 3 | 0);
  put_varint (&piece, (uint64_t) type);
  put_bytes (p, 1, piece.data, piece.size);
}

static void
put_trainer_varint (Proto *p, uint32_t field, uint64_t value)
{
  Proto spec = { .size = 0 };
  put_varint (&spec, (uint64_t) field << 3);
  put_varint (&spec, value);
  put_bytes (p, 2, spec.data, spec.size);
}

/* <unk> <s> </s>, then ▁ a b ab ▁ab with chosen scores. */
static Proto
tiny_model (void)
{
  Proto p = { .size = 0 };
  put_piece (&p, "<unk>", 0, 2);
  put_piece (&p, "<s>", 0, 3);
  put_piece (&p, "</s>", 0, 3);
  put_piece (&p, "\xe2\x96\x81", -2.0f, 1);   /* 3 */
  put_piece (&p, "a", -3.0f, 1);              /* 4 */
  put_piece (&p, "b", -3.0f, 1);              /* 5 */
  put_piece (&p, "ab", -5.0f, 1);             /* 6 */
  put_piece (&p, "\xe2\x96\x81" "ab", -4.5f, 1); /* 7 */
  return p;
}

static void
expect_ids (RlTokenizer *tok, const char *text, const int32_t *want, size_t want_n)
{
  int32_t *ids = NULL;
  size_t n = 0;
  RlStatus st = rl_tokenizer_encode (tok, text, strlen (text), &ids, &n);
  int same = st == RL_OK && n == want_n && (n == 0 || memcmp (ids, want, n * sizeof *ids) == 0);
  PT_CHECK (same, "\"%s\": status %d", text, (int) st);
  if (!same) {
    print_ids ("want", want, want_n);
    print_ids ("got ", ids, n);
  }
  free (ids);
}

static void
test_hand_built_model_viterbi (void)
{
  Proto p = tiny_model ();
  RlTokenizer *tok = NULL;
  PT_REQUIRE (rl_tokenizer_new_from_bytes (p.data, p.size, &tok) == RL_OK, "%s", rl_last_error ());
  /* "▁ab": ▁ab (-4.5) beats ▁+ab (-7) and ▁+a+b (-8). */
  expect_ids (tok, "ab", (int32_t[]) { 7 }, 1);
  /* "▁ab▁ba": then ▁ (-2), b, a. */
  expect_ids (tok, "ab ba", (int32_t[]) { 7, 3, 5, 4 }, 4);
  /* Unknown x, y merge into one <unk>; z after a known piece is separate. */
  expect_ids (tok, "abxyaz", (int32_t[]) { 7, 0, 4, 0 }, 4);
  expect_ids (tok, "", NULL, 0);
  expect_ids (tok, "   ", NULL, 0);
  PT_CHECK (rl_tokenizer_unk_id (tok) == 0 && rl_tokenizer_eos_id (tok) == 2 && rl_tokenizer_bos_id (tok) == 1
            && rl_tokenizer_pad_id (tok) == -1, "special ids");
  PT_CHECK (rl_tokenizer_vocab_size (tok) == 8, "vocab %zu", rl_tokenizer_vocab_size (tok));
  size_t len;
  const char *piece = rl_tokenizer_piece (tok, 6, &len);
  PT_CHECK (piece && len == 2 && memcmp (piece, "ab", 2) == 0, "piece 6");
  PT_CHECK (rl_tokenizer_piece (tok, 8, &len) == NULL && rl_tokenizer_piece (tok, -1, NULL) == NULL, "range");
  rl_tokenizer_free (tok);
}

/* Equal path scores: sentencepiece keeps the first path to reach a
 * position ("▁"+"ab", found from the start of "ab") over a later equal one
 * ("▁"+"a"+"b"). User-defined pieces win over any segmentation. */
static void
test_hand_built_model_ties_and_user_defined (void)
{
  Proto p = { .size = 0 };
  put_piece (&p, "<unk>", 0, 2);
  put_piece (&p, "\xe2\x96\x81", -2.0f, 1);   /* 1 */
  put_piece (&p, "a", -1.0f, 1);              /* 2 */
  put_piece (&p, "b", -1.0f, 1);              /* 3 */
  put_piece (&p, "ab", -2.0f, 1);             /* 4 */
  put_piece (&p, "bab", 0, 4);                /* 5: user-defined */
  put_piece (&p, "aa", -1.5f, 5);             /* 6: unused, never emitted */
  RlTokenizer *tok = NULL;
  PT_REQUIRE (rl_tokenizer_new_from_bytes (p.data, p.size, &tok) == RL_OK, "%s", rl_last_error ());
  expect_ids (tok, "ab", (int32_t[]) { 1, 4 }, 2);
  expect_ids (tok, "abab", (int32_t[]) { 1, 2, 5 }, 3);
  expect_ids (tok, "aa", (int32_t[]) { 1, 2, 2 }, 3);
  rl_tokenizer_free (tok);
}

static void
expect_load_error (const Proto *p, const char *needle)
{
  RlTokenizer *tok = NULL;
  RlStatus st = rl_tokenizer_new_from_bytes (p->data, p->size, &tok);
  PT_CHECK (st == RL_E_FORMAT && tok == NULL, "expected a format error mentioning \"%s\", got %d", needle, (int) st);
  PT_CHECK (strstr (rl_last_error (), needle) != NULL, "message \"%s\" lacks \"%s\"", rl_last_error (), needle);
  rl_tokenizer_free (tok);
}

static void
test_invalid_models_are_clear_errors (void)
{
  Proto empty = { .size = 0 };
  expect_load_error (&empty, "empty");

  Proto p = { .size = 0 };
  put_piece (&p, "a", -1, 1);
  expect_load_error (&p, "no unknown piece");

  p = tiny_model ();
  put_piece (&p, "ab", -1, 1);
  expect_load_error (&p, "defined twice");

  p = tiny_model ();
  put_piece (&p, "<0x41>", 0, 6);
  expect_load_error (&p, "byte_fallback is off");

  p = tiny_model ();
  put_trainer_varint (&p, 35, 1);
  expect_load_error (&p, "<0x00> is missing");

  p = tiny_model ();
  put_trainer_varint (&p, 3, 2);
  expect_load_error (&p, "not UNIGRAM");

  p = tiny_model ();
  put_piece (&p, "<unk2>", 0, 2);
  expect_load_error (&p, "two unknown pieces");

  p = tiny_model ();
  put_piece (&p, "", 0, 1);
  expect_load_error (&p, "empty");

  p = tiny_model ();
  put_piece (&p, "q", 0, 9);
  expect_load_error (&p, "unknown type");

  p = tiny_model ();
  Proto norm = { .size = 0 };
  put_bytes (&norm, 2, "\xff\xff\x00\x00xyz", 7);
  put_bytes (&p, 3, norm.data, norm.size);
  expect_load_error (&p, "precompiled_charsmap");

  /* A group (wire type 3) and a truncated varint. */
  p = tiny_model ();
  put_varint (&p, 9 << 3 | 3);
  expect_load_error (&p, "malformed");
  p = tiny_model ();
  p.data[p.size++] = 0x80;
  expect_load_error (&p, "malformed");

  const char *garbage = "this is not a sentencepiece model at all";
  memcpy (p.data, garbage, strlen (garbage));
  p.size = strlen (garbage);
  RlTokenizer *tok = NULL;
  PT_CHECK (rl_tokenizer_new_from_bytes (p.data, p.size, &tok) != RL_OK && tok == NULL, "garbage loaded");
}

/* A charsmap whose trie sends the walk outside the array must give an
 * error at encode time, not a read out of bounds. */
static void
test_corrupt_charsmap_trie_fails_encode (void)
{
  Proto p = tiny_model ();
  uint8_t blob[4 + 8 + 4];
  uint32_t trie_size = 8;
  memcpy (blob, &trie_size, 4);
  uint32_t root = (4000u << 10);      /* offset far past the 2 units */
  uint32_t unit1 = 0;
  memcpy (blob + 4, &root, 4);
  memcpy (blob + 8, &unit1, 4);
  memcpy (blob + 12, "x\0y", 4);
  Proto norm = { .size = 0 };
  put_bytes (&norm, 2, blob, sizeof blob);
  put_bytes (&p, 3, norm.data, norm.size);
  RlTokenizer *tok = NULL;
  PT_REQUIRE (rl_tokenizer_new_from_bytes (p.data, p.size, &tok) == RL_OK, "%s", rl_last_error ());
  int32_t *ids = NULL;
  size_t n = 0;
  PT_CHECK (rl_tokenizer_encode (tok, "ab", 2, &ids, &n) == RL_E_FORMAT, "corrupt trie accepted");
  PT_CHECK (strstr (rl_last_error (), "charsmap") != NULL, "message: %s", rl_last_error ());
  free (ids);
  rl_tokenizer_free (tok);
}

/* Truncations and byte flips of a real model: load either fails cleanly or
 * gives a tokenizer that encodes without crashing. */
static void
test_damaged_real_model_never_crashes (void)
{
  PT_REQUIRE (data_ready, "no test data (see above)");
  char path[512];
  snprintf (path, sizeof path, "%s/bytefb.model", data_dir);
  Blob model = read_file (path);
  PT_REQUIRE (model.size > 0, "no model");
  srand ((unsigned) test_seed);
  uint8_t *copy = malloc (model.size);
  int loaded = 0, rejected = 0;
  const char *texts[] = { "Hello, world ﬁ ！", "", "\xff\xfe abc", "世界 ★★ <sep>" };
  for (int round = 0; round < 160; round++) {
    memcpy (copy, model.data, model.size);
    size_t size = model.size;
    if (round < 60) {
      size = (size_t) rand () % model.size;
    } else {
      for (int k = 0; k < 1 + round % 8; k++)
        copy[(size_t) rand () % size] = (uint8_t) rand ();
    }
    RlTokenizer *tok = NULL;
    if (rl_tokenizer_new_from_bytes (copy, size, &tok) != RL_OK) {
      rejected++;
      PT_CHECK (strlen (rl_last_error ()) > 10, "round %d: error without a message", round);
      continue;
    }
    loaded++;
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
      int32_t *ids = NULL;
      size_t n = 0;
      if (rl_tokenizer_encode (tok, texts[t], strlen (texts[t]), &ids, &n) == RL_OK)
        for (size_t i = 0; i < n; i++)
          PT_CHECK (ids[i] >= 0 && (size_t) ids[i] < rl_tokenizer_vocab_size (tok), "id %d", (int) ids[i]);
      free (ids);
    }
    rl_tokenizer_free (tok);
  }
  printf ("# damaged models: %d rejected, %d loaded\n", rejected, loaded);
  PT_CHECK (rejected >= 60, "only %d of 160 damaged models rejected", rejected);
  free (copy);
  free (model.data);
}

/* ---- ComfyUI layout ------------------------------------------------------ */

static void
test_comfy_layout_umt5 (void)
{
  Proto p = tiny_model ();
  RlTokenizer *tok = NULL;
  PT_REQUIRE (rl_tokenizer_new_from_bytes (p.data, p.size, &tok) == RL_OK, "%s", rl_last_error ());
  RlTokenLayout layout = rl_token_layout_umt5 ();
  RlTokenSequence seq;

  PT_REQUIRE (rl_comfy_tokens_encode (tok, "", 0, &layout, &seq) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (seq.length == 512 && seq.token_count == 0 && seq.ids[0] == 2 && seq.mask[0] == 1, "empty prompt");
  int pads_ok = 1;
  for (size_t i = 1; i < seq.length; i++)
    pads_ok &= seq.ids[i] == 0 && seq.mask[i] == 0;
  PT_CHECK (pads_ok, "padding after EOS must be id 0 with mask 0");
  rl_token_sequence_clear (&seq);

  PT_REQUIRE (rl_comfy_tokens_encode (tok, "ab ba", 5, &layout, &seq) == RL_OK, "%s", rl_last_error ());
  int32_t want[] = { 7, 3, 5, 4, 2, 0 };
  PT_CHECK (seq.length == 512 && seq.token_count == 4 && memcmp (seq.ids, want, sizeof want) == 0
            && seq.mask[4] == 1 && seq.mask[5] == 0, "\"ab ba\" layout");
  rl_token_sequence_clear (&seq);

  /* 700 tokens: ComfyUI neither truncates nor splits for UMT5. */
  int32_t tokens[700];
  for (int i = 0; i < 700; i++)
    tokens[i] = 3 + i % 5;
  PT_REQUIRE (rl_comfy_tokens_layout (tokens, NULL, 700, 1, &layout, &seq) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (seq.length == 701 && seq.ids[700] == 1 && seq.mask[700] == 1 && seq.ids[699] == tokens[699],
            "long prompt: length %zu", seq.length);
  rl_token_sequence_clear (&seq);

  /* The original Wan tokenizer truncates to 512 including the EOS. */
  layout.max_length = 512;
  PT_REQUIRE (rl_comfy_tokens_layout (tokens, NULL, 700, 1, &layout, &seq) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (seq.length == 512 && seq.token_count == 511 && seq.ids[511] == 1, "truncated layout");
  rl_token_sequence_clear (&seq);
  rl_token_sequence_clear (&seq);
  rl_tokenizer_free (tok);
}

typedef struct {
  const char *prompt;
  int         count;
  const char *text[4];
  double      weight[4];
} PromptCase;

static void
test_comfy_prompt_weights (void)
{
  static const PromptCase cases[] = {
    { "a cat, (blue:1.2) sky", 3, { "a cat, ", "blue", " sky" }, { 1.0, 1.2, 1.0 } },
    { "((red))", 1, { "red" }, { 1.1 * 1.1 } },
    { "\\(literal\\) text", 1, { "(literal) text" }, { 1.0 } },
    { "(a:0.5)(b)", 2, { "a", "b" }, { 0.5, 1.1 } },
    { "x (y:bad) z", 3, { "x ", "y:bad", " z" }, { 1.0, 1.1, 1.0 } },
    { "(:1.5)", 1, { ":1.5" }, { 1.1 } },
    { "a)b(c", 1, { "a)b(c" }, { 1.0 } },
    { "(a (b:2) c:1.5)", 3, { "a ", "b", " c" }, { 1.5, 2.0, 1.5 } },
    { "(a: 1_0 )(b:1__0)", 2, { "a", "b:1__0" }, { 10.0, 1.1 } },
    { "(a:1e400)(b:0x10)", 2, { "a", "b:0x10" }, { 1.0 / 0.0, 1.1 } },
    { "photo embedding:foo, bar", 2, { "photo", ", bar" }, { 1.0, 1.0 } },
    { "photo\nembedding:style  of  x", 2, { "photo", "of x" }, { 1.0, 1.0 } },
    { "embedding:alone", 0, { NULL }, { 0 } },
    { "()", 0, { NULL }, { 0 } },
    { "", 0, { NULL }, { 0 } },
    { "色调艳丽，过曝", 1, { "色调艳丽，过曝" }, { 1.0 } },
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const PromptCase *pc = &cases[c];
    RlPromptPieces pieces;
    RlStatus st = rl_comfy_prompt_split (pc->prompt, strlen (pc->prompt), &pieces);
    PT_CHECK (st == RL_OK && (int) pieces.count == pc->count, "\"%s\": %zu pieces, want %d", pc->prompt,
              pieces.count, pc->count);
    for (int i = 0; st == RL_OK && i < pc->count && (size_t) i < pieces.count; i++) {
      PT_CHECK (strcmp (pieces.pieces[i].text, pc->text[i]) == 0, "\"%s\" piece %d: \"%s\", want \"%s\"",
                pc->prompt, i, pieces.pieces[i].text, pc->text[i]);
      PT_CHECK (pieces.pieces[i].weight == pc->weight[i], "\"%s\" piece %d: weight %.17g, want %.17g",
                pc->prompt, i, pieces.pieces[i].weight, pc->weight[i]);
    }
    rl_comfy_prompt_clear (&pieces);
  }

  char deep[2100];
  memset (deep, '(', 1050);
  memset (deep + 1050, ')', 1050);
  RlPromptPieces pieces;
  PT_CHECK (rl_comfy_prompt_split (deep, sizeof deep, &pieces) == RL_E_INVALID_ARG, "1050 nested levels accepted");
  PT_CHECK (strstr (rl_last_error (), "nest") != NULL, "message: %s", rl_last_error ());
}

static void
test_comfy_encode_weighted_prompt (void)
{
  Proto p = tiny_model ();
  RlTokenizer *tok = NULL;
  PT_REQUIRE (rl_tokenizer_new_from_bytes (p.data, p.size, &tok) == RL_OK, "%s", rl_last_error ());
  RlTokenLayout layout = rl_token_layout_umt5 ();
  RlTokenSequence seq;
  /* "ab " and "ba" are encoded separately: "▁ab" and "▁" "b" "a". */
  PT_REQUIRE (rl_comfy_tokens_encode (tok, "ab (ba:2)", 9, &layout, &seq) == RL_OK, "%s", rl_last_error ());
  int32_t want[] = { 7, 3, 5, 4, 2, 0 };
  double want_w[] = { 1, 2, 2, 2, 1, 1 };
  PT_CHECK (seq.length == 512 && seq.token_count == 4 && memcmp (seq.ids, want, sizeof want) == 0
            && memcmp (seq.weights, want_w, sizeof want_w) == 0, "weighted prompt layout");
  PT_CHECK (rl_token_sequence_has_weights (&seq), "weights not reported");
  rl_token_sequence_clear (&seq);
  PT_REQUIRE (rl_comfy_tokens_encode (tok, "ab ba", 5, &layout, &seq) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (!rl_token_sequence_has_weights (&seq), "plain prompt has weights");
  rl_token_sequence_clear (&seq);
  rl_tokenizer_free (tok);
}

static void
remove_data_dir (void)
{
  const char *names[] = { "umt5like", "bytefb", "suffix" };
  char path[512];
  for (size_t i = 0; i < 3; i++) {
    snprintf (path, sizeof path, "%s/%s.model", data_dir, names[i]);
    unlink (path);
    snprintf (path, sizeof path, "%s/%s.cases", data_dir, names[i]);
    unlink (path);
  }
  rmdir (data_dir);
}

int
main (void)
{
  const char *env = getenv ("RAYLIGHT_TEST_SEED");
  test_seed = env ? strtoull (env, NULL, 10) : (unsigned long long) time (NULL);
  printf ("# seed %llu (set RAYLIGHT_TEST_SEED to repeat)\n", test_seed);
  if (mkdtemp (data_dir) != NULL && run_generator () == 0)
    data_ready = 1;

  PT_RUN (test_umt5like_matches_sentencepiece);
  PT_RUN (test_byte_fallback_and_user_defined_match_sentencepiece);
  PT_RUN (test_identity_whitespace_suffix_matches_sentencepiece);
  PT_RUN (test_hand_built_model_viterbi);
  PT_RUN (test_hand_built_model_ties_and_user_defined);
  PT_RUN (test_invalid_models_are_clear_errors);
  PT_RUN (test_corrupt_charsmap_trie_fails_encode);
  PT_RUN (test_damaged_real_model_never_crashes);
  PT_RUN (test_comfy_layout_umt5);
  PT_RUN (test_comfy_prompt_weights);
  PT_RUN (test_comfy_encode_weighted_prompt);
  remove_data_dir ();
  return pt_finish ();
}
