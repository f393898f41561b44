/* Writing safetensors checkpoints of random weights, for tests.
 *
 * Values are a pure function of (seed, tensor index, element index), so a
 * test can check what a reader returns without keeping a copy:
 * make_checkpoint_value () is the float32 written before rounding to the
 * tensor's dtype. Tensors are written in the order given. With
 * MAKE_CHECKPOINT_SCALED_FP8 every fp8 "<x>.weight" is followed by an F32
 * scalar "<x>.scale_weight" (make_checkpoint_scale ()) and stores
 * value / scale, and a 0-element "scaled_fp8" marker tensor is appended, as
 * ComfyUI's scaled fp8 checkpoints do. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/dtype.h"
#include "workers/runtime/status.h"

#define MAKE_CHECKPOINT_MAX_DIMS 8
#define MAKE_CHECKPOINT_MAX_NAME 512

typedef struct {
  char    name[MAKE_CHECKPOINT_MAX_NAME];
  RlDType dtype;
  int     ndim;
  int64_t shape[MAKE_CHECKPOINT_MAX_DIMS];
} MakeCheckpointSpec;

enum {
  MAKE_CHECKPOINT_SCALED_FP8 = 1 << 0,
  MAKE_CHECKPOINT_FAN_IN     = 1 << 1,   /* see make_checkpoint_gain () */
};

/* Parses "name dtype shape" or "name shape" (then `default_dtype`); shape
 * as "[1536, 16, 2]", "1536,16,2", "1536x16x2" or "[]" for a scalar.
 * Returns 1 for a tensor, 0 for a blank or '#' comment line, -1 on error
 * with a message in error. */
int       make_checkpoint_parse_line (const char         *line,
                                      RlDType             default_dtype,
                                      MakeCheckpointSpec *out,
                                      char               *error,
                                      size_t              error_size);

/* Writes the checkpoint on make_checkpoint_default_threads () threads.
 * `metadata` holds n_metadata key/value pairs (key0, value0, key1, ...)
 * for "__metadata__". */
RlStatus  make_checkpoint_write      (const char               *path,
                                      const MakeCheckpointSpec *specs,
                                      size_t                    n_specs,
                                      uint64_t                  seed,
                                      unsigned                  flags,
                                      const char *const        *metadata,
                                      size_t                    n_metadata);

/* The same on `threads` threads (< 1: the default). Threads take the
 * tensors' data in 1 Mi-element pieces and pwrite each at its offset; the
 * file is the same byte for byte whatever the number (a 28.6 GB Wan 14B
 * took about 3 minutes on one thread). */
RlStatus  make_checkpoint_write_threads (const char               *path,
                                         const MakeCheckpointSpec *specs,
                                         size_t                    n_specs,
                                         uint64_t                  seed,
                                         unsigned                  flags,
                                         const char *const        *metadata,
                                         size_t                    n_metadata,
                                         int                       threads);

/* The online CPUs, at most 256. */
int       make_checkpoint_default_threads (void);

/* Ways make_checkpoint_corrupt can break a file, each one a failure users
 * meet: the reader must refuse every one with a message naming the file
 * (and the tensor, where one is to blame). */
typedef enum {
  MAKE_CHECKPOINT_TRUNCATED,       /* the last quarter of the data cut off */
  MAKE_CHECKPOINT_HEADER_PAST_EOF, /* header length larger than the file */
  MAKE_CHECKPOINT_BAD_JSON,        /* the header's closing brace removed */
  MAKE_CHECKPOINT_LYING_OFFSETS,   /* last non-empty tensor's end one byte short */
  MAKE_CHECKPOINT_OVERLAP,         /* last non-empty tensor moved 2 bytes into its neighbour */
  MAKE_CHECKPOINT_UNKNOWN_DTYPE,   /* first tensor's dtype renamed "X..." */
  MAKE_CHECKPOINT_CORRUPTION_COUNT
} MakeCheckpointCorruption;

/* Name for --corrupt ("truncated", "header-past-eof", "bad-json",
 * "lying-offsets", "overlap", "unknown-dtype"); parse returns -1 if unknown. */
const char *make_checkpoint_corruption_name  (MakeCheckpointCorruption kind);
int         make_checkpoint_corruption_parse (const char *name);

/* Damages the valid checkpoint at `path` (written by make_checkpoint_write,
 * with a non-empty tensor after the first) in place. The tensor a message should name is written to
 * `blamed` (may be NULL; "" when the damage is not a tensor's). */
RlStatus    make_checkpoint_corrupt          (const char *path, MakeCheckpointCorruption kind,
                                              char *blamed, size_t blamed_size);

/* The float written for element `element` of tensor `tensor_index`, in
 * [-1, 1) and never 0 (integers: scaled to their range, see .c). */
float     make_checkpoint_value      (uint64_t seed, size_t tensor_index,
                                      int64_t element);

/* The scale of tensor `tensor_index` in scaled-fp8 mode, in [2^-6, 2^-2). */
float     make_checkpoint_scale      (uint64_t seed, size_t tensor_index);

/* Factor applied to make_checkpoint_value for integer dtypes (100 for I8,
 * 1e6 for I16..I64), 1 for floats. */
float     make_checkpoint_int_range  (RlDType dtype);

/* What the values of `spec` are multiplied by before rounding: with
 * MAKE_CHECKPOINT_FAN_IN, 1/sqrt(fan-in) (elements per row, numel /
 * shape[0]) for floating tensors of two or more dims — the bound of a
 * Linear or Conv layer's default initialisation — and 1 for the others
 * (biases, norm weights, integers) and without the flag. A model whose
 * weights all span [-1, 1) at any width drives its attention to one-hot
 * and amplifies every rounding difference; fan-in scaled weights keep the
 * activations near unit size, as trained models do. */
float     make_checkpoint_gain       (const MakeCheckpointSpec *spec, unsigned flags);
