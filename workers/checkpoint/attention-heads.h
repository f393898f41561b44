/* A diffusion checkpoint's attention heads, told from its safetensors
 * header alone (no tensor data read): the app refuses a Ulysses degree
 * that cannot split them before any worker starts. Plain C; this header
 * pulls in no runtime types, so GLib code can include it. */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

/* Heads of the model in `path`, or 0 when the header does not tell (not a
 * safetensors file, unreadable, or a layout this check does not know: the
 * workers' own check then decides). Knows Wan's DiT (head dim 128, q of
 * the first block [dim, dim], with or without ComfyUI's
 * "model.diffusion_model." prefix). */
int rl_checkpoint_attention_heads (const char *path);

#ifdef __cplusplus
}
#endif
