/* Zip listing, reading and guards. Every archive is built here at run time, with libzip's
 * writing API or, for zstd entries and layouts libzip 1.7 cannot write (ZIP64 extra fields,
 * data descriptors, local extra fields), byte by byte; nothing binary is committed. Malformed
 * archives are made by patching bytes. */
#include "unpack/zip.h"

#include <stdlib.h>
#include <string.h>

#include <zip.h>
#include <zlib.h>
#include <zstd.h>

#include "test.h"

struct zfile {
    const char *name;
    const void *data; /* NULL with len 0 and dir = 1 for a directory */
    size_t len;
    int method;       /* ZIP_CM_STORE or ZIP_CM_DEFLATE */
    int dir;
    zip_uint16_t encrypt; /* ZIP_EM_* or 0 */
};

/* Build a zip in memory; returns malloc'd bytes (free them) or NULL. */
static uint8_t *build_zip(const struct zfile *f, size_t n, size_t *outlen)
{
    zip_error_t ze;
    zip_error_init(&ze);
    uint8_t *res = NULL;
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &ze) : NULL;
    if (!za) {
        fprintf(stderr, "build_zip: %s\n", zip_error_strerror(&ze));
        if (src)
            zip_source_free(src);
        goto out;
    }
    zip_source_keep(src);
    for (size_t i = 0; i < n; i++) {
        if (f[i].dir) {
            if (zip_dir_add(za, f[i].name, ZIP_FL_ENC_UTF_8) < 0)
                fprintf(stderr, "zip_dir_add %s: %s\n", f[i].name, zip_strerror(za));
            continue;
        }
        zip_source_t *s = zip_source_buffer(za, f[i].data, f[i].len, 0);
        zip_int64_t idx = s ? zip_file_add(za, f[i].name, s, ZIP_FL_ENC_UTF_8) : -1;
        if (idx < 0) {
            fprintf(stderr, "zip_file_add %s: %s\n", f[i].name, zip_strerror(za));
            if (s)
                zip_source_free(s);
            continue;
        }
        zip_set_file_compression(za, (zip_uint64_t)idx, f[i].method, 9);
        if (f[i].encrypt &&
            zip_file_set_encryption(za, (zip_uint64_t)idx, f[i].encrypt, "secret") < 0)
            fprintf(stderr, "zip_file_set_encryption: %s\n", zip_strerror(za));
    }
    if (zip_close(za) < 0) {
        fprintf(stderr, "zip_close: %s\n", zip_strerror(za));
        zip_discard(za);
        zip_source_free(src);
        goto out;
    }
    zip_stat_t st;
    if (zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
        res = malloc(st.size ? st.size : 1);
        if (res && zip_source_read(src, res, st.size) != (zip_int64_t)st.size) {
            free(res);
            res = NULL;
        }
        *outlen = st.size;
        zip_source_close(src);
    }
    zip_source_free(src);
out:
    zip_error_fini(&ze);
    return res;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The k-th record with signature PK<a><b> (0-based), or NULL. */
static uint8_t *find_sig(uint8_t *z, size_t len, uint8_t a, uint8_t b, int k)
{
    for (size_t i = 0; i + 4 <= len; i++)
        if (z[i] == 'P' && z[i + 1] == 'K' && z[i + 2] == a && z[i + 3] == b && k-- == 0)
            return z + i;
    return NULL;
}
#define CENTRAL(z, len, k) find_sig(z, len, 1, 2, k)
#define LOCAL(z, len, k) find_sig(z, len, 3, 4, k)

static const char *CSV = "uuid,name\n1,alice\n2,bob\n";
static const char *JSON = "{\"userID\": \"u1\", \"data\": {\"x\": 1}}";

