#include "unpack/zip.h"

#include "core/spill.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <unistd.h>

#include <zip.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define READ_CHUNK ((size_t)64 << 10)
/* Reserve at most this much up front from a declared size (which may lie); grow past it. */
#define PREALLOC_MAX ((uint64_t)64 << 20)

struct zent {
    uint64_t index;
    const char *name; /* owned by libzip, valid until zip_discard */
    uint64_t size;
    uint64_t comp_size;
    uint16_t method;
    uint32_t crc;     /* CRC-32 from the central directory */
    bool has_crc;
    bool encrypted;
    bool unsafe_name;
    uint64_t counted; /* bytes of this entry already counted in dl_zip.total */
};

struct dl_zip {
    zip_t *za;
    struct zent *ents;
    size_t n;
    uint64_t total; /* bytes expanded so far (each entry counted once, however often read) */
    struct dl_spill *spill_to; /* dl_zip_read_spill: move bytes here as they come */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#define DRAIN_AT ((size_t)4 << 20)

/* dl_zip_read_spill: keep the buffer small by moving what was read into the spill. */
static enum dl_err drain(struct dl_zip *z, struct dl_buf *out, bool all, char *err, size_t errlen)
{
    if (!z->spill_to || (!all && out->len < DRAIN_AT) || out->len == 0)
        return DL_OK;
    enum dl_err rc = dl_spill_write(z->spill_to, out->data, out->len);
    if (rc)
        seterr(err, errlen, "%s", z->spill_to->err);
    dl_buf_reset(out);
    return rc;
}


/* An entry name made safe to put in a log line: control bytes become '?', long names are cut. */
static const char *printable(const char *name, char *tmp, size_t tmplen)
{
    size_t n = strlen(name), j = 0;
    for (size_t i = 0; i < n && j + 4 < tmplen; i++)
        tmp[j++] = ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) ? '?' : name[i];
    if (j < n) {
        memcpy(tmp + j, "...", 3);
        j += 3;
    }
    tmp[j] = 0;
    return tmp;
}

/* 1234567 -> "1,234,567" */
static const char *grouped(uint64_t v, char buf[32])
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    int j = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = 0;
    return buf;
}

static enum dl_err map_zip_error(int code)
{
    switch (code) {
    case ZIP_ER_MEMORY: return DL_ERR_NOMEM;
    case ZIP_ER_MULTIDISK:
    case ZIP_ER_COMPNOTSUPP:
    case ZIP_ER_ENCRNOTSUPP:
    case ZIP_ER_NOPASSWD:
    case ZIP_ER_WRONGPASSWD: return DL_ERR_UNSUPPORTED;
    default: return DL_ERR_PARSE;
    }
}

static bool is_sep(char c)
{
    return c == '/' || c == '\\';
}

/* Metadata and folders that archivers add and that never hold records. */
static bool is_junk(const char *name)
{
    size_t n = strlen(name);
    if (n > 0 && is_sep(name[n - 1]))
        return true; /* directory */
    const char *base = name;
    for (const char *p = name; *p; p++) {
        if (!is_sep(*p))
            continue;
        if ((size_t)(p - base) == 8 && memcmp(base, "__MACOSX", 8) == 0)
            return true; /* a __MACOSX folder, at any depth */
        base = p + 1;
    }
    return strncmp(base, "._", 2) == 0 || strcmp(base, ".DS_Store") == 0 ||
           strcasecmp(base, "Thumbs.db") == 0;
}

