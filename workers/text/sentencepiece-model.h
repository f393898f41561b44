/* The parts of a serialized sentencepiece ModelProto (sentencepiece_model.
 * proto) that encoding needs, parsed from a byte buffer such as the
 * `spiece_model` uint8 tensor of ComfyUI's UMT5 text-encoder files.
 * Internal to workers/text; tokenizer.h is the public face. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/status.h"

/* ModelProto.SentencePiece.Type values. */
typedef enum {
  RL_SPM_NORMAL = 1,
  RL_SPM_UNKNOWN = 2,
  RL_SPM_CONTROL = 3,
  RL_SPM_USER_DEFINED = 4,
  RL_SPM_UNUSED = 5,
  RL_SPM_BYTE = 6,
} RlSpmPieceType;

typedef struct {
  const uint8_t *text;      /* points into the caller's model bytes */
  size_t         length;
  float          score;
  RlSpmPieceType type;
} RlSpmPiece;

typedef struct {
  RlSpmPiece    *pieces;    /* owned; index = token id */
  size_t         piece_count;

  /* TrainerSpec (defaults as in the .proto). */
  int            model_type;                 /* 1 = UNIGRAM */
  int32_t        unk_id, bos_id, eos_id, pad_id;
  int            byte_fallback;
  int            treat_whitespace_as_suffix;

  /* NormalizerSpec. */
  const uint8_t *normalizer_name;            /* not NUL-terminated */
  size_t         normalizer_name_length;
  const uint8_t *precompiled_charsmap;       /* into the model bytes */
  size_t         precompiled_charsmap_size;
  int            add_dummy_prefix;
  int            remove_extra_whitespaces;
  int            escape_whitespaces;
} RlSpmModel;

/* Parses `size` bytes. The model keeps pointers into `data`, which must
 * outlive it. On failure returns RL_E_FORMAT with a message naming the
 * field and byte offset, and leaves *model empty. */
RlStatus rl_spm_model_parse (RlSpmModel    *model,
                             const uint8_t *data,
                             size_t         size);

/* Frees what rl_spm_model_parse allocated; safe on an empty model. */
void     rl_spm_model_clear (RlSpmModel    *model);
