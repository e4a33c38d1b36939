/* Key schemas for unit tests: none, a partition key, or a partition and a sort key. Names are
 * borrowed (string literals). */
#ifndef DL_TEST_KEYS_H
#define DL_TEST_KEYS_H

#include <string.h>

#include "item/item.h"

static inline struct dl_key_schema schema0(void)
{
    struct dl_key_schema ks;
    memset(&ks, 0, sizeof ks);
    return ks;
}

static inline struct dl_key_schema schema1(const char *pk, char pt)
{
    struct dl_key_schema ks = schema0();
    ks.n = 1;
    ks.k[0].name = (char *)pk;
    ks.k[0].name_len = strlen(pk);
    ks.k[0].type = pt;
    return ks;
}

static inline struct dl_key_schema schema2(const char *pk, char pt, const char *sk, char st)
{
    struct dl_key_schema ks = schema1(pk, pt);
    ks.n = 2;
    ks.k[1].name = (char *)sk;
    ks.k[1].name_len = strlen(sk);
    ks.k[1].type = st;
    return ks;
}

#endif
