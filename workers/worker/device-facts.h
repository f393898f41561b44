/* What a worker tells the pool about its device in HELLO. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct {
  char     name[128];
  uint64_t total_memory;
  uint64_t free_memory;
  uint32_t compute_major;
  uint32_t compute_minor;
} RlDeviceFacts;

/* Host CPU facts: the CPU model name, physical RAM and MemAvailable. */
void rl_device_facts_cpu  (RlDeviceFacts *facts);

/* CUDA device facts (name, memory, compute capability); only in builds
 * with CUDA. -1 with a message in error when the device is missing. */
int  rl_device_facts_cuda (int device, RlDeviceFacts *facts, char *error,
                           size_t error_size);
