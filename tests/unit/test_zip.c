/* Zip listing, reading and guards. Every archive is built here at run time with libzip's
 * writing API (nothing binary is committed); malformed archives are made by patching bytes. */
#include "unpack/zip.h"

#include <stdlib.h>
#include <string.h>

#include <zip.h>

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

static void test_zstd_entry(void)
{
    /* libzip 1.7 cannot write method 93; relabel a deflated entry instead */
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
        wr16(cd + 10, 93);
    if (lh)
        wr16(lh + 8, 93);
    struct dl_zip *z = NULL;
    char err[256] = "";
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    struct dl_zip_entry e;
    CHECK_INT(dl_zip_entry(z, 0, &e), DL_OK);
    CHECK_INT(e.method, DL_ZIP_METHOD_ZSTD);
    struct dl_buf b;
    dl_buf_init(&b, 0);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_ERR_UNSUPPORTED);
    CHECK(strstr(err, "zstd") != NULL);
    CHECK(strstr(err, "z.csv") != NULL);

    /* any other method libzip lacks (here 97, WavPack) */
    if (cd)
        wr16(cd + 10, 97);
    dl_zip_close(z);
    CHECK_INT(dl_zip_open_mem(zb, len, &z, err, sizeof err), DL_OK);
    CHECK_INT(dl_zip_read(z, 0, &b, NULL, err, sizeof err), DL_ERR_UNSUPPORTED);
    CHECK(strstr(err, "method 97") != NULL);
    CHECK_INT(dl_zip_read(z, 1, &b, NULL, err, sizeof err), DL_OK);
    CHECK_MEM_STR(b.data, b.len, CSV);
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
    TEST_RUN(test_zstd_entry);
    TEST_RUN(test_encrypted);
    return test_summary();
}