static void test_listing(void)
{
    char big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 7);
    const struct zfile files[] = {
        { "data/", NULL, 0, 0, 1, 0 },
        { "data/orders.csv", CSV, strlen(CSV), ZIP_CM_STORE, 0, 0 },
        { "data/users.json", JSON, strlen(JSON), ZIP_CM_DEFLATE, 0, 0 },
        { "__MACOSX/data/._orders.csv", "junk", 4, ZIP_CM_STORE, 0, 0 },
        { "__MACOSX/", NULL, 0, 0, 1, 0 },
        { "._foo", "junk", 4, ZIP_CM_STORE, 0, 0 },
        { "data/.DS_Store", "junk", 4, ZIP_CM_STORE, 0, 0 },
        { "Thumbs.db", "junk", 4, ZIP_CM_STORE, 0, 0 },
        { "Poster_Images/THUMBS.DB", "junk", 4, ZIP_CM_STORE, 0, 0 },
        { "deep/__MACOSX/x.csv", "junk", 4, ZIP_CM_STORE, 0, 0 },
        { "Poster_Images/", NULL, 0, 0, 1, 0 },
        { "Poster_Images/a b.jpg", big, sizeof big, ZIP_CM_DEFLATE, 0, 0 },
        { "donn\xc3\xa9\x65s/\xc3\xa9t\xc3\xa9.csv", "x\n1\n", 4, ZIP_CM_DEFLATE, 0, 0 },
        { "empty.csv", "", 0, ZIP_CM_STORE, 0, 0 },
        { "__MACOSX.csv", "a\n", 2, ZIP_CM_STORE, 0, 0 },
        { ".hidden.csv", "a\n", 2, ZIP_CM_STORE, 0, 0 },
    };
    size_t len = 0;
    uint8_t *zb = build_zip(files, sizeof files / sizeof files[0], &len);
    CHECK(zb != NULL);
    if (!zb)
        return;
    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    const char *want[] = { "data/orders.csv", "data/users.json", "Poster_Images/a b.jpg",
                           "donn\xc3\xa9\x65s/\xc3\xa9t\xc3\xa9.csv", "empty.csv", "__MACOSX.csv",
                           ".hidden.csv" };
    size_t nw = sizeof want / sizeof want[0];
    CHECK_INT(dl_zip_count(z), nw);
    for (size_t i = 0; i < nw && i < dl_zip_count(z); i++) {
        struct dl_zip_entry e;
        CHECK_INT(dl_zip_entry(z, i, &e), DL_OK);
        CHECK_STR(e.name, want[i]);
        CHECK(!e.unsafe_name);
        CHECK(!e.encrypted);
    }
    struct dl_zip_entry e;
    CHECK_INT(dl_zip_entry(z, nw, &e), DL_ERR_INVALID);

    /* metadata of the stored CSV and the deflated image */
    CHECK_INT(dl_zip_entry(z, 0, &e), DL_OK);
    CHECK_INT(e.method, DL_ZIP_METHOD_STORE);
    CHECK_INT(e.size, strlen(CSV));
    CHECK_INT(e.comp_size, strlen(CSV));
    CHECK_INT(e.index, 1); /* after the "data/" directory entry */
    CHECK_INT(dl_zip_entry(z, 2, &e), DL_OK);
    CHECK_INT(e.method, DL_ZIP_METHOD_DEFLATE);
    CHECK_INT(e.size, sizeof big);
    CHECK(e.comp_size < sizeof big);

    /* exact contents, reusing one buffer */
    struct dl_buf b;
    dl_buf_init(&b, 0);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(b.data, b.len, CSV);
    CHECK_INT(dl_zip_read(z, 1, &b, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(b.data, b.len, JSON);
    CHECK_INT(dl_zip_read(z, 2, &b, NULL, err, sizeof err), DL_OK);
    CHECK(b.len == sizeof big && memcmp(b.data, big, sizeof big) == 0);
    CHECK_INT(dl_zip_read(z, 3, &b, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(b.data, b.len, "x\n1\n");
    CHECK_INT(dl_zip_read(z, 4, &b, NULL, err, sizeof err), DL_OK);
    CHECK_INT(b.len, 0);
    CHECK_INT(dl_zip_read(z, 99, &b, NULL, err, sizeof err), DL_ERR_INVALID);

    /* out's own cap applies */
    struct dl_buf small;
    dl_buf_init(&small, 100);
    CHECK_INT(dl_zip_read(z, 2, &small, NULL, err, sizeof err), DL_ERR_TOO_LARGE);
    CHECK(strstr(err, "a b.jpg") != NULL);
    CHECK_INT(small.len, 0);
    CHECK_INT(dl_zip_read(z, 0, &small, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(small.data, small.len, CSV);
    dl_buf_free(&small);

    dl_buf_free(&b);
    dl_zip_close(z);
    free(zb);
}

static void test_unsafe_names(void)
{
    const struct zfile files[] = {
        { "../evil.csv", "a\n", 2, ZIP_CM_STORE, 0, 0 },
        { "/etc/abs.csv", "a\n", 2, ZIP_CM_STORE, 0, 0 },
        { "a/../../b.csv", "a\n", 2, ZIP_CM_STORE, 0, 0 },
        { "C:\\win.csv", "a\n", 2, ZIP_CM_STORE, 0, 0 },
        { "x\\..\\y.csv", "a\n", 2, ZIP_CM_STORE, 0, 0 },
        { "ok/..dots../f..csv", "a\n", 2, ZIP_CM_STORE, 0, 0 },
        { "ok/..", "a\n", 2, ZIP_CM_STORE, 0, 0 },
        { "plain.csv", "a\n", 2, ZIP_CM_STORE, 0, 0 },
    };
    const int unsafe[] = { 1, 1, 1, 1, 1, 0, 1, 0 };
    size_t n = sizeof files / sizeof files[0];
    size_t len = 0;
    uint8_t *zb = build_zip(files, n, &len);
    CHECK(zb != NULL);
    if (!zb)
        return;
    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    CHECK_INT(dl_zip_count(z), n);
    for (size_t i = 0; i < n && i < dl_zip_count(z); i++) {
        struct dl_zip_entry e;
        CHECK_INT(dl_zip_entry(z, i, &e), DL_OK);
        CHECK_STR(e.name, files[i].name);
        if ((int)e.unsafe_name != unsafe[i])
            fprintf(stderr, "  unsafe_name wrong for %s\n", e.name);
        CHECK_INT(e.unsafe_name, unsafe[i]);
    }
    /* still readable: we never write entries to disk */
    struct dl_buf b;
    dl_buf_init(&b, 0);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(b.data, b.len, "a\n");
    dl_buf_free(&b);
    dl_zip_close(z);
    free(zb);
}

static void test_corrupt(void)
{
    const struct zfile files[] = {
        { "a.csv", CSV, strlen(CSV), ZIP_CM_STORE, 0, 0 },
        { "b.json", JSON, strlen(JSON), ZIP_CM_DEFLATE, 0, 0 },
    };
    size_t len = 0;
    uint8_t *zb = build_zip(files, 2, &len);
    CHECK(zb != NULL);
    if (!zb)
        return;
    struct dl_zip *z = NULL;
    char err[256] = "";

    /* truncated: cut in half */
    CHECK_INT(dl_zip_open_mem(zb, len / 2, &z, err, sizeof err), DL_ERR_PARSE);
    CHECK(z == NULL);
    CHECK(strstr(err, "zip") != NULL);
    /* all but the last byte */
    CHECK_INT(dl_zip_open_mem(zb, len - 1, &z, err, sizeof err), DL_ERR_PARSE);
    /* not a zip, empty */
    CHECK_INT(dl_zip_open_mem((const uint8_t *)"hello, world", 12, &z, err, sizeof err),
              DL_ERR_PARSE);
    CHECK_INT(dl_zip_open_mem((const uint8_t *)"", 0, &z, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "empty") != NULL);
    CHECK_INT(dl_zip_open_mem(NULL, 0, &z, NULL, 0), DL_ERR_PARSE);

    /* CRC error: flip one byte of the stored CSV */
    uint8_t *copy = malloc(len);
    memcpy(copy, zb, len);
    uint8_t *data = memmem(copy, len, "alice", 5);
    CHECK(data != NULL);
    if (data)
        data[0] = 'A';
    CHECK_INT(dl_zip_open_mem(copy, len, &z, err, sizeof err), DL_OK);
    struct dl_buf b;
    dl_buf_init(&b, 0);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "CRC") != NULL);
    CHECK(strstr(err, "a.csv") != NULL);
    CHECK_INT(b.len, 0);
    /* the other entry is still fine */
    CHECK_INT(dl_zip_read(z, 1, &b, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(b.data, b.len, JSON);
    dl_zip_close(z);
    z = NULL;

    /* corrupt deflate stream: overwrite the compressed bytes of b.json */
    memcpy(copy, zb, len);
    uint8_t *lh = LOCAL(copy, len, 1);
    CHECK(lh != NULL);
    if (lh) {
        size_t off = 30 + (size_t)(lh[26] | lh[27] << 8) + (size_t)(lh[28] | lh[29] << 8);
        uint32_t csize = rd32(lh + 18);
        memset(lh + off, 0xff, csize);
    }
    CHECK_INT(dl_zip_open_mem(copy, len, &z, err, sizeof err), DL_OK);
    CHECK_INT(dl_zip_read(z, 1, &b, NULL, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "b.json") != NULL);
    dl_zip_close(z);

    dl_buf_free(&b);
    free(copy);
    free(zb);
}

static void test_empty_zip(void)
{
    /* an archive with no entries is just an end-of-central-directory record */
    static const uint8_t eocd[22] = { 'P', 'K', 5, 6 };
    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(eocd, sizeof eocd, &z, err, sizeof err), DL_OK);
    CHECK_INT(dl_zip_count(z), 0);
    dl_zip_close(z);
    dl_zip_close(NULL);
    CHECK_INT(dl_zip_count(NULL), 0);

    /* only junk: listed as empty */
    const struct zfile files[] = {
        { "dir/", NULL, 0, 0, 1, 0 },
        { "__MACOSX/._x", "j", 1, ZIP_CM_STORE, 0, 0 },
    };
    size_t len = 0;
    uint8_t *zb = build_zip(files, 2, &len);
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    CHECK_INT(dl_zip_count(z), 0);
    dl_zip_close(z);
    free(zb);
}

static void test_ratio_guard(void)
{
    const size_t n = (size_t)64 << 20;
    uint8_t *zeros = calloc(1, n);
    const struct zfile files[] = {
        { "zeros.csv", zeros, n, ZIP_CM_DEFLATE, 0, 0 },
        { "ok.csv", CSV, strlen(CSV), ZIP_CM_DEFLATE, 0, 0 },
    };
    size_t len = 0;
    uint8_t *zb = build_zip(files, 2, &len);
    CHECK(zb != NULL);
    if (!zb) {
        free(zeros);
        return;
    }
    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    struct dl_zip_entry e;
    CHECK_INT(dl_zip_entry(z, 0, &e), DL_OK);
    CHECK_INT(e.size, n);
    CHECK(e.comp_size * 1000 < n);

    struct dl_buf b;
    dl_buf_init(&b, 0);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_ERR_TOO_LARGE);
    CHECK(strstr(err, "zip bomb guard: entry 'zeros.csv' expands 1,0") != NULL);
    CHECK(strstr(err, "(limit 1000\u00d7)") != NULL);
    CHECK_INT(b.len, 0);
    CHECK(b.alloc < 1 << 20); /* refused before inflating */
    /* a small entry is never ratio-checked */
    CHECK_INT(dl_zip_read(z, 1, &b, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(b.data, b.len, CSV);

    /* a looser ratio lets it through, byte for byte */
    struct dl_zip_limits lim = { .max_ratio = 5000 };
    CHECK_INT(dl_zip_read(z, 0, &b, &lim, err, sizeof err), DL_OK);
    CHECK_INT(b.len, n);
    CHECK(memcmp(b.data, zeros, n) == 0);

    /* max entry size */
    struct dl_zip_limits lim2 = { .max_ratio = 5000, .max_entry_size = n - 1 };
    CHECK_INT(dl_zip_read(z, 0, &b, &lim2, err, sizeof err), DL_ERR_TOO_LARGE);
    CHECK(strstr(err, "67,108,864 bytes (limit 67,108,863 bytes)") != NULL);

    /* raising the size threshold of the ratio check */
    struct dl_zip_limits lim3 = { .ratio_min_size = n };
    CHECK_INT(dl_zip_read(z, 0, &b, &lim3, err, sizeof err), DL_OK);
    CHECK_INT(b.len, n);

    dl_buf_free(&b);
    dl_zip_close(z);
    free(zb);
    free(zeros);
}

static void test_total_guard(void)
{
    static char a[100000], c[100000];
    memset(a, 'a', sizeof a);
    memset(c, 'c', sizeof c);
    const struct zfile files[] = {
        { "a.csv", a, sizeof a, ZIP_CM_STORE, 0, 0 },
        { "c.csv", c, sizeof c, ZIP_CM_STORE, 0, 0 },
    };
    size_t len = 0;
    uint8_t *zb = build_zip(files, 2, &len);
    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    struct dl_buf b;
    dl_buf_init(&b, 0);
    struct dl_zip_limits lim = { .max_total = 150000 };
    CHECK_INT(dl_zip_read(z, 0, &b, &lim, err, sizeof err), DL_OK);
    CHECK_INT(b.len, sizeof a);
    /* reading the same entry again is not counted twice */
    CHECK_INT(dl_zip_read(z, 0, &b, &lim, err, sizeof err), DL_OK);
    CHECK_INT(dl_zip_read(z, 1, &b, &lim, err, sizeof err), DL_ERR_TOO_LARGE);
    CHECK(strstr(err, "to 200,000 bytes expanded in total (limit 150,000 bytes)") != NULL);
    CHECK(strstr(err, "c.csv") != NULL);
    lim.max_total = 200000;
    CHECK_INT(dl_zip_read(z, 1, &b, &lim, err, sizeof err), DL_OK);
    CHECK(b.len == sizeof c && memcmp(b.data, c, sizeof c) == 0);
    dl_buf_free(&b);
    dl_zip_close(z);
    free(zb);
}

/* Patch the declared uncompressed size of entry k in both headers. */
static void patch_size(uint8_t *zb, size_t len, int k, uint32_t size)
{
    uint8_t *cd = CENTRAL(zb, len, k), *lh = LOCAL(zb, len, k);
    CHECK(cd && lh);
    if (cd)
        wr32(cd + 24, size);
    if (lh)
        wr32(lh + 22, size);
}

static void test_lying_size(void)
{
    /* A bomb that declares a harmless size: 64 MiB of zeros claiming 100 KB. Reading stops
     * right after the declared size instead of inflating everything. */
    const size_t n = (size_t)64 << 20;
    uint8_t *zeros = calloc(1, n);
    char text[10000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('0' + i % 10);
    const struct zfile files[] = {
        { "bomb.csv", zeros, n, ZIP_CM_DEFLATE, 0, 0 },
        { "short.csv", text, sizeof text, ZIP_CM_DEFLATE, 0, 0 },
    };
    size_t len = 0;
    uint8_t *zb = build_zip(files, 2, &len);
    free(zeros);
    CHECK(zb != NULL);
    if (!zb)
        return;
    patch_size(zb, len, 0, 100000);
    patch_size(zb, len, 1, 20000); /* claims more than it holds */

    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    struct dl_zip_entry e;
    CHECK_INT(dl_zip_entry(z, 0, &e), DL_OK);
    CHECK_INT(e.size, 100000);
    struct dl_buf b;
    dl_buf_init(&b, 0);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "expands past its declared size of 100,000 bytes") != NULL);
    CHECK_INT(b.len, 0);
    CHECK(b.alloc < 200000);

    CHECK_INT(dl_zip_read(z, 1, &b, NULL, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "short.csv") != NULL);
    CHECK_INT(b.len, 0);
    dl_buf_free(&b);
    dl_zip_close(z);
    free(zb);
}

/* ---- zstd entries (method 93). libzip 1.7 can write neither zstd nor most of the odd
 * layouts below, so these archives are written byte by byte. ---- */

struct rawent {
    const char *name;
    uint16_t method;
    const void *data;   /* the entry's bytes as stored (compressed) */
    size_t data_len;
    uint64_t size;      /* declared uncompressed size */
    uint32_t crc;       /* declared CRC-32 */
    uint16_t flags;     /* general purpose bits (bit 0: encrypted; bit 3 is set by .descriptor) */
    int zip64;          /* sizes (and the offset) in ZIP64 extra fields, 0xFFFFFFFF in the headers */
    int local_extra;    /* an extra field in the local header that the central one lacks */
    int descriptor;     /* CRC and sizes in a data descriptor after the data, zeros in the local header */
};

static void put16(struct dl_buf *b, uint16_t v)
{
    uint8_t t[2];
    wr16(t, v);
    dl_buf_append(b, t, 2);
}
static void put32(struct dl_buf *b, uint32_t v)
{
    uint8_t t[4];
    wr32(t, v);
    dl_buf_append(b, t, 4);
}
static void put64(struct dl_buf *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

/* A zip of n entries in b (reset first): local headers and data, central directory, EOCD. */
static void raw_zip(struct dl_buf *b, const struct rawent *e, size_t n)
{
    uint64_t off[32];
    dl_buf_reset(b);
    for (size_t i = 0; i < n && i < 32; i++) {
        const struct rawent *x = &e[i];
        uint16_t flags = (uint16_t)(x->flags | (x->descriptor ? 8 : 0));
        uint16_t nlen = (uint16_t)strlen(x->name);
        uint16_t xlen = (uint16_t)((x->zip64 ? 20 : 0) + (x->local_extra ? 9 : 0));
        off[i] = b->len;
        put32(b, 0x04034b50);
        put16(b, x->zip64 ? 45 : 63);
        put16(b, flags);
        put16(b, x->method);
        put16(b, 0x6000); /* 12:00 */
        put16(b, 0x5821); /* 2024-01-01 */
        put32(b, x->descriptor ? 0 : x->crc);
        if (x->zip64) {
            put32(b, 0xFFFFFFFF);
            put32(b, 0xFFFFFFFF);
        } else {
            put32(b, x->descriptor ? 0 : (uint32_t)x->data_len);
            put32(b, x->descriptor ? 0 : (uint32_t)x->size);
        }
        put16(b, nlen);
        put16(b, xlen);
        dl_buf_append(b, x->name, nlen);
        if (x->zip64) {
            put16(b, 0x0001);
            put16(b, 16);
            put64(b, x->descriptor ? 0 : x->size);
            put64(b, x->descriptor ? 0 : x->data_len);
        }
        if (x->local_extra) {
            put16(b, 0x5455); /* extended timestamp: flags + mtime */
            put16(b, 5);
            dl_buf_append(b, "\x01\x00\x10\x92\x65", 5);
        }
        dl_buf_append(b, x->data, x->data_len);
        if (x->descriptor) {
            put32(b, 0x08074b50);
            put32(b, x->crc);
            if (x->zip64) {
                put64(b, x->data_len);
                put64(b, x->size);
            } else {
                put32(b, (uint32_t)x->data_len);
                put32(b, (uint32_t)x->size);
            }
        }
    }
    uint64_t cd = b->len;
    for (size_t i = 0; i < n && i < 32; i++) {
        const struct rawent *x = &e[i];
        uint16_t nlen = (uint16_t)strlen(x->name);
        put32(b, 0x02014b50);
        put16(b, 0x031e); /* made by: unix, 3.0 */
        put16(b, x->zip64 ? 45 : 63);
        put16(b, (uint16_t)(x->flags | (x->descriptor ? 8 : 0)));
        put16(b, x->method);
        put16(b, 0x6000);
        put16(b, 0x5821);
        put32(b, x->crc);
        put32(b, x->zip64 ? 0xFFFFFFFF : (uint32_t)x->data_len);
        put32(b, x->zip64 ? 0xFFFFFFFF : (uint32_t)x->size);
        put16(b, nlen);
        put16(b, x->zip64 ? 28 : 0);
        put16(b, 0); /* comment */
        put16(b, 0); /* disk */
        put16(b, 0); /* internal attributes */
        put32(b, 0100644u << 16);
        put32(b, x->zip64 ? 0xFFFFFFFF : (uint32_t)off[i]);
        dl_buf_append(b, x->name, nlen);
        if (x->zip64) {
            put16(b, 0x0001);
            put16(b, 24);
            put64(b, x->size);
            put64(b, x->data_len);
            put64(b, off[i]);
        }
    }
    uint64_t cdlen = b->len - cd;
    put32(b, 0x06054b50);
    put16(b, 0);
    put16(b, 0);
    put16(b, (uint16_t)n);
    put16(b, (uint16_t)n);
    put32(b, (uint32_t)cdlen);
    put32(b, (uint32_t)cd);
    put16(b, 0);
}

/* zstd frame of p[0..n) at level lvl, in a malloc'd buffer. */
static uint8_t *zst(const void *p, size_t n, int lvl, size_t *outlen)
{
    size_t cap = ZSTD_compressBound(n);
    uint8_t *o = malloc(cap);
    size_t r = o ? ZSTD_compress(o, cap, p, n, lvl) : 0;
    CHECK(o && !ZSTD_isError(r));
    *outlen = ZSTD_isError(r) ? 0 : r;
    return o;
}

static uint32_t crc_of(const void *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)p, (uInt)n);
}

/* A zstd entry holding p[0..n) (frame in *frame, to free) */
static struct rawent zent(const char *name, const void *p, size_t n, uint8_t **frame)
{
    size_t fl = 0;
    *frame = zst(p, n, 3, &fl);
    struct rawent e = { name, DL_ZIP_METHOD_ZSTD, *frame, fl, n, crc_of(p, n), 0, 0, 0, 0 };
    return e;
}

static void test_zstd_read(void)
{
    /* 300 KB of varied text: several 64 KiB output chunks, a ratio far below any guard */
    size_t bign = 300000;
    char *big = malloc(bign);
    uint32_t x = 12345;
    for (size_t i = 0; i < bign; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (i % 61 == 60) ? '\n' : (char)('a' + (x >> 16) % 26);
    }
    /* two frames and a skippable frame in one entry: a concatenation is one zstd stream */
    const char *p1 = "uuid,name\n1,alice\n", *p2 = "2,bob\n";
    size_t l1, l2;
    uint8_t *f1 = zst(p1, strlen(p1), 1, &l1), *f2 = zst(p2, strlen(p2), 19, &l2);
    struct dl_buf multi;
    dl_buf_init(&multi, 0);
    dl_buf_append(&multi, f1, l1);
    dl_buf_append(&multi, "\x50\x2a\x4d\x18\x03\x00\x00\x00xyz", 11); /* skippable frame */
    dl_buf_append(&multi, f2, l2);

    uint8_t *fa, *fb, *fe, *fo, *f6, *fd;
    struct rawent ents[] = {
        zent("a.csv", CSV, strlen(CSV), &fa),
        zent("data/big.ndjson", big, bign, &fb),
        { "multi.csv", DL_ZIP_METHOD_ZSTD, multi.data, multi.len, strlen(CSV), crc_of(CSV, strlen(CSV)), 0, 0, 0, 0 },
        zent("empty.csv", "", 0, &fe),
        { "plain.csv", DL_ZIP_METHOD_STORE, CSV, strlen(CSV), strlen(CSV), crc_of(CSV, strlen(CSV)), 0, 0, 0, 0 },
        zent("old-id.csv", CSV, strlen(CSV), &fo),
        zent("zip64.json", JSON, strlen(JSON), &f6),
        zent("descriptor.csv", CSV, strlen(CSV), &fd),
    };
    ents[5].method = DL_ZIP_METHOD_ZSTD_OLD;
    ents[6].zip64 = 1;
    ents[6].local_extra = 1; /* the local header's extra field is longer than the central one */
    ents[7].descriptor = 1;
    ents[7].local_extra = 1;
    const char *want[] = { CSV, big, CSV, "", CSV, CSV, JSON, CSV };
    size_t n = sizeof ents / sizeof ents[0];

    struct dl_buf zb, b;
    dl_buf_init(&zb, 0);
    dl_buf_init(&b, 0);
    raw_zip(&zb, ents, n);
    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(zb.data, zb.len, &z, err, sizeof err), DL_OK);
    if (!z) {
        fprintf(stderr, "  open: %s\n", err);
        goto out;
    }
    CHECK_INT(dl_zip_count(z), n);
    for (size_t i = 0; i < n && i < dl_zip_count(z); i++) {
        struct dl_zip_entry e;
        CHECK_INT(dl_zip_entry(z, i, &e), DL_OK);
        CHECK_STR(e.name, ents[i].name);
        CHECK_INT(e.method, ents[i].method);
        CHECK_INT(e.size, ents[i].size);
        CHECK_INT(e.comp_size, ents[i].data_len);
        err[0] = 0;
        enum dl_err rc = dl_zip_read(z, i, &b, NULL, err, sizeof err);
        if (rc)
            fprintf(stderr, "  %s: %s\n", ents[i].name, err);
        CHECK_INT(rc, DL_OK);
        size_t wl = i == 1 ? bign : strlen(want[i]);
        CHECK_INT(b.len, wl);
        CHECK(b.len == wl && memcmp(b.data, want[i], wl) == 0);
        CHECK(b.data == NULL || b.data[b.len] == 0);
    }
    /* reading again gives the same bytes (a fresh decoder every time) */
    CHECK_INT(dl_zip_read(z, 1, &b, NULL, err, sizeof err), DL_OK);
    CHECK(b.len == bign && memcmp(b.data, big, bign) == 0);
    dl_zip_close(z);

    /* the buffer's cap applies to zstd entries too */
    struct dl_buf small;
    dl_buf_init(&small, 1000);
    CHECK_INT(dl_zip_open_mem(zb.data, zb.len, &z, err, sizeof err), DL_OK);
    CHECK_INT(dl_zip_read(z, 1, &small, NULL, err, sizeof err), DL_ERR_TOO_LARGE);
    CHECK(strstr(err, "does not fit in the buffer (cap 1,000 bytes)") != NULL);
    CHECK_INT(small.len, 0);
    CHECK_INT(dl_zip_read(z, 0, &small, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(small.data, small.len, CSV);
    dl_buf_free(&small);
    dl_zip_close(z);

out:
    dl_buf_free(&zb);
    dl_buf_free(&b);
    dl_buf_free(&multi);
    free(big);
    free(f1);
    free(f2);
    free(fa);
    free(fb);
    free(fe);
    free(fo);
    free(f6);
    free(fd);
}

/* Open the one-entry zip of e and read it; returns the result, with err filled. */
static enum dl_err read_one(const struct rawent *e, const struct dl_zip_limits *lim,
                            struct dl_buf *b, char *err, size_t errlen)
{
    struct dl_buf zb;
    dl_buf_init(&zb, 0);
    raw_zip(&zb, e, 1);
    struct dl_zip *z = NULL;
    enum dl_err rc = dl_zip_open_mem(zb.data, zb.len, &z, err, errlen);
    if (rc == DL_OK)
        rc = dl_zip_read(z, 0, b, lim, err, errlen);
    dl_zip_close(z);
    dl_buf_free(&zb);
    return rc;
}

static void test_zstd_corrupt(void)
{
    char text[20000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('0' + (i * 7 + i / 13) % 10);
    uint8_t *f;
    struct rawent good = zent("t.csv", text, sizeof text, &f);
    size_t fl = good.data_len;
    uint8_t *copy = malloc(fl + 16);
    struct dl_buf b;
    dl_buf_init(&b, 0);
    char err[256] = "";

    CHECK_INT(read_one(&good, NULL, &b, err, sizeof err), DL_OK);
    CHECK(b.len == sizeof text && memcmp(b.data, text, sizeof text) == 0);

    /* not a zstd frame at all (bad magic) */
    struct rawent e = good;
    memcpy(copy, f, fl);
    copy[0] ^= 0xff;
    e.data = copy;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "zip entry 't.csv': corrupt zstd data (") != NULL);
    CHECK_INT(b.len, 0);

    /* garbage inside the compressed blocks: zstd or the CRC catches it */
    memcpy(copy, f, fl);
    for (size_t i = fl / 3; i < fl / 3 + 16 && i < fl - 4; i++)
        copy[i] ^= 0x5a;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "t.csv") != NULL);
    CHECK(strstr(err, "corrupt") != NULL);
    CHECK_INT(b.len, 0);

    /* truncated: the frame does not end */
    memcpy(copy, f, fl);
    e.data_len = fl - 5;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "zip entry 't.csv': truncated zstd data") != NULL);

    /* trailing garbage after a complete frame */
    memcpy(copy + fl, "garbage!", 8);
    e.data_len = fl + 8;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "corrupt zstd data") != NULL);

    /* an empty entry labelled zstd holds no frame: empty, if it also declares 0 bytes */
    e = good;
    e.data_len = 0;
    e.size = 0;
    e.crc = 0;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_OK);
    CHECK_INT(b.len, 0);
    e.size = 10;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "shorter than declared (0 of 10 bytes)") != NULL);

    /* wrong CRC */
    e = good;
    e.crc ^= 1;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "zip entry 't.csv': CRC error") != NULL);
    CHECK_INT(b.len, 0);
    /* ... also when it only sits in the data descriptor */
    e.descriptor = 1;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "CRC error") != NULL);

    /* lying sizes */
    e = good;
    e.size = sizeof text - 1;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "expands past its declared size of 19,999 bytes") != NULL);
    CHECK_INT(b.len, 0);
    e.size = sizeof text + 1;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "shorter than declared (20,000 of 20,001 bytes)") != NULL);

    /* encrypted zstd entry, and a method nobody here decodes */
    e = good;
    e.flags = 1;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_UNSUPPORTED);
    CHECK(strstr(err, "zip entry 't.csv': entry is encrypted") != NULL);
    e = good;
    e.method = 98;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_UNSUPPORTED);
    CHECK(strstr(err, "compression method 98 (PPMd), which is not supported") != NULL);
    e.method = 200;
    CHECK_INT(read_one(&e, NULL, &b, err, sizeof err), DL_ERR_UNSUPPORTED);
    CHECK(strstr(err, "compression method 200 (unknown)") != NULL);

    dl_buf_free(&b);
    free(copy);
    free(f);
}

