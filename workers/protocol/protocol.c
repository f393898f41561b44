#include "protocol.h"

#include <stddef.h>

const char *
rl_message_type_name (uint32_t type)
{
  switch (type)
    {
#define RL_MESSAGE_NAME(name, value, doc) case value: return #name;
      RL_MESSAGE_TYPES (RL_MESSAGE_NAME)
#undef RL_MESSAGE_NAME
    default:
      return NULL;
    }
}

const char *
rl_wire_status_text (int status)
{
  switch (status)
    {
#define RL_STATUS_TEXT(name, value, doc) case value: return doc;
      RL_WIRE_STATUSES (RL_STATUS_TEXT)
#undef RL_STATUS_TEXT
    default:
      return "unknown status";
    }
}
