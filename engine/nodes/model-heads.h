/* The Ulysses degree against a diffusion checkpoint's attention heads
 * (workers/checkpoint/attention-heads.h reads them from the header), so
 * that a degree the model cannot split is refused before any worker
 * starts; the workers check again when they load it. */
#pragma once

#include <glib.h>

#include "engine/pool/pool-service.h"

G_BEGIN_DECLS

/* FALSE with a validation error naming the model, its heads, the valid
 * Ulysses degrees and where to change it when @parallel's Ulysses degree
 * does not divide the heads of the model in @path (models whose heads the
 * header does not tell pass). @from_node: the
 * degrees came from a Parallel Settings node (else the pool's settings or
 * environment). */
gboolean rl_model_check_ulysses   (const char            *path,
                                   const RlPoolParallel  *parallel,
                                   gboolean               from_node,
                                   GError               **error);

G_END_DECLS
