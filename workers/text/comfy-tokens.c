/* ComfyUI token layout. See comfy-tokens.h. */
#include "workers/text/comfy-tokens.h"

#include <stdlib.h>
#include <string.h>

#include "workers/text/comfy-prompt.h"

RlTokenLayout
rl_token_layout_umt5 (void)
{
  return (RlTokenLayout) { .min_length = RL_UMT5_MIN_LENGTH, .max_length = 0,
                           .pad_id = RL_UMT5_PAD_ID };
}

RlStatus
rl_comfy_tokens_layout (const int32_t *tokens, const double *weights, size_t count, int32_t eos_id,
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
  out->weights = malloc (length * sizeof *out->weights);
  out->mask = malloc (length);
  if (out->ids == NULL || out->weights == NULL || out->mask == NULL) {
    rl_token_sequence_clear (out);
    return rl_set_error (RL_E_NO_MEMORY, "token layout: no memory for %zu ids", length);
  }
  for (size_t i = 0; i < length; i++) {
    out->ids[i] = i < count ? tokens[i] : i == count ? eos_id : layout->pad_id;
    out->weights[i] = i < count && weights ? weights[i] : 1.0;
    out->mask[i] = i <= count;
  }
  out->length = length;
  out->token_count = count;
  return RL_OK;
}

RlStatus
rl_comfy_tokens_encode (const RlTokenizer *tokenizer, const char *prompt, size_t length,
                        const RlTokenLayout *layout, RlTokenSequence *out)
{
  memset (out, 0, sizeof *out);
  int32_t eos = rl_tokenizer_eos_id (tokenizer);
  if (eos < 0)
    return rl_set_error (RL_E_FORMAT, "token layout: the tokenizer model defines no EOS control piece");
  RlPromptPieces pieces;
  RlStatus st = rl_comfy_prompt_split (prompt, length, &pieces);
  if (st != RL_OK)
    return st;

  int32_t *all_ids = NULL;
  double *all_weights = NULL;
  size_t total = 0;
  for (size_t k = 0; k < pieces.count && st == RL_OK; k++) {
    int32_t *ids;
    size_t count;
    st = rl_tokenizer_encode (tokenizer, pieces.pieces[k].text, pieces.pieces[k].length, &ids, &count);
    if (st != RL_OK || count == 0) {
      free (ids);
      continue;
    }
    int32_t *grown_ids = realloc (all_ids, (total + count) * sizeof *grown_ids);
    if (grown_ids)
      all_ids = grown_ids;
    double *grown_weights = realloc (all_weights, (total + count) * sizeof *grown_weights);
    if (grown_weights)
      all_weights = grown_weights;
    if (grown_ids == NULL || grown_weights == NULL) {
      st = rl_set_error (RL_E_NO_MEMORY, "token layout: no memory for %zu ids", total + count);
    } else {
      memcpy (all_ids + total, ids, count * sizeof *ids);
      for (size_t i = 0; i < count; i++)
        all_weights[total + i] = pieces.pieces[k].weight;
      total += count;
    }
    free (ids);
  }
  if (st == RL_OK)
    st = rl_comfy_tokens_layout (all_ids, all_weights, total, eos, layout, out);
  free (all_ids);
  free (all_weights);
  rl_comfy_prompt_clear (&pieces);
  return st;
}

int
rl_token_sequence_has_weights (const RlTokenSequence *sequence)
{
  for (size_t i = 0; i < sequence->length; i++)
    if (sequence->weights[i] != 1.0)
      return 1;
  return 0;
}

void
rl_token_sequence_clear (RlTokenSequence *sequence)
{
  free (sequence->ids);
  free (sequence->weights);
  free (sequence->mask);
  memset (sequence, 0, sizeof *sequence);
}
