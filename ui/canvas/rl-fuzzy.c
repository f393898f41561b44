/* Subsequence matching with bonuses, in the spirit of editors' "go to
 * file" pickers: typed letters must appear in order. */
#include <string.h>

#include "ui/canvas/rl-fuzzy.h"

static gboolean
is_word_start (const char *text,
               const char *at)
{
  gunichar before, here;

  if (at == text)
    return TRUE;
  before = g_utf8_get_char (g_utf8_prev_char (at));
  here = g_utf8_get_char (at);
  if (!g_unichar_isalnum (before))
    return TRUE;
  return g_unichar_isupper (here) && g_unichar_islower (before);
}

int
rl_fuzzy_score (const char *query,
                const char *text)
{
  const char *q = query, *t = text, *previous_match = NULL;
  int score = 0;

  if (query == NULL || *query == '\0')
    return 0;
  if (text == NULL)
    return -1;
  while (*q != '\0')
    {
      gunichar wanted = g_unichar_tolower (g_utf8_get_char (q));
      gboolean found = FALSE;

      if (g_unichar_isspace (wanted))
        {
          q = g_utf8_next_char (q);
          continue;
        }
      for (; *t != '\0'; t = g_utf8_next_char (t))
        if (g_unichar_tolower (g_utf8_get_char (t)) == wanted)
          {
            found = TRUE;
            break;
          }
      if (!found)
        return -1;
      score += 1;
      if (t == text)
        score += 8;
      if (is_word_start (text, t))
        score += 4;
      if (previous_match != NULL && g_utf8_next_char (previous_match) == t)
        score += 5;
      previous_match = t;
      t = g_utf8_next_char (t);
      q = g_utf8_next_char (q);
    }
  /* Shorter texts matching the same letters are the closer match. */
  return score * 100 - MIN ((int) strlen (text), 99);
}
