#include "aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"

static const char hexdig_upper[] = "0123456789ABCDEF";
static const char hexdig_lower[] = "0123456789abcdef";

static bool is_unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Header values are signed "trimmed": SP, HTAB and the CR/LF of an obs-fold count as space. */
static bool is_lws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig_lower[p[i] >> 4];
        out[2 * i + 1] = hexdig_lower[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int cursor_cmp(struct dl_cursor a, struct dl_cursor b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

static bool cursor_eq_nocase(struct dl_cursor a, const char *s)
{
    size_t n = strlen(s);
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = a.ptr[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (c != (uint8_t)s[i])
            return false;
    }
    return true;
}

enum dl_err dl_sigv4_uri_encode(struct dl_buf *out, struct dl_cursor in, bool encode_slash)
{
    size_t start = out->len;
    enum dl_err e = dl_buf_reserve(out, in.len);
    if (!e)
        out->data[out->len] = 0; /* reserve alone does not terminate */
    for (size_t i = 0; !e && i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (is_unreserved(c) || (c == '/' && !encode_slash)) {
            size_t j = i + 1;
            while (j < in.len && (is_unreserved(in.ptr[j]) || (in.ptr[j] == '/' && !encode_slash)))
                j++;
            e = dl_buf_append(out, in.ptr + i, j - i);
            i = j - 1;
        } else {
            char esc[3] = { '%', hexdig_upper[c >> 4], hexdig_upper[c & 15] };
            e = dl_buf_append(out, esc, 3);
        }
    }
    if (e) {
        out->len = start;
        if (out->data)
            out->data[start] = 0;
    }
    return e;
}

void dl_sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        memcpy(out, "19700101T000000Z", 17);
}

enum dl_err dl_sigv4_sha256_hex(struct dl_cursor data, char out[65])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data.len ? data.ptr : (const uint8_t *)"", data.len, md, &mdlen,
                    EVP_sha256(), NULL) ||
        mdlen != 32)
        return DL_ERR_NOMEM;
    to_hex(md, 32, out);
    return DL_OK;
}

static enum dl_err hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                               uint8_t out[32])
{
    unsigned int outlen = 0;
    if (keylen > INT32_MAX)
        return DL_ERR_INVALID;
    if (!HMAC(EVP_sha256(), key, (int)keylen, msglen ? msg : (const void *)"", msglen, out,
              &outlen) ||
        outlen != 32)
        return DL_ERR_NOMEM;
    return DL_OK;
}

void dl_sigv4_output_init(struct dl_sigv4_output *out)
{
    memset(out, 0, sizeof *out);
    dl_buf_init(&out->canonical_request, 0);
    dl_buf_init(&out->string_to_sign, 0);
    dl_buf_init(&out->signed_headers, 0);
    dl_buf_init(&out->authorization, 0);
}

void dl_sigv4_output_free(struct dl_sigv4_output *out)
{
    dl_buf_free(&out->canonical_request);
    dl_buf_free(&out->string_to_sign);
    dl_buf_free(&out->signed_headers);
    dl_buf_free(&out->authorization);
    out->nheaders = 0;
}

/* Percent-decode in (a malformed escape is kept literally, as servers do) into out. */
static enum dl_err percent_decode(struct dl_buf *out, struct dl_cursor in)
{
    enum dl_err e = dl_buf_reserve(out, in.len);
    for (size_t i = 0; !e && i < in.len; i++) {
        uint8_t c = in.ptr[i];
        int hi, lo;
        if (c == '%' && i + 2 < in.len && (hi = hexval(in.ptr[i + 1])) >= 0 &&
            (lo = hexval(in.ptr[i + 2])) >= 0) {
            e = dl_buf_append_byte(out, (uint8_t)(hi << 4 | lo));
            i += 2;
        } else {
            e = dl_buf_append_byte(out, c);
        }
    }
    return e;
}

/* Decode then re-encode one query name or value into enc. */
static enum dl_err canon_query_part(struct dl_buf *enc, struct dl_buf *tmp, struct dl_cursor in)
{
    dl_buf_reset(tmp);
    enum dl_err e = percent_decode(tmp, in);
    if (!e)
        e = dl_sigv4_uri_encode(enc, dl_buf_cur(tmp), true);
    return e;
}

struct qparam {
    size_t name_off, name_len, value_off, value_len; /* offsets into the scratch buffer */
    struct dl_cursor name, value;                    /* set once the scratch buffer is final */
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = cursor_cmp(x->name, y->name);
    return c ? c : cursor_cmp(x->value, y->value);
}

