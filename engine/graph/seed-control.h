/* Seed controls: what ComfyUI's frontend does to a seed widget after each
 * prompt it queues ("control_after_generate"). In a UI workflow the
 * control is the widget value right after the seed, e.g. KSampler's
 * widgets_values [seed, "randomize", steps, cfg, ...]:
 *
 *   fixed      the seed stays;
 *   increment  seed + step, held at the widget's max;
 *   decrement  seed - step, held at the widget's min;
 *   randomize  a new seed drawn uniformly from [min, min (max, 2^50)),
 *              as the frontend draws it (its numbers are JavaScript
 *              doubles, so it limits the range to 2^50 and clamps
 *              increment/decrement at the bounds instead of wrapping).
 *
 * The API prompt a job runs has no controls: callers build the prompt
 * first, then step the document for the next queue. */
#pragma once

#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"

G_BEGIN_DECLS

/* The frontend's randomize range ends here (Math.min (1125899906842624, max)). */
#define RL_SEED_RANDOM_LIMIT (G_GINT64_CONSTANT (1) << 50)

typedef enum {
  RL_SEED_CONTROL_FIXED,
  RL_SEED_CONTROL_INCREMENT,
  RL_SEED_CONTROL_DECREMENT,
  RL_SEED_CONTROL_RANDOMIZE,
} RlSeedControl;

typedef struct {
  gint64         node_id;
  const char    *input_name;    /* the seed widget, e.g. "noise_seed" (static, from the registry) */
  guint          value_index;   /* its place in the node's widgets_values */
  RlSeedControl  control;
  gint64         old_value;
  gint64         new_value;
} RlSeedChange;

/* Parses "fixed", "increment", "decrement" or "randomize". FALSE for
 * anything else. */
gboolean  rl_seed_control_from_string     (const char       *text,
                                           RlSeedControl    *control);

/* Applies every seed control of @workflow once, as the frontend does after
 * queueing it: each widget whose input declares control_after_generate
 * (per @registry) and whose value is followed by a control string.
 * A PrimitiveNode (frontend-only) whose widgets_values are [integer,
 * control] steps too, within the bounds of the integer widgets it feeds
 * (reported with input_name "value"); one feeding no integer widget stays.
 * Left alone: nodes of types @registry lacks, widgets converted to inputs
 * with a link (their value comes from the link, and stays stale as in
 * ComfyUI), widgets_values stored as an object, values that are not
 * integers.
 * @rand draws the random seeds (NULL: GLib's global generator).
 * Returns the changed seeds (RlSeedChange, document order); empty when
 * nothing changed. */
GArray   *rl_workflow_apply_seed_controls (RlWorkflow       *workflow,
                                           const RlRegistry *registry,
                                           GRand            *rand);

G_END_DECLS
