/* The backend side of RlComm: each backend embeds RlComm as its first
 * member and fills a method table. comm.c validates the arguments (device,
 * dtype, contiguity, counts, peer ranks) before calling a method, so
 * methods may assume well-formed input. Private to workers/comm. */
#pragma once

#include <stdbool.h>

#include "workers/comm/comm.h"

typedef struct {
  const char *name;
  RlStatus (*all_reduce) (RlComm *comm, RlTensor *data, RlCommReduce op);
  /* One i64 that lives in host memory. */
  RlStatus (*all_reduce_host) (RlComm *comm, int64_t *value, RlCommReduce op);
  RlStatus (*all_gather) (RlComm *comm, RlTensor *out, const RlTensor *in);
  RlStatus (*all_to_all) (RlComm *comm, RlTensor *out, const RlTensor *in);
  RlStatus (*broadcast)  (RlComm *comm, RlTensor *data, int root);
  /* send or recv may be NULL (plain recv / plain send). */
  RlStatus (*sendrecv)   (RlComm *comm, const RlTensor *send, int dst,
                          RlTensor *recv, int src);
  /* Optional pair: enqueue a sendrecv, then complete it. NULL: comm.c
   * runs the blocking sendrecv instead. */
  RlStatus (*sendrecv_start) (RlComm *comm, const RlTensor *send, int dst,
                              RlTensor *recv, int src);
  /* Optional: n all-to-alls as one call; start: enqueue only (completed
   * by wait). NULL: comm.c runs all_to_all on each pair. */
  RlStatus (*all_to_all_many) (RlComm *comm, int n, RlTensor *const *outs,
                               const RlTensor *const *ins, bool start);
  RlStatus (*wait)       (RlComm *comm);
  RlStatus (*barrier)    (RlComm *comm);
  RlStatus (*split)      (RlComm *comm, int color, int key, RlComm **out);
  /* Optional: a split for exchange groups and their window (comm.h). NULL:
   * comm.c uses split and reports no window. */
  RlStatus (*split_exchange)  (RlComm *comm, int color, int key, RlComm **out);
  RlStatus (*exchange_window) (RlComm *comm, size_t bytes, void **data);
  void     (*free)       (RlComm *comm);
  /* Whether all_reduce handles this dtype. */
  bool     (*reduces)    (RlDType dtype);
} RlCommMethods;

struct RlComm {
  const RlCommMethods *methods;
  int                  rank;
  int                  size;
  int                 *world_ranks;   /* size entries, owned */
  RlDevice             device;
  int                  timeout_ms;
  bool                 pending;       /* a started transfer awaits rl_comm_wait */
  RlCommCancelFunc     cancelled;     /* may be NULL */
  void                *cancel_user;
};

/* Fills the common fields; world_ranks NULL means identity. */
RlStatus rl_comm_init_base (RlComm *comm, const RlCommMethods *methods,
                            int rank, int size, const int *world_ranks,
                            RlDevice device, int timeout_ms);
void     rl_comm_free_base (RlComm *comm);

/* Bytes of the elements of a contiguous tensor. */
size_t   rl_comm_bytes     (const RlTensor *t);
