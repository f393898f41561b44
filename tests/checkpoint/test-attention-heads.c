/* rl_checkpoint_attention_heads: a Wan DiT's heads from the header alone
 * (plain and ComfyUI-prefixed keys, fp8), and 0 — "cannot tell, let the
 * workers decide" — for every file it must not guess about. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "tools/make-checkpoint-writer.h"
#include "workers/checkpoint/attention-heads.h"

static char dir[256];

/* Writes the tensors of `lines` ("name dtype shape") to dir/name; returns
 * the path (static buffer) or NULL. */
static const char *
write_checkpoint (const char *name, const char *const *lines, size_t n)
{
  static char path[512];
  MakeCheckpointSpec specs[8];
  char error[256];

  snprintf (path, sizeof path, "%s/%s", dir, name);
  for (size_t i = 0; i < n; i++)
    if (make_checkpoint_parse_line (lines[i], RL_DTYPE_INVALID, &specs[i], error,
                                    sizeof error) != 1) {
      printf ("# bad spec '%s': %s\n", lines[i], error);
      return NULL;
    }
  return make_checkpoint_write (path, specs, n, 7, 0, NULL, 0) == RL_OK ? path : NULL;
}

static void
test_wan_keys (void)
{
  static const char *const plain[] = { "blocks.0.self_attn.q.weight BF16 [384, 384]",
                                       "blocks.0.self_attn.k.weight BF16 [384, 384]",
                                       "head.head.weight BF16 [64, 384]" };
  static const char *const prefixed[] = { "model.diffusion_model.blocks.0.self_attn.q.weight "
                                          "F8_E4M3 [256, 256]",
                                          "model.diffusion_model.patch_embedding.weight "
                                          "BF16 [256, 16, 1, 2, 2]" };
  const char *path = write_checkpoint ("plain.safetensors", plain, 3);
  PT_REQUIRE (path != NULL, "writing the plain checkpoint");
  PT_CHECK (rl_checkpoint_attention_heads (path) == 3, "plain: %d heads",
            rl_checkpoint_attention_heads (path));
  path = write_checkpoint ("prefixed.safetensors", prefixed, 2);
  PT_REQUIRE (path != NULL, "writing the prefixed checkpoint");
  PT_CHECK (rl_checkpoint_attention_heads (path) == 2, "prefixed: %d heads",
            rl_checkpoint_attention_heads (path));
}

static void
test_cannot_tell (void)
{
  static const char *const no_blocks[] = { "encoder.weight BF16 [384, 384]" };
  static const char *const not_square[] = { "blocks.0.self_attn.q.weight BF16 [384, 256]" };
  static const char *const not_whole_heads[] = { "blocks.0.self_attn.q.weight BF16 [200, 200]" };
  const char *path;
  char garbage[512];
  FILE *f;

  path = write_checkpoint ("no-blocks.safetensors", no_blocks, 1);
  PT_CHECK (path != NULL && rl_checkpoint_attention_heads (path) == 0, "no blocks");
  path = write_checkpoint ("not-square.safetensors", not_square, 1);
  PT_CHECK (path != NULL && rl_checkpoint_attention_heads (path) == 0, "q not square");
  path = write_checkpoint ("not-whole.safetensors", not_whole_heads, 1);
  PT_CHECK (path != NULL && rl_checkpoint_attention_heads (path) == 0, "dim 200");
  PT_CHECK (rl_checkpoint_attention_heads (NULL) == 0, "NULL path");
  snprintf (garbage, sizeof garbage, "%s/missing.safetensors", dir);
  PT_CHECK (rl_checkpoint_attention_heads (garbage) == 0, "missing file");
  snprintf (garbage, sizeof garbage, "%s/model.gguf", dir);
  PT_CHECK (rl_checkpoint_attention_heads (garbage) == 0, "not safetensors");
  snprintf (garbage, sizeof garbage, "%s/corrupt.safetensors", dir);
  f = fopen (garbage, "wb");
  PT_REQUIRE (f != NULL, "creating %s", garbage);
  fputs ("\x10\0\0\0\0\0\0\0{not json at all", f);
  fclose (f);
  PT_CHECK (rl_checkpoint_attention_heads (garbage) == 0, "corrupt header");
}

int
main (void)
{
  snprintf (dir, sizeof dir, "%s/raylight-heads-XXXXXX", getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
  if (mkdtemp (dir) == NULL)
    return 1;
  PT_RUN (test_wan_keys);
  PT_RUN (test_cannot_tell);
  char cmd[300];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system (cmd) != 0)
    printf ("# could not remove %s\n", dir);
  return pt_finish ();
}
