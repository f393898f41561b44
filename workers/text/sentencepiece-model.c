/* ModelProto parsing. See sentencepiece-model.h. Field numbers are those of
 * sentencepiece_model.proto; unknown fields are skipped, as protobuf does,
 * and repeated occurrences of a singular message merge into one. */
#include "workers/text/sentencepiece-model.h"

#include <stdlib.h>
#include <string.h>

#include "workers/text/protobuf-reader.h"

enum {
  MODEL_PIECES = 1,
  MODEL_TRAINER_SPEC = 2,
  MODEL_NORMALIZER_SPEC = 3,

  PIECE_TEXT = 1,
  PIECE_SCORE = 2,
  PIECE_TYPE = 3,

  TRAINER_MODEL_TYPE = 3,
  TRAINER_TREAT_WHITESPACE_AS_SUFFIX = 24,
  TRAINER_BYTE_FALLBACK = 35,
  TRAINER_UNK_ID = 40,
  TRAINER_BOS_ID = 41,
  TRAINER_EOS_ID = 42,
  TRAINER_PAD_ID = 43,

  NORMALIZER_NAME = 1,
  NORMALIZER_CHARSMAP = 2,
  NORMALIZER_ADD_DUMMY_PREFIX = 3,
  NORMALIZER_REMOVE_EXTRA_WHITESPACES = 4,
  NORMALIZER_ESCAPE_WHITESPACES = 5,
};

typedef struct {
  const uint8_t *base;      /* start of the whole model, for offsets */
  RlSpmModel    *model;
  size_t         capacity;  /* of model->pieces */
} Parser;

static RlStatus
malformed (const Parser *parser, const RlPbReader *reader, const char *what)
{
  return rl_set_error (RL_E_FORMAT,
                       "sentencepiece model: malformed %s near byte %zu; the tokenizer data "
                       "(spiece_model tensor or .model file) is damaged or not a sentencepiece model",
                       what, (size_t) (reader->pos - parser->base));
}

/* Reads a varint field as a signed 32-bit protobuf int32. */
static int
read_int32 (RlPbReader *reader, uint32_t wire_type, int32_t *out)
{
  uint64_t v;
  if (wire_type != RL_PB_VARINT || rl_pb_read_varint (reader, &v) != 0)
    return -1;
  *out = (int32_t) (uint32_t) v;
  return 0;
}

static RlStatus
parse_piece (Parser *parser, const uint8_t *data, size_t size)
{
  RlSpmPiece piece = { .text = NULL, .length = 0, .score = 0.0f, .type = RL_SPM_NORMAL };
  RlPbReader reader;
  rl_pb_reader_init (&reader, data, size);
  while (rl_pb_has_more (&reader)) {
    uint32_t field, wire;
    if (rl_pb_read_key (&reader, &field, &wire) != 0)
      return malformed (parser, &reader, "piece field key");
    if (field == PIECE_TEXT && wire == RL_PB_BYTES) {
      if (rl_pb_read_bytes (&reader, &piece.text, &piece.length) != 0)
        return malformed (parser, &reader, "piece text");
    } else if (field == PIECE_SCORE && wire == RL_PB_FIXED32) {
      uint32_t bits;
      if (rl_pb_read_fixed32 (&reader, &bits) != 0)
        return malformed (parser, &reader, "piece score");
      memcpy (&piece.score, &bits, sizeof bits);
    } else if (field == PIECE_TYPE && wire == RL_PB_VARINT) {
      int32_t type;
      if (read_int32 (&reader, wire, &type) != 0)
        return malformed (parser, &reader, "piece type");
      if (type < RL_SPM_NORMAL || type > RL_SPM_BYTE)
        return rl_set_error (RL_E_FORMAT, "sentencepiece model: piece %zu has unknown type %d",
                             parser->model->piece_count, (int) type);
      piece.type = (RlSpmPieceType) type;
    } else if (rl_pb_skip (&reader, wire) != 0) {
      return malformed (parser, &reader, "piece field");
    }
  }
  if (piece.length == 0)
    return rl_set_error (RL_E_FORMAT, "sentencepiece model: piece %zu is empty (pieces must not be empty)",
                         parser->model->piece_count);

  RlSpmModel *model = parser->model;
  if (model->piece_count == parser->capacity) {
    size_t capacity = parser->capacity ? parser->capacity * 2 : 1024;
    RlSpmPiece *grown = realloc (model->pieces, capacity * sizeof *grown);
    if (grown == NULL)
      return rl_set_error (RL_E_NO_MEMORY, "sentencepiece model: no memory for %zu pieces", capacity);
    model->pieces = grown;
    parser->capacity = capacity;
  }
  model->pieces[model->piece_count++] = piece;
  return RL_OK;
}

