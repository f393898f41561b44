/* Valid parallel configurations and their explanations. */
#include "ui/pool/rl-parallel-choices.h"

#include "workers/parallel/usp-plan.h"

/* Attention heads of the models Raylight runs, for the Ulysses note:
 * Ulysses splits heads, so its degree must divide them. */
static const struct {
  const char *model;
  int         heads;
} known_models[] = {
  { "Wan 2.1 1.3B", 12 },
  { "Wan 2.1 14B", 40 },
};

gboolean
rl_parallel_cfg_possible (guint n_workers)
{
  return n_workers >= 2 && n_workers % 2 == 0;
}

GArray *
rl_parallel_sp_choices (guint    n_workers,
                        gboolean cfg_parallel)
{
  GArray *choices = g_array_new (FALSE, FALSE, sizeof (RlSpChoice));
  guint sp;

  if (n_workers == 0 || (cfg_parallel && !rl_parallel_cfg_possible (n_workers)))
    return choices;
  sp = cfg_parallel ? n_workers / 2 : n_workers;
  /* Without CFG-parallel, "off" means each worker runs whole jobs, valid
   * for any pool; with it, the SP group of one is the only (1, 1). */
  if (sp == 1 || !cfg_parallel)
    g_array_append_val (choices, ((RlSpChoice) { 1, 1 }));
  for (guint ulysses = sp; ulysses >= 1 && sp > 1; ulysses--)
    if (sp % ulysses == 0)
      g_array_append_val (choices, ((RlSpChoice) { ulysses, sp / ulysses }));
  return choices;
}

gboolean
rl_parallel_choice_is_valid (guint    n_workers,
                             guint    ulysses,
                             guint    ring,
                             gboolean cfg_parallel)
{
  g_autoptr(GArray) choices = rl_parallel_sp_choices (n_workers, cfg_parallel);

  for (guint i = 0; i < choices->len; i++)
    {
      RlSpChoice *choice = &g_array_index (choices, RlSpChoice, i);

      if (choice->ulysses == ulysses && choice->ring == ring)
        return TRUE;
    }
  return FALSE;
}

char *
rl_parallel_choice_label (guint ulysses,
                          guint ring)
{
  if (ulysses <= 1 && ring <= 1)
    return g_strdup ("Off");
  if (ring <= 1)
    return g_strdup_printf ("Ulysses %u", ulysses);
  if (ulysses <= 1)
    return g_strdup_printf ("Ring %u", ring);
  return g_strdup_printf ("Ulysses %u × Ring %u", ulysses, ring);
}

static void
append_heads_note (GString *text,
                   guint    ulysses)
{
  for (guint i = 0; i < G_N_ELEMENTS (known_models); i++)
    if (rl_usp_validate (known_models[i].heads, (int) ulysses, 1, (int) ulysses, false) != RL_OK)
      {
        char degrees[64];

        g_string_append_printf (text, " %s has %d heads, which Ulysses %u does not divide "
                                "(valid: %s); its jobs are refused with this setting.",
                                known_models[i].model, known_models[i].heads, ulysses,
                                rl_usp_ulysses_degrees (known_models[i].heads, 64, degrees, sizeof degrees));
      }
}

char *
rl_parallel_choice_explain (guint    ulysses,
                            guint    ring,
                            gboolean cfg_parallel,
                            guint    n_workers)
{
  GString *text = g_string_new (NULL);

  if (ulysses <= 1 && ring <= 1)
    g_string_append (text, n_workers > 1 && !cfg_parallel
                             ? "Each worker runs whole jobs on its own: no communication, one job per worker."
                             : "No sequence parallelism.");
  else if (ring <= 1)
    g_string_append_printf (text, "Ulysses: the %u workers split the attention heads and swap the sequence "
                            "with four all-to-alls per layer. Fastest on NVLink; wants fast links.", ulysses);
  else if (ulysses <= 1)
    g_string_append_printf (text, "Ring: the %u workers each keep a slice of the sequence and pass key/value "
                            "blocks around a ring, overlapped with compute. Any number of heads; tolerates "
                            "slower links.", ring);
  else
    g_string_append_printf (text, "Ulysses %u inside each group of close GPUs, Ring %u between the groups: "
                            "for more workers than a model's heads allow, or slower links between groups.",
                            ulysses, ring);
  if (cfg_parallel)
    g_string_append (text, " CFG-parallel: the conditional and unconditional passes run on two halves of "
                           "the pool and exchange one latent per step.");
  if (ulysses > 1)
    append_heads_note (text, ulysses);
  return g_string_free (text, FALSE);
}