static enum dl_err canonical_query(struct dl_buf *out, struct dl_cursor query)
{
    enum dl_err e = DL_OK;
    struct dl_buf enc, tmp;
    struct qparam *params = NULL;
    size_t n = 0, max = 1;
    dl_buf_init(&enc, 0);
    dl_buf_init(&tmp, 0);

    for (size_t i = 0; i < query.len; i++)
        max += query.ptr[i] == '&';
    params = calloc(max, sizeof *params);
    if (!params) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    size_t pos = 0;
    while (pos <= query.len && n < max) {
        size_t end = pos;
        while (end < query.len && query.ptr[end] != '&')
            end++;
        if (end > pos) { /* "a=1&&b=2": empty parameters are not parameters */
            size_t eq = pos;
            while (eq < end && query.ptr[eq] != '=')
                eq++;
            struct qparam *p = &params[n++];
            p->name_off = enc.len;
            e = canon_query_part(&enc, &tmp, dl_cursor_of(query.ptr + pos, eq - pos));
            if (e)
                goto out;
            p->name_len = enc.len - p->name_off;
            p->value_off = enc.len;
            if (eq < end) {
                e = canon_query_part(&enc, &tmp, dl_cursor_of(query.ptr + eq + 1, end - eq - 1));
                if (e)
                    goto out;
            }
            p->value_len = enc.len - p->value_off;
        }
        pos = end + 1;
    }
    for (size_t i = 0; i < n; i++) {
        params[i].name = dl_cursor_of(enc.data + params[i].name_off, params[i].name_len);
        params[i].value = dl_cursor_of(enc.data + params[i].value_off, params[i].value_len);
    }
    qsort(params, n, sizeof *params, qparam_cmp);
    for (size_t i = 0; i < n && !e; i++) {
        if (i)
            e = dl_buf_append_byte(out, '&');
        if (!e)
            e = dl_buf_append_cur(out, params[i].name);
        if (!e)
            e = dl_buf_append_byte(out, '=');
        if (!e)
            e = dl_buf_append_cur(out, params[i].value);
    }
out:
    free(params);
    dl_buf_free(&enc);
    dl_buf_free(&tmp);
    return e;
}

/* RFC 3986 dot-segment removal plus empty-segment removal ("//" → "/"), as AWS services other
 * than S3 expect; a trailing '/' survives. Then each segment is URI-encoded once more. */
static enum dl_err canonical_path_normalized(struct dl_buf *out, struct dl_cursor path)
{
    enum dl_err e = DL_OK;
    struct dl_buf norm;
    dl_buf_init(&norm, 0);
    size_t pos = 0;
    while (pos < path.len) {
        size_t end = pos;
        while (end < path.len && path.ptr[end] != '/')
            end++;
        struct dl_cursor seg = dl_cursor_of(path.ptr + pos, end - pos);
        if (seg.len == 0 || dl_cursor_eq_str(seg, ".")) {
            /* skip */
        } else if (dl_cursor_eq_str(seg, "..")) {
            while (norm.len > 0 && norm.data[norm.len - 1] != '/')
                norm.len--;
            if (norm.len > 0)
                norm.len--; /* drop the '/' that started the removed segment */
            if (norm.data)
                norm.data[norm.len] = 0;
        } else {
            e = dl_buf_append_byte(&norm, '/');
            if (!e)
                e = dl_buf_append_cur(&norm, seg);
            if (e)
                goto out;
        }
        pos = end + 1;
    }
    if (norm.len == 0 || (path.len > 0 && path.ptr[path.len - 1] == '/'))
        e = dl_buf_append_byte(&norm, '/');
    if (!e)
        e = dl_sigv4_uri_encode(out, dl_buf_cur(&norm), false);
out:
    dl_buf_free(&norm);
    return e;
}

struct chdr {
    size_t name_off, name_len, value_off, value_len, order;
    struct dl_cursor name, value;
};

static int chdr_cmp(const void *a, const void *b)
{
    const struct chdr *x = a, *y = b;
    int c = cursor_cmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order; /* keep the order of repeated headers */
}

/* Append a lowercased name and a trimmed, whitespace-collapsed value to scratch. */
static enum dl_err add_chdr(struct dl_buf *scratch, struct chdr *h, size_t order,
                            struct dl_cursor name, struct dl_cursor value)
{
    enum dl_err e = dl_buf_reserve(scratch, name.len + value.len);
    if (e)
        return e;
    h->order = order;
    h->name_off = scratch->len;
    for (size_t i = 0; i < name.len; i++) {
        uint8_t c = name.ptr[i];
        scratch->data[scratch->len++] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
    }
    h->name_len = scratch->len - h->name_off;
    h->value_off = scratch->len;
    size_t i = 0;
    while (i < value.len && is_lws(value.ptr[i]))
        i++;
    bool pending_space = false;
    for (; i < value.len; i++) {
        uint8_t c = value.ptr[i];
        if (is_lws(c)) {
            pending_space = true;
            continue;
        }
        if (pending_space)
            scratch->data[scratch->len++] = ' ';
        pending_space = false;
        scratch->data[scratch->len++] = c;
    }
    h->value_len = scratch->len - h->value_off;
    scratch->data[scratch->len] = 0;
    return DL_OK;
}

