/* ComfyUI token layout. See comfy-tokens.h. */
#include "workers/text/comfy-tokens.h"

#include <stdlib.h>
#include <string.h>

RlTokenLayout
rl_token_layout_umt5 (void)
{
  return (RlTokenLayout) { .min_length = RL_UMT5_MIN_LENGTH, .max_length = 0,
                           .pad_id = RL_UMT5_PAD_ID };
}

RlStatus
rl_comfy_tokens_layout (const int32_t *tokens, size_t count, int32_t eos_id,
                        const RlTokenLayout *layout, RlTokenSequence *out)
{
  memset (out, 0, sizeof *out);
  if (layout == NULL || (tokens == NULL && count > 0))
    return rl_set_error (RL_E_INVALID_ARG, "token layout: no layout or no tokens");
  if (layout->max_length == 1)
    return rl_set_error (RL_E_INVALID_ARG, "token layout: max_length 1 leaves no room for tokens before the EOS");
  if (layout->max_length > 0 && count > layout->max_length - 1)
    count = layout->max_length - 1;
  size_t length = count + 1;
  if (length < layout->min_length)
    length = layout->min_length;

  out->ids = malloc (length * sizeof *out->ids);
  out->mask = malloc (length);
  if (out->ids == NULL || out->mask == NULL) {
    rl_token_sequence_clear (out);
    return rl_set_error (RL_E_NO_MEMORY, "token layout: no memory for %zu ids", length);
  }
  if (count)
    memcpy (out->ids, tokens, count * sizeof *tokens);
  out->ids[count] = eos_id;
  memset (out->mask, 1, count + 1);
  for (size_t i = count + 1; i < length; i++) {
    out->ids[i] = layout->pad_id;
    out->mask[i] = 0;
  }
  out->length = length;
  out->token_count = count;
  return RL_OK;
}

RlStatus
rl_comfy_tokens_encode (const RlTokenizer *tokenizer, const char *text, size_t length,
                        const RlTokenLayout *layout, RlTokenSequence *out)
{
  memset (out, 0, sizeof *out);
  int32_t eos = rl_tokenizer_eos_id (tokenizer);
  if (eos < 0)
    return rl_set_error (RL_E_FORMAT, "token layout: the tokenizer model defines no EOS control piece");
  int32_t *ids;
  size_t count;
  RlStatus st = rl_tokenizer_encode (tokenizer, text, length, &ids, &count);
  if (st != RL_OK)
    return st;
  st = rl_comfy_tokens_layout (ids, count, eos, layout, out);
  free (ids);
  return st;
}

void
rl_token_sequence_clear (RlTokenSequence *sequence)
{
  free (sequence->ids);
  free (sequence->mask);
  memset (sequence, 0, sizeof *sequence);
}
