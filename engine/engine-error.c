#include "engine/engine-error.h"

G_DEFINE_QUARK (rl-engine-error-quark, rl_engine_error)