static bool valid_header_name(struct dl_cursor n)
{
    if (n.len == 0)
        return false;
    for (size_t i = 0; i < n.len; i++) {
        uint8_t c = n.ptr[i];
        if (c <= ' ' || c == ':' || c >= 0x7f)
            return false;
    }
    return true;
}

static bool valid_scope_part(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '/' || c == ',' || c >= 0x7f)
            return false;
    }
    return true;
}

static bool valid_payload_hash(const char *h)
{
    if (strcmp(h, DL_SIGV4_UNSIGNED_PAYLOAD) == 0)
        return true;
    if (strlen(h) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    return true;
}

enum dl_err dl_sigv4_sign(const struct dl_sigv4_input *in, struct dl_sigv4_output *out)
{
    enum dl_err e = DL_OK;
    struct dl_buf scratch, key;
    struct chdr hdrs[DL_SIGV4_MAX_HEADERS + 4];
    size_t nh = 0;
    uint8_t mac[32], mac2[32];
    char date8[9];
    dl_buf_init(&scratch, 0);
    dl_buf_init(&key, 4096);

    dl_buf_reset(&out->canonical_request);
    dl_buf_reset(&out->string_to_sign);
    dl_buf_reset(&out->signed_headers);
    dl_buf_reset(&out->authorization);
    out->nheaders = 0;
    out->signature[0] = 0;

    if (!in->method || !*in->method || !in->host || !*in->host ||
        !valid_scope_part(in->access_key_id) || !in->secret_access_key ||
        !*in->secret_access_key || !valid_scope_part(in->region) ||
        !valid_scope_part(in->service) || in->nheaders > DL_SIGV4_MAX_HEADERS ||
        (in->nheaders && !in->headers) || (in->path.len && !in->path.ptr) ||
        (in->query.len && !in->query.ptr) || (in->payload.len && !in->payload.ptr)) {
        e = DL_ERR_INVALID;
        goto out;
    }
    bool is_s3 = strcmp(in->service, "s3") == 0;
    bool has_token = in->session_token && *in->session_token;
    bool sign_token = has_token && !in->session_token_unsigned;
    bool content_header = is_s3 || in->content_sha256_header;

    dl_sigv4_amz_date(in->now, out->amz_date);
    memcpy(date8, out->amz_date, 8);
    date8[8] = 0;

    if (in->payload_hash) {
        if (!valid_payload_hash(in->payload_hash)) {
            e = DL_ERR_INVALID;
            goto out;
        }
        memcpy(out->payload_hash, in->payload_hash, strlen(in->payload_hash) + 1);
    } else if ((e = dl_sigv4_sha256_hex(in->payload, out->payload_hash))) {
        goto out;
    }

    /* ---- canonical headers: the caller's plus the ones the signer owns ---- */
    static const char *const owned[] = { "host", "authorization", "x-amz-date",
                                         "x-amz-security-token", "x-amz-content-sha256" };
    for (size_t i = 0; i < in->nheaders; i++) {
        if (!valid_header_name(in->headers[i].name) ||
            (in->headers[i].value.len && !in->headers[i].value.ptr)) {
            e = DL_ERR_INVALID;
            goto out;
        }
        for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++) {
            if (cursor_eq_nocase(in->headers[i].name, owned[k])) {
                e = DL_ERR_INVALID;
                goto out;
            }
        }
        if ((e = add_chdr(&scratch, &hdrs[nh], nh, in->headers[i].name, in->headers[i].value)))
            goto out;
        nh++;
    }
    e = add_chdr(&scratch, &hdrs[nh], nh, dl_cursor_str("host"), dl_cursor_str(in->host));
    nh++;
    if (!e) {
        e = add_chdr(&scratch, &hdrs[nh], nh, dl_cursor_str("x-amz-date"),
                     dl_cursor_str(out->amz_date));
        nh++;
    }
    if (!e && sign_token) {
        e = add_chdr(&scratch, &hdrs[nh], nh, dl_cursor_str("x-amz-security-token"),
                     dl_cursor_str(in->session_token));
        nh++;
    }
    if (!e && content_header) {
        e = add_chdr(&scratch, &hdrs[nh], nh, dl_cursor_str("x-amz-content-sha256"),
                     dl_cursor_str(out->payload_hash));
        nh++;
    }
    if (e)
        goto out;
    for (size_t i = 0; i < nh; i++) {
        hdrs[i].name = dl_cursor_of(scratch.data + hdrs[i].name_off, hdrs[i].name_len);
        hdrs[i].value = dl_cursor_of(scratch.data + hdrs[i].value_off, hdrs[i].value_len);
    }
    qsort(hdrs, nh, sizeof hdrs[0], chdr_cmp);

    /* ---- canonical request ---- */
    struct dl_buf *cr = &out->canonical_request;
    if ((e = dl_buf_append_str(cr, in->method)) || (e = dl_buf_append_byte(cr, '\n')))
        goto out;
    enum dl_sigv4_path_mode mode = in->path_mode;
    if (mode == DL_SIGV4_PATH_AUTO)
        mode = is_s3 ? DL_SIGV4_PATH_AS_IS : DL_SIGV4_PATH_NORMALIZE;
    if (mode == DL_SIGV4_PATH_AS_IS)
        e = in->path.len ? dl_buf_append_cur(cr, in->path) : dl_buf_append_byte(cr, '/');
    else
        e = canonical_path_normalized(cr, in->path);
    if (e || (e = dl_buf_append_byte(cr, '\n')) || (e = canonical_query(cr, in->query)) ||
        (e = dl_buf_append_byte(cr, '\n')))
        goto out;
    for (size_t i = 0; i < nh; i++) {
        bool first = i == 0 || !dl_cursor_eq(hdrs[i].name, hdrs[i - 1].name);
        if (first) {
            if (i && (e = dl_buf_append_byte(cr, '\n')))
                goto out;
            if ((e = dl_buf_append_cur(cr, hdrs[i].name)) || (e = dl_buf_append_byte(cr, ':')))
                goto out;
            if (i && (e = dl_buf_append_byte(&out->signed_headers, ';')))
                goto out;
            if ((e = dl_buf_append_cur(&out->signed_headers, hdrs[i].name)))
                goto out;
        } else if ((e = dl_buf_append_byte(cr, ','))) {
            goto out;
        }
        if ((e = dl_buf_append_cur(cr, hdrs[i].value)))
            goto out;
    }
    if ((e = dl_buf_printf(cr, "\n\n%s\n%s", (const char *)out->signed_headers.data,
                           out->payload_hash)))
        goto out;

    /* ---- string to sign ---- */
    char crhash[65];
    if ((e = dl_sigv4_sha256_hex(dl_buf_cur(cr), crhash)))
        goto out;
    if ((e = dl_buf_printf(&out->string_to_sign, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s",
                           out->amz_date, date8, in->region, in->service, crhash)))
        goto out;

    /* ---- signing key: HMAC chain over date, region, service, "aws4_request" ---- */
    if ((e = dl_buf_append_str(&key, "AWS4")) ||
        (e = dl_buf_append_str(&key, in->secret_access_key)))
        goto out;
    if ((e = hmac_sha256(key.data, key.len, date8, 8, mac)) ||
        (e = hmac_sha256(mac, 32, in->region, strlen(in->region), mac2)) ||
        (e = hmac_sha256(mac2, 32, in->service, strlen(in->service), mac)) ||
        (e = hmac_sha256(mac, 32, "aws4_request", 12, mac2)) ||
        (e = hmac_sha256(mac2, 32, out->string_to_sign.data, out->string_to_sign.len, mac)))
        goto out;
    to_hex(mac, 32, out->signature);

    if ((e = dl_buf_printf(&out->authorization,
                           ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                                     "Signature=%s",
                           in->access_key_id, date8, in->region, in->service,
                           (const char *)out->signed_headers.data, out->signature)))
        goto out;

    out->headers[out->nheaders++] = (struct dl_sigv4_out_header){ "X-Amz-Date", out->amz_date };
    if (has_token)
        out->headers[out->nheaders++] =
            (struct dl_sigv4_out_header){ "X-Amz-Security-Token", in->session_token };
    if (content_header)
        out->headers[out->nheaders++] =
            (struct dl_sigv4_out_header){ "X-Amz-Content-Sha256", out->payload_hash };
    out->headers[out->nheaders++] =
        (struct dl_sigv4_out_header){ "Authorization", (const char *)out->authorization.data };

out:
    OPENSSL_cleanse(mac, sizeof mac);
    OPENSSL_cleanse(mac2, sizeof mac2);
    if (key.data)
        OPENSSL_cleanse(key.data, key.alloc);
    dl_buf_free(&key);
    dl_buf_free(&scratch);
    if (e) {
        out->nheaders = 0;
        out->signature[0] = 0;
    }
    return e;
}