static void test_zstd_guards(void)
{
    /* 64 MiB of zeros is a few KB of zstd: a bomb */
    const size_t n = (size_t)64 << 20;
    uint8_t *zeros = calloc(1, n);
    uint8_t *f;
    struct rawent bomb = zent("zeros.csv", zeros, n, &f);
    CHECK(bomb.data_len * 1000 < n);
    struct dl_buf b;
    dl_buf_init(&b, 0);
    char err[256] = "";

    CHECK_INT(read_one(&bomb, NULL, &b, err, sizeof err), DL_ERR_TOO_LARGE);
    CHECK(strstr(err, "zip bomb guard: entry 'zeros.csv' expands ") != NULL);
    CHECK(strstr(err, "(limit 1000\u00d7)") != NULL);
    CHECK_INT(b.len, 0);
    CHECK(b.alloc < 1 << 20); /* refused before decompressing */

    struct dl_zip_limits lim = { .max_ratio = 100000 };
    CHECK_INT(read_one(&bomb, &lim, &b, err, sizeof err), DL_OK);
    CHECK(b.len == n && memcmp(b.data, zeros, n) == 0);
    struct dl_zip_limits lim2 = { .max_ratio = 100000, .max_entry_size = n - 1 };
    CHECK_INT(read_one(&bomb, &lim2, &b, err, sizeof err), DL_ERR_TOO_LARGE);
    CHECK(strstr(err, "67,108,864 bytes (limit 67,108,863 bytes)") != NULL);
    struct dl_zip_limits lim3 = { .max_ratio = 100000, .max_total = 1 << 20 };
    CHECK_INT(read_one(&bomb, &lim3, &b, err, sizeof err), DL_ERR_TOO_LARGE);
    CHECK(strstr(err, "expanded in total (limit 1,048,576 bytes)") != NULL);

    /* the bomb declaring a harmless size: decompression stops right after it */
    struct rawent liar = bomb;
    liar.size = 100000;
    dl_buf_free(&b);
    CHECK_INT(read_one(&liar, NULL, &b, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "expands past its declared size of 100,000 bytes") != NULL);
    CHECK_INT(b.len, 0);
    CHECK(b.alloc < 200000);

    /* a frame asking for a 256 MiB window for 1 KB of content: refused, not allocated */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 28);
    uint8_t wide[4096];
    ZSTD_outBuffer ob = { wide, sizeof wide, 0 };
    ZSTD_inBuffer ib = { CSV, strlen(CSV), 0 };
    size_t r1 = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_continue); /* size not known up front */
    size_t r2 = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
    CHECK(!ZSTD_isError(r1) && r2 == 0);
    /* the frame header's window descriptor (RFC 8878 3.1.1.1.2): no single-segment flag,
     * exponent 18, mantissa 0, so a window of 2^(10+18) */
    CHECK(ob.pos > 6 && (wide[4] & 0x20) == 0 && wide[5] == (18 << 3));
    struct rawent w = { "wide.csv", DL_ZIP_METHOD_ZSTD, wide, ob.pos, strlen(CSV), crc_of(CSV, strlen(CSV)), 0, 0, 0, 0 };
    CHECK_INT(read_one(&w, NULL, &b, err, sizeof err), DL_ERR_UNSUPPORTED);
    CHECK(strstr(err, "zip entry 'wide.csv': zstd frame needs a window over 134,217,728 bytes") != NULL);
    ZSTD_freeCCtx(cc);

    dl_buf_free(&b);
    free(f);
    free(zeros);
}

