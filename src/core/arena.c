#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>

struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct dl_arena {
    struct block *head; /* current block; older blocks follow via next */
    size_t block;
    size_t cap;
    size_t total;       /* bytes handed out since reset */
};

struct dl_arena *dl_arena_new(size_t block, size_t cap)
{
    struct dl_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->block = block ? block : 65536;
    a->cap = cap;
    return a;
}

void dl_arena_destroy(struct dl_arena *a)
{
    if (!a)
        return;
    struct block *b = a->head;
    while (b) {
        struct block *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

void *dl_arena_alloc(struct dl_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (a->cap && (n > a->cap || a->total > a->cap - n))
        return NULL;
    struct block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t sz = n > a->block ? n : a->block;
        struct block *nb = malloc(sizeof *nb + sz);
        if (!nb)
            return NULL;
        nb->size = sz;
        nb->used = 0;
        nb->next = a->head;
        a->head = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->total += n;
    return p;
}

void dl_arena_reset(struct dl_arena *a)
{
    struct block *b = a->head;
    if (!b)
        return;
    /* keep the oldest block (the tail of the list) if it is a normal-sized one */
    struct block *keep = NULL;
    while (b) {
        struct block *n = b->next;
        if (!n && b->size == a->block) {
            keep = b;
        } else {
            free(b);
        }
        b = n;
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
    a->total = 0;
}

size_t dl_arena_used(const struct dl_arena *a)
{
    return a->total;
}
