/* Fuzzy matching for the node search: how well a typed query matches a
 * node type's name, category or description. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The score of @query in @text: -1 when the query's characters do not all
 * appear in order (case-insensitive); higher is better. Contiguous runs,
 * matches at word starts and a match at the very start score higher. An
 * empty query matches everything with score 0. */
int         rl_fuzzy_score        (const char  *query,
                                   const char  *text);

G_END_DECLS