/* Absolute paths, drive letters and ".." components would escape an extraction folder. */
static bool is_unsafe(const char *name)
{
    if (is_sep(name[0]))
        return true;
    if (((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z') && name[1] == ':')
        return true;
    const char *c = name;
    for (const char *p = name;; p++) {
        if (*p == 0 || is_sep(*p)) {
            if (p - c == 2 && c[0] == '.' && c[1] == '.')
                return true;
            if (*p == 0)
                break;
            c = p + 1;
        }
    }
    return false;
}

static enum dl_err open_src(zip_source_t *src0, const uint8_t *p, size_t len, int fd, struct dl_zip **out,
                            char *err, size_t errlen);

enum dl_err dl_zip_open_mem(const uint8_t *p, size_t len, struct dl_zip **out, char *err,
                            size_t errlen)
{
    return open_src(NULL, p, len, -1, out, err, errlen);
}

/* The same from a file descriptor (read with pread-like stdio calls, nothing mapped). */
enum dl_err dl_zip_open_fd(int fd, uint64_t len, struct dl_zip **out, char *err, size_t errlen)
{
    return open_src(NULL, NULL, (size_t)len, fd, out, err, errlen);
}

static enum dl_err open_src(zip_source_t *src0, const uint8_t *p, size_t len, int fd, struct dl_zip **out,
                            char *err, size_t errlen)
{
    (void)src0;
    enum dl_err rc = DL_OK;
    zip_error_t ze;
    zip_source_t *src = NULL;
    zip_t *za = NULL;
    struct dl_zip *z = NULL;

    zip_error_init(&ze);
    if (!out || (fd < 0 && !p && len)) {
        rc = DL_ERR_INVALID;
        seterr(err, errlen, "dl_zip_open_mem: invalid argument");
        goto out;
    }
    *out = NULL;
    if (len == 0) {
        /* libzip would treat an empty source as a new, empty archive */
        rc = DL_ERR_PARSE;
        seterr(err, errlen, "not a zip archive: the input is empty");
        goto out;
    }
    if (fd >= 0) {
        int dfd = dup(fd);
        FILE *fp = dfd >= 0 ? fdopen(dfd, "rb") : NULL;
        if (!fp) {
            if (dfd >= 0)
                close(dfd);
            rc = DL_ERR_NOMEM;
            seterr(err, errlen, "cannot read zip: %s", strerror(errno));
            goto out;
        }
        src = zip_source_filep_create(fp, 0, (zip_int64_t)len, &ze);
        if (!src)
            fclose(fp);
    } else {
        src = zip_source_buffer_create(p, len, 0, &ze);
    }
    if (!src) {
        rc = map_zip_error(zip_error_code_zip(&ze));
        seterr(err, errlen, "cannot read zip: %s", zip_error_strerror(&ze));
        goto out;
    }
    za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (!za) {
        rc = map_zip_error(zip_error_code_zip(&ze));
        seterr(err, errlen, "not a valid zip archive: %s", zip_error_strerror(&ze));
        goto out;
    }
    src = NULL; /* the archive owns it now */

    zip_int64_t total = zip_get_num_entries(za, 0);
    if (total < 0) {
        rc = DL_ERR_PARSE;
        seterr(err, errlen, "not a valid zip archive: cannot count entries");
        goto out;
    }
    z = calloc(1, sizeof *z);
    if (z)
        z->ents = calloc(total ? (size_t)total : 1, sizeof *z->ents);
    if (!z || !z->ents) {
        rc = DL_ERR_NOMEM;
        seterr(err, errlen, "out of memory listing a zip of %lld entries", (long long)total);
        goto out;
    }
    for (zip_uint64_t i = 0; i < (zip_uint64_t)total; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(za, i, 0, &st) != 0) {
            rc = map_zip_error(zip_error_code_zip(zip_get_error(za)));
            seterr(err, errlen, "not a valid zip archive: entry %llu: %s",
                   (unsigned long long)i, zip_strerror(za));
            goto out;
        }
        const zip_uint64_t need = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE |
                                  ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
        if ((st.valid & need) != need || !st.name) {
            rc = DL_ERR_PARSE;
            seterr(err, errlen, "not a valid zip archive: entry %llu has incomplete metadata",
                   (unsigned long long)i);
            goto out;
        }
        if (is_junk(st.name))
            continue;
        struct zent *e = &z->ents[z->n++];
        e->index = i;
        e->name = st.name;
        e->size = st.size;
        e->comp_size = st.comp_size;
        e->method = st.comp_method;
        e->crc = st.crc;
        e->has_crc = (st.valid & ZIP_STAT_CRC) != 0;
        e->encrypted = st.encryption_method != ZIP_EM_NONE;
        e->unsafe_name = is_unsafe(st.name);
    }
    z->za = za;
    za = NULL;
    *out = z;
    z = NULL;

out:
    if (z) {
        free(z->ents);
        free(z);
    }
    if (za)
        zip_discard(za);
    if (src)
        zip_source_free(src);
    zip_error_fini(&ze);
    return rc;
}

void dl_zip_close(struct dl_zip *z)
{
    if (!z)
        return;
    if (z->za)
        zip_discard(z->za);
    free(z->ents);
    free(z);
}

size_t dl_zip_count(const struct dl_zip *z)
{
    return z ? z->n : 0;
}

enum dl_err dl_zip_entry(const struct dl_zip *z, size_t i, struct dl_zip_entry *out)
{
    if (!z || !out || i >= z->n)
        return DL_ERR_INVALID;
    const struct zent *e = &z->ents[i];
    out->name = e->name;
    out->size = e->size;
    out->comp_size = e->comp_size;
    out->method = e->method;
    out->index = e->index;
    out->encrypted = e->encrypted;
    out->unsafe_name = e->unsafe_name;
    return DL_OK;
}

/* Check `expanded` bytes of entry e against the guards; prior is what the archive's other
 * entries have expanded so far. */
static enum dl_err check_guards(const struct zent *e, uint64_t expanded, uint64_t prior,
                                const struct dl_zip_limits *L, char *err, size_t errlen)
{
    char nm[200], a[32], b[32];
    if (expanded > L->max_entry_size) {
        seterr(err, errlen, "zip bomb guard: entry '%s' expands to %s bytes (limit %s bytes)",
               printable(e->name, nm, sizeof nm), grouped(expanded, a),
               grouped(L->max_entry_size, b));
        return DL_ERR_TOO_LARGE;
    }
    if (expanded > L->ratio_min_size) {
        bool over = e->comp_size == 0 ||
                    (e->comp_size <= UINT64_MAX / L->max_ratio &&
                     expanded > e->comp_size * L->max_ratio);
        if (over) {
            if (e->comp_size == 0)
                seterr(err, errlen,
                       "zip bomb guard: entry '%s' expands from 0 bytes to %s bytes",
                       printable(e->name, nm, sizeof nm), grouped(expanded, a));
            else
                seterr(err, errlen, "zip bomb guard: entry '%s' expands %s\u00d7 (limit %llu\u00d7)",
                       printable(e->name, nm, sizeof nm), grouped(expanded / e->comp_size, a),
                       (unsigned long long)L->max_ratio);
            return DL_ERR_TOO_LARGE;
        }
    }
    if (prior > L->max_total || expanded > L->max_total - prior) {
        uint64_t sum = expanded > UINT64_MAX - prior ? UINT64_MAX : prior + expanded;
        seterr(err, errlen,
               "zip bomb guard: entry '%s' takes the archive to %s bytes expanded in total "
               "(limit %s bytes)",
               printable(e->name, nm, sizeof nm), grouped(sum, a), grouped(L->max_total, b));
        return DL_ERR_TOO_LARGE;
    }
    return DL_OK;
}

static enum dl_err read_error(zip_file_t *zf, const struct zent *e, char *err, size_t errlen)
{
    char nm[200];
    zip_error_t *ze = zip_file_get_error(zf);
    int code = zip_error_code_zip(ze);
    if (code == ZIP_ER_CRC)
        seterr(err, errlen, "zip entry '%s': CRC error (corrupt data)",
               printable(e->name, nm, sizeof nm));
    else
        seterr(err, errlen, "zip entry '%s': %s", printable(e->name, nm, sizeof nm),
               zip_error_strerror(ze));
    return map_zip_error(code);
}

/* Names of the APPNOTE 4.4.5 methods people meet, for "not supported" messages. */
static const char *method_name(uint16_t m)
{
    switch (m) {
    case 1: return "Shrink";
    case 2: case 3: case 4: case 5: return "Reduce";
    case 6: return "Implode";
    case 9: return "Deflate64";
    case 10: return "PKWARE DCL Implode";
    case 12: return "bzip2";
    case 14: return "LZMA";
    case 18: return "IBM TERSE";
    case 19: return "IBM LZ77";
    case 94: return "MP3";
    case 95: return "xz";
    case 96: return "JPEG";
    case 97: return "WavPack";
    case 98: return "PPMd";
    case 99: return "WinZip AES";
    default: return "unknown";
    }
}

static bool is_zstd(uint16_t m)
{
    return m == DL_ZIP_METHOD_ZSTD || m == DL_ZIP_METHOD_ZSTD_OLD;
}

/* Stored and deflated entries (and whatever else this libzip decodes): libzip inflates and
 * checks the CRC. Appends to out; *got is the number of bytes produced. */
static enum dl_err read_libzip(struct dl_zip *z, const struct zent *e, struct dl_buf *out,
                               uint64_t *got_out, char *err, size_t errlen)
{
    enum dl_err rc = DL_OK;
    char nm[200], a[32];
    uint64_t got = 0;
    zip_file_t *zf = zip_fopen_index(z->za, e->index, 0);
    if (!zf) {
        zip_error_t *ze = zip_get_error(z->za);
        rc = map_zip_error(zip_error_code_zip(ze));
        seterr(err, errlen, "zip entry '%s': %s", printable(e->name, nm, sizeof nm),
               zip_error_strerror(ze));
        goto out;
    }

    /* Declared sizes can lie. The guards passed for the declared size, so reading never goes
     * past it: a probe for one more byte proves a lie, and also takes libzip to the end of
     * the entry, where it checks the CRC. */
    while (got < e->size) {
        size_t want = READ_CHUNK;
        if ((uint64_t)want > e->size - got)
            want = (size_t)(e->size - got);
        rc = dl_buf_reserve(out, want);
        if (rc) {
            seterr(err, errlen, "zip entry '%s' does not fit in the buffer (cap %s bytes)",
                   printable(e->name, nm, sizeof nm), grouped(out->cap, a));
            goto out;
        }
        zip_int64_t n = zip_fread(zf, out->data + out->len, want);
        if (n < 0) {
            rc = read_error(zf, e, err, errlen);
            goto out;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        out->data[out->len] = 0;
        got += (uint64_t)n;
        if ((rc = drain(z, out, false, err, errlen)))
            goto out;
    }
    if (got == e->size) {
        uint8_t probe;
        zip_int64_t n = zip_fread(zf, &probe, 1);
        if (n < 0) {
            rc = read_error(zf, e, err, errlen);
            goto out;
        }
        if (n > 0) {
            rc = DL_ERR_PARSE;
            seterr(err, errlen, "zip entry '%s' expands past its declared size of %s bytes",
                   printable(e->name, nm, sizeof nm), grouped(e->size, a));
            goto out;
        }
    }
    *got_out = got;

out:
    if (zf)
        zip_fclose(zf);
    return rc;
}

/* zstd entries (method 93, and 20, which APPNOTE lists as zstd's deprecated id). libzip 1.7
 * cannot decompress them, but it can hand us the raw compressed bytes (ZIP_FL_COMPRESSED): it finds
 * the local header from the central directory, ZIP64 extra fields included, and skips the
 * local name and extra field, whose lengths may differ from the central ones. We decompress
 * with libzstd under the same rule as read_libzip (never past the declared size, then a
 * one-byte probe) and check the CRC-32 ourselves, since libzip only does that when it
 * decompresses. */
static enum dl_err read_zstd(struct dl_zip *z, const struct zent *e, struct dl_buf *out,
                             uint64_t *got_out, char *err, size_t errlen)
{
    enum dl_err rc = DL_OK;
    char nm[200], a[32];
    zip_file_t *zf = NULL;
    ZSTD_DCtx *dctx = NULL;
    uint8_t *in = NULL;
    uint64_t got = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t last = 0;       /* ZSTD_decompressStream's last result: 0 = at a frame boundary */
    bool any_input = false, eof = false;

    zf = zip_fopen_index(z->za, e->index, ZIP_FL_COMPRESSED);
    if (!zf) {
        zip_error_t *ze = zip_get_error(z->za);
        rc = map_zip_error(zip_error_code_zip(ze));
        seterr(err, errlen, "zip entry '%s': %s", printable(e->name, nm, sizeof nm),
               zip_error_strerror(ze));
        goto out;
    }
    dctx = ZSTD_createDCtx();
    in = malloc(READ_CHUNK);
    if (!dctx || !in) {
        rc = DL_ERR_NOMEM;
        seterr(err, errlen, "zip entry '%s': out of memory", printable(e->name, nm, sizeof nm));
        goto out;
    }
    /* The whole entry is held in memory anyway, so a window as large as the declared size
     * costs no more than the output; zstd's default limit (128 MiB) would refuse big frames
     * that 7-Zip writes at its higher levels. */
    int wlog = 27, wmax = ZSTD_dParam_getBounds(ZSTD_d_windowLogMax).upperBound;
    while (wlog < wmax && wlog < 62 && ((uint64_t)1 << wlog) < e->size)
        wlog++;
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, wlog);

    ZSTD_inBuffer ib = { in, 0, 0 };
    for (;;) {
        if (ib.pos == ib.size && !eof) {
            zip_int64_t n = zip_fread(zf, in, READ_CHUNK);
            if (n < 0) {
                rc = read_error(zf, e, err, errlen);
                goto out;
            }
            if (n == 0)
                eof = true;
            ib.size = (size_t)n;
            ib.pos = 0;
            any_input |= n > 0;
        }
        uint8_t probe;
        ZSTD_outBuffer ob = { &probe, 1, 0 };
        if (got < e->size) {
            size_t want = READ_CHUNK;
            if ((uint64_t)want > e->size - got)
                want = (size_t)(e->size - got);
            rc = dl_buf_reserve(out, want);
            if (rc) {
                seterr(err, errlen, "zip entry '%s' does not fit in the buffer (cap %s bytes)",
                       printable(e->name, nm, sizeof nm), grouped(out->cap, a));
                goto out;
            }
            ob.dst = out->data + out->len;
            ob.size = want;
        }
        size_t in_before = ib.pos;
        size_t r = ZSTD_decompressStream(dctx, &ob, &ib);
        if (ZSTD_isError(r)) {
            ZSTD_ErrorCode code = ZSTD_getErrorCode(r);
            if (code == ZSTD_error_memory_allocation) {
                rc = DL_ERR_NOMEM;
                seterr(err, errlen, "zip entry '%s': out of memory decompressing zstd data",
                       printable(e->name, nm, sizeof nm));
            } else if (code == ZSTD_error_frameParameter_windowTooLarge) {
                rc = DL_ERR_UNSUPPORTED;
                seterr(err, errlen,
                       "zip entry '%s': zstd frame needs a window over %s bytes, more than its "
                       "declared size justifies",
                       printable(e->name, nm, sizeof nm), grouped((uint64_t)1 << wlog, a));
            } else {
                rc = DL_ERR_PARSE;
                seterr(err, errlen, "zip entry '%s': corrupt zstd data (%s)",
                       printable(e->name, nm, sizeof nm), ZSTD_getErrorName(r));
            }
            goto out;
        }
        if (ob.dst == &probe) {
            if (ob.pos > 0) {
                rc = DL_ERR_PARSE;
                seterr(err, errlen, "zip entry '%s' expands past its declared size of %s bytes",
                       printable(e->name, nm, sizeof nm), grouped(e->size, a));
                goto out;
            }
        } else if (ob.pos > 0) {
            crc = crc32(crc, out->data + out->len, (uInt)ob.pos);
            out->len += ob.pos;
            out->data[out->len] = 0;
            got += ob.pos;
            if ((rc = drain(z, out, false, err, errlen)))
                goto out;
        }
        /* a call with nothing to do (no input left) reports the next frame's header size */
        if (ib.pos != in_before || ob.pos > 0)
            last = r;
        /* all input consumed and room left over: the decoder has nothing more to give */
        if (eof && ib.pos == ib.size && ob.pos < ob.size)
            break;
    }
    if (any_input && last != 0) {
        rc = DL_ERR_PARSE;
        seterr(err, errlen, "zip entry '%s': truncated zstd data (the frame does not end)",
               printable(e->name, nm, sizeof nm));
        goto out;
    }
    if (got == e->size && e->has_crc && (uint32_t)crc != e->crc) {
        rc = DL_ERR_PARSE;
        seterr(err, errlen,
               "zip entry '%s': CRC error (corrupt data: CRC-32 %08x, central directory says "
               "%08x)",
               printable(e->name, nm, sizeof nm), (unsigned)crc, (unsigned)e->crc);
        goto out;
    }
    *got_out = got;

out:
    free(in);
    ZSTD_freeDCtx(dctx);
    if (zf)
        zip_fclose(zf);
    return rc;
}

enum dl_err dl_zip_read(struct dl_zip *z, size_t i, struct dl_buf *out,
                        const struct dl_zip_limits *lim, char *err, size_t errlen)
{
    enum dl_err rc = DL_OK;
    char nm[200], a[32], b[32];

    if (!z || !out || i >= z->n) {
        seterr(err, errlen, "dl_zip_read: invalid argument");
        return DL_ERR_INVALID;
    }
    dl_buf_reset(out);
    struct zent *e = &z->ents[i];
    struct dl_zip_limits L = {
        .max_entry_size = DL_ZIP_DEFAULT_MAX_ENTRY,
        .max_ratio = DL_ZIP_DEFAULT_MAX_RATIO,
        .ratio_min_size = DL_ZIP_DEFAULT_RATIO_MIN_SIZE,
        .max_total = DL_ZIP_DEFAULT_MAX_TOTAL,
    };
    if (lim) {
        if (lim->max_entry_size)
            L.max_entry_size = lim->max_entry_size;
        if (lim->max_ratio)
            L.max_ratio = lim->max_ratio;
        if (lim->ratio_min_size)
            L.ratio_min_size = lim->ratio_min_size;
        if (lim->max_total)
            L.max_total = lim->max_total;
    }

    if (e->encrypted) {
        rc = DL_ERR_UNSUPPORTED;
        seterr(err, errlen,
               "zip entry '%s': entry is encrypted (password-protected zip entries are not "
               "supported; re-create the archive without a password)",
               printable(e->name, nm, sizeof nm));
        goto out;
    }
    bool zstd = is_zstd(e->method);
    if (!zstd && !zip_compression_method_supported(e->method, 0)) {
        rc = DL_ERR_UNSUPPORTED;
        seterr(err, errlen,
               "zip entry '%s' uses compression method %u (%s), which is not supported "
               "(use stored, deflate or zstd)",
               printable(e->name, nm, sizeof nm), (unsigned)e->method, method_name(e->method));
        goto out;
    }

    uint64_t prior = z->total - e->counted;
    rc = check_guards(e, e->size, prior, &L, err, errlen);
    if (rc)
        goto out;
    if (e->size > out->cap || e->size >= SIZE_MAX) {
        rc = DL_ERR_TOO_LARGE;
        seterr(err, errlen, "zip entry '%s' (%s bytes) does not fit in the buffer (cap %s bytes)",
               printable(e->name, nm, sizeof nm), grouped(e->size, a), grouped(out->cap, b));
        goto out;
    }
    rc = dl_buf_reserve(out, (size_t)(e->size < PREALLOC_MAX ? e->size : PREALLOC_MAX));
    if (rc) {
        seterr(err, errlen, "zip entry '%s': %s", printable(e->name, nm, sizeof nm),
               dl_err_str(rc));
        goto out;
    }

    uint64_t got = 0;
    rc = zstd ? read_zstd(z, e, out, &got, err, errlen)
              : read_libzip(z, e, out, &got, err, errlen);
    if (rc)
        goto out;
    if (got != e->size) {
        rc = DL_ERR_PARSE;
        seterr(err, errlen, "zip entry '%s' is shorter than declared (%s of %s bytes)",
               printable(e->name, nm, sizeof nm), grouped(got, a), grouped(e->size, b));
        goto out;
    }
    if (got > e->counted) {
        z->total += got - e->counted;
        e->counted = got;
    }

out:
    if (rc)
        dl_buf_reset(out);
    return rc;
}

enum dl_err dl_zip_read_spill(struct dl_zip *z, size_t i, struct dl_spill *out, const struct dl_zip_limits *lim,
                              char *err, size_t errlen)
{
    struct dl_buf scratch;
    dl_buf_init(&scratch, 0);
    dl_spill_free(out);
    z->spill_to = out;
    enum dl_err rc = dl_zip_read(z, i, &scratch, lim, err, errlen);
    if (!rc)
        rc = drain(z, &scratch, true, err, errlen);
    z->spill_to = NULL;
    if (rc)
        dl_spill_free(out);
    dl_buf_free(&scratch);
    return rc;
}
