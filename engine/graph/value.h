/* RlValue: an immutable, reference-counted value that flows along a link or
 * sits in a widget. Scalars (INT, FLOAT, STRING, BOOLEAN) hold their value;
 * everything else (LATENT, IMAGE, VIDEO, MODEL, CONDITIONING, ...) is an
 * object tagged with its socket type name. Values are shared between the
 * executor's cache and running nodes, so they are never modified once
 * built: a node that changes a latent builds a new one. */
#pragma once

#include "engine/engine-types.h"

G_BEGIN_DECLS

typedef enum {
  RL_VALUE_INT,
  RL_VALUE_FLOAT,
  RL_VALUE_STRING,
  RL_VALUE_BOOLEAN,
  RL_VALUE_OBJECT,
} RlValueKind;

RlValue     *rl_value_new_int       (gint64          v);
RlValue     *rl_value_new_float     (double          v);
RlValue     *rl_value_new_string    (const char     *v);
RlValue     *rl_value_new_boolean   (gboolean        v);
/* Takes ownership of @data; @type_name is the socket type ("LATENT"). */
RlValue     *rl_value_new_object    (const char     *type_name,
                                     gpointer        data,
                                     GDestroyNotify  destroy);
RlValue     *rl_value_ref           (RlValue        *value);
void         rl_value_unref         (RlValue        *value);

RlValueKind  rl_value_get_kind      (const RlValue  *value);
/* "INT", "FLOAT", "STRING", "BOOLEAN" or the object's socket type. */
const char  *rl_value_get_type_name (const RlValue  *value);
gint64       rl_value_get_int       (const RlValue  *value);
double       rl_value_get_float     (const RlValue  *value);
const char  *rl_value_get_string    (const RlValue  *value);
gboolean     rl_value_get_boolean   (const RlValue  *value);
/* Returns NULL (with a critical) when @type_name does not match. */
gpointer     rl_value_get_object    (const RlValue  *value,
                                     const char     *type_name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlValue, rl_value_unref)

G_END_DECLS