static RlStatus
parse_trainer_spec (Parser *parser, const uint8_t *data, size_t size)
{
  RlSpmModel *model = parser->model;
  RlPbReader reader;
  rl_pb_reader_init (&reader, data, size);
  while (rl_pb_has_more (&reader)) {
    uint32_t field, wire;
    int32_t value;
    int32_t *target = NULL;
    int *flag = NULL;
    if (rl_pb_read_key (&reader, &field, &wire) != 0)
      return malformed (parser, &reader, "trainer_spec field key");
    switch (field) {
    case TRAINER_MODEL_TYPE: flag = &model->model_type; break;
    case TRAINER_TREAT_WHITESPACE_AS_SUFFIX: flag = &model->treat_whitespace_as_suffix; break;
    case TRAINER_BYTE_FALLBACK: flag = &model->byte_fallback; break;
    case TRAINER_UNK_ID: target = &model->unk_id; break;
    case TRAINER_BOS_ID: target = &model->bos_id; break;
    case TRAINER_EOS_ID: target = &model->eos_id; break;
    case TRAINER_PAD_ID: target = &model->pad_id; break;
    default: break;
    }
    if ((target || flag) && wire == RL_PB_VARINT) {
      if (read_int32 (&reader, wire, &value) != 0)
        return malformed (parser, &reader, "trainer_spec value");
      if (target)
        *target = value;
      else
        *flag = field == TRAINER_MODEL_TYPE ? value : value != 0;
    } else if (rl_pb_skip (&reader, wire) != 0) {
      return malformed (parser, &reader, "trainer_spec field");
    }
  }
  return RL_OK;
}

static RlStatus
parse_normalizer_spec (Parser *parser, const uint8_t *data, size_t size)
{
  RlSpmModel *model = parser->model;
  RlPbReader reader;
  rl_pb_reader_init (&reader, data, size);
  while (rl_pb_has_more (&reader)) {
    uint32_t field, wire;
    if (rl_pb_read_key (&reader, &field, &wire) != 0)
      return malformed (parser, &reader, "normalizer_spec field key");
    int *flag = NULL;
    if (field == NORMALIZER_ADD_DUMMY_PREFIX)
      flag = &model->add_dummy_prefix;
    else if (field == NORMALIZER_REMOVE_EXTRA_WHITESPACES)
      flag = &model->remove_extra_whitespaces;
    else if (field == NORMALIZER_ESCAPE_WHITESPACES)
      flag = &model->escape_whitespaces;

    if (flag && wire == RL_PB_VARINT) {
      uint64_t v;
      if (rl_pb_read_varint (&reader, &v) != 0)
        return malformed (parser, &reader, "normalizer_spec flag");
      *flag = v != 0;
    } else if (field == NORMALIZER_NAME && wire == RL_PB_BYTES) {
      if (rl_pb_read_bytes (&reader, &model->normalizer_name, &model->normalizer_name_length) != 0)
        return malformed (parser, &reader, "normalizer_spec name");
    } else if (field == NORMALIZER_CHARSMAP && wire == RL_PB_BYTES) {
      if (rl_pb_read_bytes (&reader, &model->precompiled_charsmap,
                            &model->precompiled_charsmap_size) != 0)
        return malformed (parser, &reader, "precompiled_charsmap");
    } else if (rl_pb_skip (&reader, wire) != 0) {
      return malformed (parser, &reader, "normalizer_spec field");
    }
  }
  return RL_OK;
}

static void
set_defaults (RlSpmModel *model)
{
  memset (model, 0, sizeof *model);
  model->model_type = 1;
  model->unk_id = 0;
  model->bos_id = 1;
  model->eos_id = 2;
  model->pad_id = -1;
  model->add_dummy_prefix = 1;
  model->remove_extra_whitespaces = 1;
  model->escape_whitespaces = 1;
}

RlStatus
rl_spm_model_parse (RlSpmModel *model, const uint8_t *data, size_t size)
{
  set_defaults (model);
  if (data == NULL || size == 0)
    return rl_set_error (RL_E_FORMAT, "sentencepiece model: the tokenizer data is empty");

  Parser parser = { .base = data, .model = model, .capacity = 0 };
  RlPbReader reader;
  rl_pb_reader_init (&reader, data, size);
  RlStatus st = RL_OK;
  while (st == RL_OK && rl_pb_has_more (&reader)) {
    uint32_t field, wire;
    const uint8_t *payload;
    size_t payload_size;
    if (rl_pb_read_key (&reader, &field, &wire) != 0) {
      st = malformed (&parser, &reader, "field key");
      break;
    }
    int is_message = wire == RL_PB_BYTES
                     && (field == MODEL_PIECES || field == MODEL_TRAINER_SPEC
                         || field == MODEL_NORMALIZER_SPEC);
    if (!is_message) {
      if (rl_pb_skip (&reader, wire) != 0)
        st = malformed (&parser, &reader, "field");
      continue;
    }
    if (rl_pb_read_bytes (&reader, &payload, &payload_size) != 0) {
      st = malformed (&parser, &reader, "length-delimited field");
      break;
    }
    if (field == MODEL_PIECES)
      st = parse_piece (&parser, payload, payload_size);
    else if (field == MODEL_TRAINER_SPEC)
      st = parse_trainer_spec (&parser, payload, payload_size);
    else
      st = parse_normalizer_spec (&parser, payload, payload_size);
  }
  if (st == RL_OK && model->piece_count == 0)
    st = rl_set_error (RL_E_FORMAT, "sentencepiece model: no pieces (%zu bytes read); "
                       "the tokenizer data is not a sentencepiece model", size);
  if (st != RL_OK)
    rl_spm_model_clear (model);
  return st;
}

void
rl_spm_model_clear (RlSpmModel *model)
{
  free (model->pieces);
  set_defaults (model);
}
