/* A bump allocator for per-record / per-batch scratch memory, reset in one call.
 * Total size is capped; dl_arena_alloc returns NULL past the cap or on OOM. */
#ifndef DL_CORE_ARENA_H
#define DL_CORE_ARENA_H

#include <stddef.h>

struct dl_arena;

/* block: preferred block size (0 = 64 KiB); cap: max total bytes (0 = unlimited). NULL on OOM. */
struct dl_arena *dl_arena_new(size_t block, size_t cap);
void dl_arena_destroy(struct dl_arena *a);
/* 16-byte aligned storage valid until the next reset/destroy; NULL when over cap or OOM. */
void *dl_arena_alloc(struct dl_arena *a, size_t n);
/* Release everything allocated so far; keeps the first block for reuse. */
void dl_arena_reset(struct dl_arena *a);
/* Bytes handed out since the last reset. */
size_t dl_arena_used(const struct dl_arena *a);

#endif