static void test_other_methods(void)
{
    /* a libzip-written archive relabelled with methods libzip lacks */
    const struct zfile files[] = {
        { "z.csv", CSV, strlen(CSV), ZIP_CM_DEFLATE, 0, 0 },
        { "ok.csv", CSV, strlen(CSV), ZIP_CM_DEFLATE, 0, 0 },
    };
    size_t len = 0;
    uint8_t *zb = build_zip(files, 2, &len);
    CHECK(zb != NULL);
    if (!zb)
        return;
    uint8_t *cd = CENTRAL(zb, len, 0), *lh = LOCAL(zb, len, 0);
    CHECK(cd && lh);
    if (cd)
        wr16(cd + 10, 97);
    if (lh)
        wr16(lh + 8, 97);
    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    struct dl_zip_entry e;
    CHECK_INT(dl_zip_entry(z, 0, &e), DL_OK);
    CHECK_INT(e.method, 97);
    struct dl_buf b;
    dl_buf_init(&b, 0);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_ERR_UNSUPPORTED);
    CHECK(strstr(err, "zip entry 'z.csv' uses compression method 97 (WavPack)") != NULL);
    CHECK_INT(dl_zip_read(z, 1, &b, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(b.data, b.len, CSV);
    dl_zip_close(z);

    /* deflate data labelled zstd: not a zstd frame */
    if (cd)
        wr16(cd + 10, 93);
    if (lh)
        wr16(lh + 8, 93);
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_ERR_PARSE);
    CHECK(strstr(err, "zip entry 'z.csv': corrupt zstd data") != NULL);
    dl_buf_free(&b);
    dl_zip_close(z);
    free(zb);
}

