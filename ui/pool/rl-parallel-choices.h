/* Which parallel configurations a pool of N workers can run — what the
 * Pool settings panel offers, so an impossible one can't be chosen — and
 * a sentence explaining each. The degree rules are the workers' own
 * (workers/parallel/usp-plan.c): Ulysses × Ring × CFG equals the number
 * of workers, or everything is 1 (each worker runs whole jobs). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint ulysses;
  guint ring;
} RlSpChoice;

/* The sequence-parallel (Ulysses, Ring) pairs for @n_workers with or
 * without CFG-parallel, "off" (1, 1) first where it is valid, then
 * Ulysses-heavy first. Empty when CFG-parallel cannot split @n_workers. */
GArray   *rl_parallel_sp_choices        (guint      n_workers,
                                         gboolean   cfg_parallel);
/* Whether (@ulysses, @ring, @cfg_parallel) is one of the choices. */
gboolean  rl_parallel_choice_is_valid   (guint      n_workers,
                                         guint      ulysses,
                                         guint      ring,
                                         gboolean   cfg_parallel);
/* CFG-parallel needs an even number of workers, at least two. */
gboolean  rl_parallel_cfg_possible      (guint      n_workers);
/* "Off", "Ulysses 2", "Ring 2", "Ulysses 2 × Ring 2". */
char     *rl_parallel_choice_label      (guint      ulysses,
                                         guint      ring);
/* What the choice does and what it costs, and which models' heads do not
 * split over its Ulysses degree. */
char     *rl_parallel_choice_explain    (guint      ulysses,
                                         guint      ring,
                                         gboolean   cfg_parallel,
                                         guint      n_workers);

G_END_DECLS
