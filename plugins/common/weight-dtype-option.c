#include "plugins/common/weight-dtype-option.h"

#include <string.h>

#define KEY "weight_dtype="

static const struct {
  const char *name;
  RlDType     dtype;
} weight_dtypes[] = {
  { "default",         RL_DTYPE_INVALID },
  { "fp8_e4m3fn",      RL_F8_E4M3FN },
  { "fp8_e4m3fn_fast", RL_F8_E4M3FN },   /* see the header: same storage and compute */
  { "fp8_e5m2",        RL_F8_E5M2 },
};

RlStatus
rl_weight_dtype_option_parse (const char *options,
                              RlDType    *out)
{
  const char *at = options;
  size_t len;

  *out = RL_DTYPE_INVALID;
  /* The entry must start the string or follow a ';'. */
  while (at != NULL && (at = strstr (at, KEY)) != NULL && at != options && at[-1] != ';')
    at += strlen (KEY);
  if (at == NULL)
    return RL_OK;
  at += strlen (KEY);
  len = strcspn (at, ";");
  for (size_t i = 0; i < sizeof weight_dtypes / sizeof weight_dtypes[0]; i++)
    if (strlen (weight_dtypes[i].name) == len && strncmp (at, weight_dtypes[i].name, len) == 0)
      {
        *out = weight_dtypes[i].dtype;
        return RL_OK;
      }
  return rl_set_error (RL_E_INVALID_ARG, "weight_dtype '%.*s' is not one of default, fp8_e4m3fn, "
                       "fp8_e4m3fn_fast, fp8_e5m2", (int) len, at);
}