static void test_encrypted(void)
{
    zip_uint16_t em = 0;
    if (zip_encryption_method_supported(ZIP_EM_AES_256, 1))
        em = ZIP_EM_AES_256;
    else if (zip_encryption_method_supported(ZIP_EM_TRAD_PKWARE, 1))
        em = ZIP_EM_TRAD_PKWARE;
    const struct zfile files[] = {
        { "secret.csv", CSV, strlen(CSV), ZIP_CM_DEFLATE, 0, em },
    };
    size_t len = 0;
    uint8_t *zb = build_zip(files, 1, &len);
    CHECK(zb != NULL);
    if (!zb)
        return;
    if (!em) {
        /* no encryption support in this libzip: set the "encrypted" flag bit by hand */
        uint8_t *cd = CENTRAL(zb, len, 0), *lh = LOCAL(zb, len, 0);
        if (cd)
            cd[8] |= 1;
        if (lh)
            lh[6] |= 1;
    }
    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    struct dl_zip_entry e;
    CHECK_INT(dl_zip_entry(z, 0, &e), DL_OK);
    CHECK(e.encrypted);
    struct dl_buf b;
    dl_buf_init(&b, 0);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_ERR_UNSUPPORTED);
    CHECK(strstr(err, "entry is encrypted") != NULL);
    dl_buf_free(&b);
    dl_zip_close(z);
    free(zb);
}

int main(void)
{
    TEST_RUN(test_listing);
    TEST_RUN(test_unsafe_names);
    TEST_RUN(test_corrupt);
    TEST_RUN(test_empty_zip);
    TEST_RUN(test_ratio_guard);
    TEST_RUN(test_total_guard);
    TEST_RUN(test_lying_size);
    TEST_RUN(test_zstd_read);
    TEST_RUN(test_zstd_corrupt);
    TEST_RUN(test_zstd_guards);
    TEST_RUN(test_other_methods);
    TEST_RUN(test_encrypted);
    return test_summary();
}
