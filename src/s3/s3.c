#include "s3/s3.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"

#define FIELD_CAP ((size_t)64 << 10)    /* one XML text field (a key is <= 1 KiB in S3) */
#define LIST_RESP_CAP ((size_t)64 << 20) /* one listing page (1000 keys are ~ 500 KB) */
#define ERR_RESP_CAP ((size_t)1 << 20)

/* ------------------------------------------------------------------------------------ */
/* object arrays                                                                         */

void dl_s3_objects_clear(struct dl_s3_objects *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i].key);
    l->count = 0;
}

void dl_s3_objects_free(struct dl_s3_objects *l)
{
    dl_s3_objects_clear(l);
    free(l->items);
    l->items = NULL;
    l->alloc = 0;
}

static struct dl_s3_object *objects_push(struct dl_s3_objects *l)
{
    if (l->count == l->alloc) {
        size_t na = l->alloc ? l->alloc * 2 : 256;
        struct dl_s3_object *p = realloc(l->items, na * sizeof *p);
        if (!p)
            return NULL;
        l->items = p;
        l->alloc = na;
    }
    struct dl_s3_object *o = &l->items[l->count++];
    memset(o, 0, sizeof *o);
    return o;
}

static void copy_field(char *dst, size_t dstlen, const struct dl_buf *src)
{
    size_t n = src->len < dstlen - 1 ? src->len : dstlen - 1;
    if (n)
        memcpy(dst, src->data, n);
    dst[n] = 0;
}

/* ------------------------------------------------------------------------------------ */
/* XML: a small streaming walker over expat                                              */

/* Text is collected per element and handed to on_end when the element closes; a start tag
 * clears it, so for a leaf element the text is exactly its content (entities decoded). */
struct walker {
    XML_Parser p;
    int depth;
    struct dl_buf text;
    enum dl_err err; /* set by handlers to stop the parse */
    const char *err_what;
    void (*on_start)(struct walker *w, const char *name);
    void (*on_end)(struct walker *w, const char *name);
    void *ctx;
};

static void XMLCALL w_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct walker *w = ud;
    w->depth++;
    dl_buf_reset(&w->text);
    if (w->on_start)
        w->on_start(w, name);
}

static void XMLCALL w_end(void *ud, const XML_Char *name)
{
    struct walker *w = ud;
    if (w->on_end)
        w->on_end(w, name);
    dl_buf_reset(&w->text);
    w->depth--;
}

static void XMLCALL w_text(void *ud, const XML_Char *s, int len)
{
    struct walker *w = ud;
    if (w->err)
        return;
    enum dl_err e = dl_buf_append(&w->text, s, (size_t)len);
    if (e) {
        w->err = e;
        w->err_what = e == DL_ERR_TOO_LARGE ? "an XML text field is larger than 64 KiB"
                                            : "out of memory";
        XML_StopParser(w->p, XML_FALSE);
    }
}

static void w_fail(struct walker *w, enum dl_err e, const char *what)
{
    if (w->err)
        return;
    w->err = e;
    w->err_what = what;
    XML_StopParser(w->p, XML_FALSE);
}

/* Parse xml in one call (the body is already in memory; expat still streams over it). */
static enum dl_err walk(struct walker *w, struct dl_cursor xml, char *errmsg, size_t errlen)
{
    enum dl_err e = DL_OK;
    dl_buf_init(&w->text, FIELD_CAP);
    w->p = XML_ParserCreate("UTF-8");
    if (!w->p) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    XML_SetUserData(w->p, w);
    XML_SetElementHandler(w->p, w_start, w_end);
    XML_SetCharacterDataHandler(w->p, w_text);
    if (xml.len > (size_t)INT32_MAX) {
        e = DL_ERR_TOO_LARGE;
        snprintf(errmsg, errlen, "XML document larger than 2 GiB");
        goto out;
    }
    enum XML_Status st = XML_Parse(w->p, (const char *)xml.ptr, (int)xml.len, XML_TRUE);
    if (w->err) {
        e = w->err;
        snprintf(errmsg, errlen, "%s", w->err_what);
    } else if (st != XML_STATUS_OK) {
        e = DL_ERR_PARSE;
        snprintf(errmsg, errlen, "malformed XML at line %lu column %lu: %s",
                 (unsigned long)XML_GetCurrentLineNumber(w->p),
                 (unsigned long)XML_GetCurrentColumnNumber(w->p) + 1,
                 XML_ErrorString(XML_GetErrorCode(w->p)));
    }
out:
    if (w->p)
        XML_ParserFree(w->p);
    w->p = NULL;
    dl_buf_free(&w->text);
    return e;
}

/* ---- ListBucketResult ---- */

struct list_ctx {
    struct dl_s3_objects *out;
    bool *truncated;
    struct dl_buf *token;
    struct dl_s3_object cur;
    char *cur_key;
    size_t cur_key_len;
    bool in_contents;
    bool have_key;
    bool root_ok;
};

static void list_start(struct walker *w, const char *name)
{
    struct list_ctx *c = w->ctx;
    if (w->depth == 1) {
        if (strcmp(name, "ListBucketResult") != 0)
            w_fail(w, DL_ERR_PARSE, "not a ListBucketResult document");
        c->root_ok = true;
    } else if (w->depth == 2 && strcmp(name, "Contents") == 0) {
        c->in_contents = true;
        c->have_key = false;
        memset(&c->cur, 0, sizeof c->cur);
    }
}

static void list_end(struct walker *w, const char *name)
{
    struct list_ctx *c = w->ctx;
    if (w->depth == 3 && c->in_contents) {
        if (strcmp(name, "Key") == 0) {
            free(c->cur_key);
            c->cur_key = malloc(w->text.len + 1);
            if (!c->cur_key) {
                w_fail(w, DL_ERR_NOMEM, "out of memory");
                return;
            }
            if (w->text.len)
                memcpy(c->cur_key, w->text.data, w->text.len);
            c->cur_key[w->text.len] = 0;
            c->cur_key_len = w->text.len;
            c->have_key = true;
        } else if (strcmp(name, "Size") == 0) {
            char *end;
            const char *s = w->text.len ? (const char *)w->text.data : "";
            unsigned long long v = strtoull(s, &end, 10);
            if (!w->text.len || *end || *s == '-') {
                w_fail(w, DL_ERR_PARSE, "an object's Size is not a number");
                return;
            }
            c->cur.size = v;
        } else if (strcmp(name, "ETag") == 0) {
            copy_field(c->cur.etag, sizeof c->cur.etag, &w->text);
        } else if (strcmp(name, "LastModified") == 0) {
            copy_field(c->cur.last_modified, sizeof c->cur.last_modified, &w->text);
        }
    } else if (w->depth == 2) {
        if (strcmp(name, "Contents") == 0) {
            c->in_contents = false;
            if (!c->have_key) {
                w_fail(w, DL_ERR_PARSE, "a Contents element without a Key");
                return;
            }
            struct dl_s3_object *o = objects_push(c->out);
            if (!o) {
                w_fail(w, DL_ERR_NOMEM, "out of memory");
                return;
            }
            *o = c->cur;
            o->key = c->cur_key;
            o->key_len = c->cur_key_len;
            c->cur_key = NULL;
        } else if (strcmp(name, "IsTruncated") == 0) {
            *c->truncated = w->text.len == 4 && memcmp(w->text.data, "true", 4) == 0;
        } else if (strcmp(name, "NextContinuationToken") == 0) {
            dl_buf_reset(c->token);
            enum dl_err e = dl_buf_append(c->token, w->text.data, w->text.len);
            if (e)
                w_fail(w, e, "continuation token too large");
        }
    }
}

enum dl_err dl_s3_parse_list_xml(struct dl_cursor xml, struct dl_s3_objects *out, bool *truncated,
                                 struct dl_buf *next_token, char *errmsg, size_t errlen)
{
    struct list_ctx c = { .out = out, .truncated = truncated, .token = next_token };
    struct walker w = { .on_start = list_start, .on_end = list_end, .ctx = &c };
    size_t first = out->count;
    *truncated = false;
    dl_buf_reset(next_token);
    enum dl_err e = walk(&w, xml, errmsg, errlen);
    free(c.cur_key);
    if (!e && !c.root_ok) {
        e = DL_ERR_PARSE;
        snprintf(errmsg, errlen, "empty listing document");
    }
    if (e) {
        /* all or nothing: drop what this page added */
        for (size_t i = first; i < out->count; i++)
            free(out->items[i].key);
        out->count = first;
        *truncated = false;
    }
    return e;
}

/* ---- Error ---- */

struct s3_error_doc {
    char code[64];
    char message[256];
    char request_id[128];
};

static void err_end(struct walker *w, const char *name)
{
    struct s3_error_doc *d = w->ctx;
    if (w->depth != 2)
        return;
    if (strcmp(name, "Code") == 0)
        copy_field(d->code, sizeof d->code, &w->text);
    else if (strcmp(name, "Message") == 0)
        copy_field(d->message, sizeof d->message, &w->text);
    else if (strcmp(name, "RequestId") == 0)
        copy_field(d->request_id, sizeof d->request_id, &w->text);
}

/* Fallback for documents expat refuses: some S3 look-alikes escape with HTML named entities
 * (&uuml;), which XML does not define. Take <Tag>text</Tag> and decode the XML entities. */
static void loose_field(struct dl_cursor doc, const char *tag, char *out, size_t outlen)
{
    char open[40], close[40];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    out[0] = 0;
    const char *s = memmem(doc.ptr, doc.len, open, strlen(open));
    if (!s)
        return;
    s += strlen(open);
    const char *e = memmem(s, doc.len - (size_t)(s - (const char *)doc.ptr), close, strlen(close));
    if (!e)
        return;
    size_t o = 0;
    static const struct { const char *ent; char c; } ents[] = {
        { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
    };
    while (s < e && o + 1 < outlen) {
        char ch = *s;
        size_t adv = 1;
        if (ch == '&') {
            for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
                size_t l = strlen(ents[i].ent);
                if ((size_t)(e - s) >= l && memcmp(s, ents[i].ent, l) == 0) {
                    ch = ents[i].c;
                    adv = l;
                    break;
                }
            }
        }
        out[o++] = ch;
        s += adv;
    }
    out[o] = 0;
}

static void parse_error_doc(struct dl_cursor body, struct s3_error_doc *d)
{
    memset(d, 0, sizeof *d);
    if (body.len == 0)
        return;
    struct walker w = { .on_end = err_end, .ctx = d };
    char msg[128];
    if (walk(&w, body, msg, sizeof msg) != DL_OK || !d->code[0]) {
        memset(d, 0, sizeof *d);
        if (memmem(body.ptr, body.len, "<Error>", 7)) {
            loose_field(body, "Code", d->code, sizeof d->code);
            loose_field(body, "Message", d->message, sizeof d->message);
            loose_field(body, "RequestId", d->request_id, sizeof d->request_id);
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* error messages                                                                        */

static const char *reason_phrase(long status)
{
    switch (status) {
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

/* Copy s for a message: control bytes become '?' (a key may hold any byte). */
static void printable(char *dst, size_t dstlen, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 1 < dstlen; s++)
        dst[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    dst[o] = 0;
}

static bool code_in(const char *code, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(code, *list) == 0)
            return true;
    return false;
}

enum dl_err dl_s3_error_message(const struct dl_http_req *r, const char *bucket, const char *key,
                                char *out, size_t outlen)
{
    static const char *const not_found[] = { "NoSuchKey", "NoSuchBucket", "NoSuchUpload",
                                             "NotFound", NULL };
    static const char *const creds[] = { "InvalidAccessKeyId", "SignatureDoesNotMatch",
                                         "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
                                         "MissingSecurityHeader", "InvalidSecurity", NULL };
    char where[520], b[100], k[400];
    printable(b, sizeof b, bucket ? bucket : "");
    printable(k, sizeof k, key ? key : "");
    snprintf(where, sizeof where, "s3://%s%s%s", b, k[0] ? "/" : "", k);
    if (!outlen)
        out = NULL;
    else
        out[0] = 0;

    if (r->result != DL_OK) {
        if (out)
            snprintf(out, outlen, "%s: %s", where,
                     r->errmsg[0] ? r->errmsg : dl_err_str(r->result));
        return r->result;
    }
    if (r->status >= 200 && r->status <= 299)
        return DL_OK;

    struct s3_error_doc d;
    parse_error_doc(dl_buf_cur(&r->resp), &d);
    const char *rid = d.request_id[0] ? d.request_id : r->request_id;
    char tail[200]; /* "(HTTP 503, request id X) after 8 attempts" */
    char tries[40] = "";
    if (r->status >= 500)
        snprintf(tries, sizeof tries, " after %d attempt%s", r->attempts,
                 r->attempts == 1 ? "" : "s");
    if (d.code[0])
        snprintf(tail, sizeof tail, "(HTTP %ld%s%s)%s", r->status, rid[0] ? ", request id " : "",
                 rid, tries);
    else if (rid[0])
        snprintf(tail, sizeof tail, "(request id %s)%s", rid, tries);
    else
        snprintf(tail, sizeof tail, "%s", tries[0] ? tries + 1 : "");

    enum dl_err e;
    const char *hint = "";
    char hintbuf[200];
    if (d.code[0]) {
        if (code_in(d.code, not_found)) {
            e = DL_ERR_NOT_FOUND;
            if (strcmp(d.code, "NoSuchBucket") == 0) {
                snprintf(hintbuf, sizeof hintbuf,
                         "; there is no bucket named \"%s\" at this endpoint (check the name "
                         "and the region)", b);
                hint = hintbuf;
            }
        } else if (code_in(d.code, creds)) {
            e = DL_ERR_CREDENTIALS;
            if (strcmp(d.code, "InvalidAccessKeyId") == 0)
                hint = "; check the access key id (AWS_ACCESS_KEY_ID or the profile's "
                       "aws_access_key_id)";
            else if (strcmp(d.code, "SignatureDoesNotMatch") == 0)
                hint = "; check the secret access key (AWS_SECRET_ACCESS_KEY or the profile's "
                       "aws_secret_access_key) that goes with the access key id";
            else
                hint = "; the session token is missing, invalid or expired: refresh the "
                       "credentials";
        } else if (strcmp(d.code, "AccessDenied") == 0 || strcmp(d.code, "AllAccessDisabled") == 0) {
            e = DL_ERR_AWS;
            hint = "; check the AWS credentials and that they are allowed to use this bucket";
        } else if (strcmp(d.code, "RequestTimeTooSkewed") == 0) {
            e = DL_ERR_CREDENTIALS;
            hint = "; the system clock is off: fix the clock";
        } else if (strcmp(d.code, "AuthorizationHeaderMalformed") == 0 ||
                   strcmp(d.code, "PermanentRedirect") == 0) {
            e = DL_ERR_AWS;
            hint = "; the bucket is in another region: set AWS_REGION or --region";
        } else {
            e = DL_ERR_AWS;
        }
        if (out)
            snprintf(out, outlen, "%s: %s: %s %s%s", where, d.code,
                     d.message[0] ? d.message : reason_phrase(r->status), tail, hint);
    } else {
        e = r->status == 404 ? DL_ERR_NOT_FOUND : DL_ERR_HTTP;
        if (r->status == 401 || r->status == 403)
            hint = "; check the AWS credentials and that they are allowed to use this bucket";
        const char *phrase = reason_phrase(r->status);
        if (out)
            snprintf(out, outlen, "%s: HTTP %ld%s%s%s%s%s", where, r->status, phrase[0] ? " " : "",
                     phrase, tail[0] ? " " : "", tail, hint);
    }
    return e;
}

/* ------------------------------------------------------------------------------------ */
/* listing                                                                               */

struct dl_s3_list {
    const struct dl_aws_config *cfg;
    char *bucket;
    char *prefix;
    char *start_after;
    int max_keys;
    bool done;
    bool started;
    struct dl_buf token;
    struct dl_buf query;
    struct dl_http_req *req; /* reused by dl_s3_list_next */
};

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

struct dl_s3_list *dl_s3_list_new(const struct dl_aws_config *cfg, const char *bucket,
                                  const char *prefix, const char *start_after, int max_keys)
{
    struct dl_s3_list *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->cfg = cfg;
    l->bucket = strdup(bucket ? bucket : "");
    l->prefix = dup_or_null(prefix);
    l->start_after = dup_or_null(start_after);
    l->max_keys = max_keys > 0 ? max_keys : 0;
    dl_buf_init(&l->token, FIELD_CAP);
    dl_buf_init(&l->query, 0);
    if (!l->bucket || (prefix && *prefix && !l->prefix) ||
        (start_after && *start_after && !l->start_after)) {
        dl_s3_list_destroy(l);
        return NULL;
    }
    return l;
}

void dl_s3_list_destroy(struct dl_s3_list *l)
{
    if (!l)
        return;
    free(l->bucket);
    free(l->prefix);
    free(l->start_after);
    dl_buf_free(&l->token);
    dl_buf_free(&l->query);
    dl_http_req_destroy(l->req);
    free(l);
}

bool dl_s3_list_done(const struct dl_s3_list *l)
{
    return l->done;
}

static enum dl_err add_param(struct dl_buf *q, const char *name, struct dl_cursor value)
{
    enum dl_err e = dl_buf_printf(q, "%s%s=", q->len ? "&" : "", name);
    if (!e)
        e = dl_sigv4_uri_encode(q, value, true);
    return e;
}

enum dl_err dl_s3_list_prepare(struct dl_s3_list *l, struct dl_http_req *r)
{
    enum dl_err e;
    struct dl_buf *q = &l->query;
    dl_buf_reset(q);
    if ((e = dl_buf_append_str(q, "list-type=2")))
        goto out;
    if (l->token.len) {
        if ((e = add_param(q, "continuation-token", dl_buf_cur(&l->token))))
            goto out;
    } else if (l->start_after) {
        if ((e = add_param(q, "start-after", dl_cursor_str(l->start_after))))
            goto out;
    }
    if (l->max_keys && (e = dl_buf_printf(q, "&max-keys=%d", l->max_keys)))
        goto out;
    if (l->prefix && (e = add_param(q, "prefix", dl_cursor_str(l->prefix))))
        goto out;
    dl_buf_reset(&r->url);
    if ((e = dl_aws_s3_url(l->cfg, l->bucket, dl_cursor_of(NULL, 0), (const char *)q->data,
                           &r->url)))
        goto out;
    r->method = "GET";
    r->aws = l->cfg;
    r->service = "s3";
    r->range_set = false;
    if (r->resp.cap > LIST_RESP_CAP)
        r->resp.cap = LIST_RESP_CAP;
out:
    return e;
}

enum dl_err dl_s3_list_parse(struct dl_s3_list *l, const struct dl_http_req *r,
                             struct dl_s3_objects *out, char *errmsg, size_t errlen)
{
    if (errlen)
        errmsg[0] = 0;
    enum dl_err e;
    struct dl_buf next;
    bool truncated = false;
    char why[200] = "";
    dl_buf_init(&next, FIELD_CAP);
    if (r->result != DL_OK || r->status != 200) {
        e = dl_s3_error_message(r, l->bucket, l->prefix, errmsg, errlen);
        if (e == DL_OK) { /* a 2xx other than 200 */
            e = DL_ERR_HTTP;
            snprintf(errmsg, errlen, "s3://%s/%s: unexpected HTTP %ld to a listing", l->bucket,
                     l->prefix ? l->prefix : "", r->status);
        }
        goto out;
    }
    e = dl_s3_parse_list_xml(dl_buf_cur(&r->resp), out, &truncated, &next, why, sizeof why);
    if (e) {
        snprintf(errmsg, errlen, "s3://%s/%s: listing: %s", l->bucket, l->prefix ? l->prefix : "",
                 why);
        goto out;
    }
    if (truncated && next.len == 0) {
        e = DL_ERR_PARSE;
        snprintf(errmsg, errlen, "s3://%s/%s: listing truncated without a NextContinuationToken",
                 l->bucket, l->prefix ? l->prefix : "");
        goto out;
    }
    if (truncated && dl_cursor_eq(dl_buf_cur(&next), dl_buf_cur(&l->token))) {
        /* the same token again would page forever */
        e = DL_ERR_PARSE;
        snprintf(errmsg, errlen, "s3://%s/%s: listing returned the same continuation token twice",
                 l->bucket, l->prefix ? l->prefix : "");
        goto out;
    }
    dl_buf_reset(&l->token);
    if (truncated && (e = dl_buf_append(&l->token, next.data, next.len)))
        goto out;
    l->done = !truncated;
    l->started = true;
out:
    dl_buf_free(&next);
    return e;
}

enum dl_err dl_s3_list_next(struct dl_s3_list *l, struct dl_net *n, struct dl_s3_objects *out,
                            char *errmsg, size_t errlen)
{
    if (errlen)
        errmsg[0] = 0;
    enum dl_err e = DL_OK;
    if (l->done)
        goto out;
    if (!l->req) {
        l->req = dl_http_req_new();
        if (!l->req) {
            e = DL_ERR_NOMEM;
            goto out;
        }
    }
    if ((e = dl_s3_list_prepare(l, l->req))) {
        snprintf(errmsg, errlen, "s3://%s: cannot build the listing request: %s", l->bucket,
                 dl_err_str(e));
        goto out;
    }
    dl_net_do(n, l->req);
    e = dl_s3_list_parse(l, l->req, out, errmsg, errlen);
out:
    return e;
}

enum dl_err dl_s3_list_all(struct dl_net *n, const struct dl_aws_config *cfg, const char *bucket,
                           const char *prefix, int max_keys, size_t max_objects,
                           struct dl_s3_objects *out, char *errmsg, size_t errlen)
{
    if (errlen)
        errmsg[0] = 0;
    enum dl_err e = DL_OK;
    size_t first = out->count;
    struct dl_s3_list *l = dl_s3_list_new(cfg, bucket, prefix, NULL, max_keys);
    if (!l) {
        e = DL_ERR_NOMEM;
        snprintf(errmsg, errlen, "out of memory");
        goto out;
    }
    while (!dl_s3_list_done(l)) {
        if ((e = dl_s3_list_next(l, n, out, errmsg, errlen)))
            goto out;
        if (max_objects && out->count - first > max_objects) {
            e = DL_ERR_TOO_LARGE;
            snprintf(errmsg, errlen, "s3://%s/%s: more than %zu objects", bucket,
                     prefix ? prefix : "", max_objects);
            goto out;
        }
    }
out:
    dl_s3_list_destroy(l);
    return e;
}

/* ------------------------------------------------------------------------------------ */
/* objects                                                                               */

static enum dl_err object_request(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                  const char *bucket, struct dl_cursor key, const char *method)
{
    dl_buf_reset(&r->url);
    enum dl_err e = dl_aws_s3_url(cfg, bucket, key, NULL, &r->url);
    if (e)
        return e;
    r->method = method;
    r->aws = cfg;
    r->service = "s3";
    return DL_OK;
}

enum dl_err dl_s3_get_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                              const char *bucket, struct dl_cursor key)
{
    return object_request(r, cfg, bucket, key, "GET");
}

/* "bucket", "key" as NUL-terminated copies for messages (keys are cursors). */
static void key_str(struct dl_cursor key, char *out, size_t outlen)
{
    size_t n = key.len < outlen - 1 ? key.len : outlen - 1;
    if (n)
        memcpy(out, key.ptr, n);
    out[n] = 0;
}

static enum dl_err finish_sync(struct dl_net *n, struct dl_http_req *r, const char *bucket,
                               struct dl_cursor key, char *errmsg, size_t errlen)
{
    dl_net_do(n, r);
    char k[1100];
    key_str(key, k, sizeof k);
    enum dl_err e = dl_s3_error_message(r, bucket, k, errmsg, errlen);
    if (!e && errlen)
        errmsg[0] = 0;
    return e;
}

enum dl_err dl_s3_get_sync(struct dl_net *n, const struct dl_aws_config *cfg, const char *bucket,
                           struct dl_cursor key, struct dl_buf *out, char *etag, char *errmsg,
                           size_t errlen)
{
    if (errlen)
        errmsg[0] = 0;
    enum dl_err e;
    struct dl_http_req *r = dl_http_req_new();
    if (!r) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    if ((e = dl_s3_get_prepare(r, cfg, bucket, key))) {
        snprintf(errmsg, errlen, "s3://%s: cannot build the request: %s", bucket, dl_err_str(e));
        goto out;
    }
    r->resp.cap = out->cap;
    if ((e = finish_sync(n, r, bucket, key, errmsg, errlen)))
        goto out;
    if (etag)
        snprintf(etag, 128, "%s", r->etag);
    /* hand the body over without copying it */
    size_t cap = out->cap;
    dl_buf_free(out);
    *out = r->resp;
    out->cap = cap;
    dl_buf_init(&r->resp, 0);
out:
    dl_http_req_destroy(r);
    return e;
}

enum dl_err dl_s3_put_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                              const char *bucket, struct dl_cursor key, struct dl_cursor body,
                              const char *content_type)
{
    enum dl_err e = object_request(r, cfg, bucket, key, "PUT");
    if (e)
        return e;
    dl_buf_reset(&r->body);
    if ((e = dl_buf_append_cur(&r->body, body)))
        return e;
    if (content_type)
        e = dl_http_req_add_header(r, "Content-Type", content_type);
    return e;
}

enum dl_err dl_s3_put_sync(struct dl_net *n, const struct dl_aws_config *cfg, const char *bucket,
                           struct dl_cursor key, struct dl_cursor body, const char *content_type,
                           char *etag, char *errmsg, size_t errlen)
{
    if (errlen)
        errmsg[0] = 0;
    enum dl_err e;
    struct dl_http_req *r = dl_http_req_new();
    if (!r) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    r->resp.cap = ERR_RESP_CAP;
    if ((e = dl_s3_put_prepare(r, cfg, bucket, key, body, content_type))) {
        snprintf(errmsg, errlen, "s3://%s: cannot build the request: %s", bucket, dl_err_str(e));
        goto out;
    }
    if ((e = finish_sync(n, r, bucket, key, errmsg, errlen)))
        goto out;
    if (etag)
        snprintf(etag, 128, "%s", r->etag);
out:
    dl_http_req_destroy(r);
    return e;
}

/* ------------------------------------------------------------------------------------ */
/* HEAD, user metadata, multipart upload                                                 */

static enum dl_err object_request_q(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                    const char *bucket, struct dl_cursor key, const char *method,
                                    const char *query)
{
    dl_buf_reset(&r->url);
    enum dl_err e = dl_aws_s3_url(cfg, bucket, key, query, &r->url);
    if (e)
        return e;
    r->method = method;
    r->aws = cfg;
    r->service = "s3";
    r->range_set = false;
    if (r->resp.cap > ERR_RESP_CAP)
        r->resp.cap = ERR_RESP_CAP;
    return DL_OK;
}

/* "partNumber=3&uploadId=<encoded>" (or just "uploadId=..." for part 0) into q. */
static enum dl_err upload_query(struct dl_buf *q, const char *upload_id, int part_number)
{
    enum dl_err e = DL_OK;
    dl_buf_reset(q);
    if (!upload_id || !*upload_id)
        return DL_ERR_INVALID;
    if (part_number)
        e = dl_buf_printf(q, "partNumber=%d&", part_number);
    if (!e)
        e = dl_buf_append_str(q, "uploadId=");
    if (!e)
        e = dl_sigv4_uri_encode(q, dl_cursor_str(upload_id), true);
    return e;
}

/* S3 may send whitespace ahead of a document it is still preparing (CompleteMultipartUpload
 * keeps the connection alive that way); expat wants the document to start at once. */
static struct dl_cursor trim_leading_space(struct dl_cursor c)
{
    while (c.len && (*c.ptr == ' ' || *c.ptr == '\t' || *c.ptr == '\r' || *c.ptr == '\n')) {
        c.ptr++;
        c.len--;
    }
    return c;
}

/* One leaf <root><field>text</field></root>: the root's name, and the field's text. */
struct leaf_ctx {
    const char *field;
    char root[64];
    char *out;
    size_t outlen;
    bool found;
    bool too_long;
};

static void leaf_start(struct walker *w, const char *name)
{
    struct leaf_ctx *c = w->ctx;
    if (w->depth == 1)
        snprintf(c->root, sizeof c->root, "%s", name);
}

static void leaf_end(struct walker *w, const char *name)
{
    struct leaf_ctx *c = w->ctx;
    if (w->depth != 2 || c->found || strcmp(name, c->field) != 0)
        return;
    c->found = true;
    if (w->text.len >= c->outlen)
        c->too_long = true;
    else
        copy_field(c->out, c->outlen, &w->text);
}

static enum dl_err parse_leaf(struct dl_cursor xml, const char *field, struct leaf_ctx *c,
                              char *out, size_t outlen, char *why, size_t whylen)
{
    *c = (struct leaf_ctx){ .field = field, .out = out, .outlen = outlen };
    out[0] = 0;
    struct walker w = { .on_start = leaf_start, .on_end = leaf_end, .ctx = c };
    return walk(&w, trim_leading_space(xml), why, whylen);
}

static bool is_error_doc(struct dl_cursor body)
{
    body = trim_leading_space(body);
    if (!body.len || !memmem(body.ptr, body.len, "<Error>", 7))
        return false;
    char unused[8], why[64];
    struct leaf_ctx c;
    if (parse_leaf(body, "Code", &c, unused, sizeof unused, why, sizeof why) != DL_OK)
        return true; /* an unparsable body that holds <Error> is an error all the same */
    return strcmp(c.root, "Error") == 0;
}

/* The message for a 2xx answer whose body is an <Error> document. */
static enum dl_err embedded_error(const struct dl_http_req *r, const char *bucket,
                                  const char *key, char *errmsg, size_t errlen)
{
    struct s3_error_doc d;
    char b[100], k[400];
    parse_error_doc(trim_leading_space(dl_buf_cur(&r->resp)), &d);
    printable(b, sizeof b, bucket);
    printable(k, sizeof k, key ? key : "");
    const char *rid = d.request_id[0] ? d.request_id : r->request_id;
    char tries[40] = "";
    if (r->attempts > 1)
        snprintf(tries, sizeof tries, " after %d attempts", r->attempts);
    snprintf(errmsg, errlen, "s3://%s/%s: %s: %s (HTTP %ld with an error document%s%s)%s", b, k,
             d.code[0] ? d.code : "Error", d.message[0] ? d.message : "no message", r->status,
             rid[0] ? ", request id " : "", rid, tries);
    return DL_ERR_AWS;
}

/* Common start of every *_parse: the answer must be a 2xx. */
static enum dl_err expect_2xx(const struct dl_http_req *r, const char *bucket, const char *key,
                              char *errmsg, size_t errlen)
{
    if (errlen)
        errmsg[0] = 0;
    enum dl_err e = dl_s3_error_message(r, bucket, key, errmsg, errlen);
    if (!e && errlen)
        errmsg[0] = 0;
    return e;
}

enum dl_err dl_s3_head_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                               const char *bucket, struct dl_cursor key)
{
    return object_request_q(r, cfg, bucket, key, "HEAD", NULL);
}

enum dl_err dl_s3_head_parse(const struct dl_http_req *r, const char *bucket, const char *key,
                             struct dl_s3_head *out, char *errmsg, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (errlen)
        errmsg[0] = 0;
    if (r->result == DL_OK && r->status == 404)
        return DL_OK;
    enum dl_err e = expect_2xx(r, bucket, key, errmsg, errlen);
    if (e)
        return e;
    out->exists = true;
    snprintf(out->etag, sizeof out->etag, "%s", r->etag);
    return DL_OK;
}

enum dl_err dl_s3_head_sync(struct dl_net *n, const struct dl_aws_config *cfg, const char *bucket,
                            struct dl_cursor key, struct dl_s3_head *out, char *errmsg,
                            size_t errlen)
{
    if (errlen)
        errmsg[0] = 0;
    memset(out, 0, sizeof *out);
    enum dl_err e;
    char k[1100];
    key_str(key, k, sizeof k);
    struct dl_http_req *r = dl_http_req_new();
    if (!r) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    if ((e = dl_s3_head_prepare(r, cfg, bucket, key))) {
        snprintf(errmsg, errlen, "s3://%s: cannot build the request: %s", bucket, dl_err_str(e));
        goto out;
    }
    dl_net_do(n, r);
    e = dl_s3_head_parse(r, bucket, k, out, errmsg, errlen);
out:
    dl_http_req_destroy(r);
    return e;
}

enum dl_err dl_s3_add_meta(struct dl_http_req *r, const char *name, const char *value)
{
    char h[128];
    if (!*name || strlen(name) + 11 >= sizeof h)
        return DL_ERR_INVALID;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return DL_ERR_INVALID;
    for (const char *p = value; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return DL_ERR_INVALID;
    snprintf(h, sizeof h, "x-amz-meta-%s", name);
    return dl_http_req_add_header(r, h, value);
}

bool dl_s3_upload_retryable(const struct dl_http_req *r, void *ctx)
{
    static const char *const transient[] = { "InternalError", "ServiceUnavailable", "SlowDown",
                                              "RequestTimeout", NULL };
    if (r->status >= 500 && r->status <= 599)
        return true;
    if (r->status != 400 && r->status != 200)
        return false;
    struct dl_cursor body = dl_buf_cur(&r->resp);
    if (!body.len || !memmem(body.ptr, body.len, "<Error>", 7))
        return false;
    if (r->status == 200 && !is_error_doc(body))
        return false;
    struct s3_error_doc d;
    parse_error_doc(body, &d);
    if (r->status == 400)
        return strcmp(d.code, "RequestTimeout") == 0;
    return code_in(d.code, transient);
}

enum dl_err dl_s3_mpu_create_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                     const char *bucket, struct dl_cursor key,
                                     const char *content_type)
{
    enum dl_err e = object_request_q(r, cfg, bucket, key, "POST", "uploads");
    if (e)
        return e;
    dl_buf_reset(&r->body);
    /* the object's type comes from this request; without one curl would send a form type */
    return dl_http_req_add_header(r, "Content-Type",
                                  content_type ? content_type : "application/octet-stream");
}

enum dl_err dl_s3_mpu_create_parse(const struct dl_http_req *r, const char *bucket,
                                   const char *key, char *upload_id, size_t idlen, char *errmsg,
                                   size_t errlen)
{
    upload_id[0] = 0;
    enum dl_err e = expect_2xx(r, bucket, key, errmsg, errlen);
    if (e)
        return e;
    if (is_error_doc(dl_buf_cur(&r->resp)))
        return embedded_error(r, bucket, key, errmsg, errlen);
    char why[200];
    struct leaf_ctx c;
    e = parse_leaf(dl_buf_cur(&r->resp), "UploadId", &c, upload_id, idlen, why, sizeof why);
    if (!e && (strcmp(c.root, "InitiateMultipartUploadResult") != 0 || !c.found)) {
        e = DL_ERR_PARSE;
        snprintf(why, sizeof why, "no UploadId in the answer");
    } else if (!e && (c.too_long || !upload_id[0])) {
        e = c.too_long ? DL_ERR_TOO_LARGE : DL_ERR_PARSE;
        snprintf(why, sizeof why, c.too_long ? "the UploadId is too long" : "an empty UploadId");
    }
    if (e) {
        upload_id[0] = 0;
        snprintf(errmsg, errlen, "s3://%s/%s: starting a multipart upload: %s", bucket, key, why);
    }
    return e;
}

enum dl_err dl_s3_mpu_part_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                   const char *bucket, struct dl_cursor key,
                                   const char *upload_id, int part_number,
                                   struct dl_cursor body)
{
    if (part_number < 1 || part_number > 10000)
        return DL_ERR_INVALID;
    struct dl_buf q;
    dl_buf_init(&q, 0);
    enum dl_err e = upload_query(&q, upload_id, part_number);
    if (!e)
        e = object_request_q(r, cfg, bucket, key, "PUT", (const char *)q.data);
    dl_buf_free(&q);
    if (e)
        return e;
    dl_buf_reset(&r->body);
    return dl_buf_append_cur(&r->body, body);
}

enum dl_err dl_s3_mpu_part_parse(const struct dl_http_req *r, const char *bucket, const char *key,
                                 char *etag, char *errmsg, size_t errlen)
{
    etag[0] = 0;
    enum dl_err e = expect_2xx(r, bucket, key, errmsg, errlen);
    if (e)
        return e;
    if (!r->etag[0]) {
        snprintf(errmsg, errlen, "s3://%s/%s: a part upload answered without an ETag", bucket,
                 key);
        return DL_ERR_PARSE;
    }
    snprintf(etag, 128, "%s", r->etag);
    return DL_OK;
}

/* XML text: ETags are quoted hex, but escape what XML needs anyway. */
static enum dl_err append_xml_text(struct dl_buf *b, const char *s)
{
    enum dl_err e = DL_OK;
    for (; *s && !e; s++) {
        switch (*s) {
        case '<': e = dl_buf_append_str(b, "&lt;"); break;
        case '>': e = dl_buf_append_str(b, "&gt;"); break;
        case '&': e = dl_buf_append_str(b, "&amp;"); break;
        default: e = dl_buf_append_byte(b, (uint8_t)*s); break;
        }
    }
    return e;
}

enum dl_err dl_s3_mpu_complete_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                       const char *bucket, struct dl_cursor key,
                                       const char *upload_id, const struct dl_s3_part *parts,
                                       size_t nparts)
{
    if (nparts == 0 || nparts > 10000)
        return DL_ERR_INVALID;
    struct dl_buf q;
    dl_buf_init(&q, 0);
    enum dl_err e = upload_query(&q, upload_id, 0);
    if (!e)
        e = object_request_q(r, cfg, bucket, key, "POST", (const char *)q.data);
    dl_buf_free(&q);
    if (e)
        return e;
    struct dl_buf *b = &r->body;
    dl_buf_reset(b);
    e = dl_buf_append_str(b, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                             "2006-03-01/\">");
    for (size_t i = 0; i < nparts && !e; i++) {
        e = dl_buf_printf(b, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number);
        if (!e)
            e = append_xml_text(b, parts[i].etag);
        if (!e)
            e = dl_buf_append_str(b, "</ETag></Part>");
    }
    if (!e)
        e = dl_buf_append_str(b, "</CompleteMultipartUpload>");
    if (!e)
        e = dl_http_req_add_header(r, "Content-Type", "application/xml");
    return e;
}

enum dl_err dl_s3_mpu_complete_parse(const struct dl_http_req *r, const char *bucket,
                                     const char *key, char *etag, char *errmsg, size_t errlen)
{
    char got[128];
    if (etag)
        etag[0] = 0;
    enum dl_err e = expect_2xx(r, bucket, key, errmsg, errlen);
    if (e)
        return e;
    if (is_error_doc(dl_buf_cur(&r->resp)))
        return embedded_error(r, bucket, key, errmsg, errlen);
    char why[200];
    struct leaf_ctx c;
    e = parse_leaf(dl_buf_cur(&r->resp), "ETag", &c, got, sizeof got, why, sizeof why);
    if (!e && strcmp(c.root, "CompleteMultipartUploadResult") != 0) {
        e = DL_ERR_PARSE;
        snprintf(why, sizeof why, "the answer is not a CompleteMultipartUploadResult");
    }
    if (e) {
        snprintf(errmsg, errlen, "s3://%s/%s: completing a multipart upload: %s", bucket, key,
                 why);
        return e;
    }
    if (etag)
        snprintf(etag, 128, "%s", c.too_long ? "" : got);
    return DL_OK;
}

enum dl_err dl_s3_mpu_abort_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                    const char *bucket, struct dl_cursor key,
                                    const char *upload_id)
{
    struct dl_buf q;
    dl_buf_init(&q, 0);
    enum dl_err e = upload_query(&q, upload_id, 0);
    if (!e)
        e = object_request_q(r, cfg, bucket, key, "DELETE", (const char *)q.data);
    dl_buf_free(&q);
    if (!e)
        dl_buf_reset(&r->body);
    return e;
}

enum dl_err dl_s3_mpu_abort_parse(const struct dl_http_req *r, const char *bucket,
                                  const char *key, char *errmsg, size_t errlen)
{
    enum dl_err e = expect_2xx(r, bucket, key, errmsg, errlen);
    if (e == DL_ERR_NOT_FOUND) {
        struct s3_error_doc d;
        parse_error_doc(dl_buf_cur(&r->resp), &d);
        if (strcmp(d.code, "NoSuchUpload") == 0) {
            if (errlen)
                errmsg[0] = 0;
            e = DL_OK; /* already aborted or completed: nothing left to free */
        }
    }
    return e;
}

enum dl_err dl_s3_create_bucket(struct dl_net *n, const struct dl_aws_config *cfg,
                                const char *bucket, char *errmsg, size_t errlen)
{
    if (errlen)
        errmsg[0] = 0;
    enum dl_err e;
    struct dl_http_req *r = dl_http_req_new();
    if (!r) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    r->resp.cap = ERR_RESP_CAP;
    if ((e = object_request(r, cfg, bucket, dl_cursor_of(NULL, 0), "PUT")))
        goto out;
    /* outside us-east-1, S3 wants the region in the body */
    if (cfg->region && strcmp(cfg->region, "us-east-1") != 0 &&
        (e = dl_buf_printf(&r->body,
                           "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                           "2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
                           "</CreateBucketConfiguration>",
                           cfg->region)))
        goto out;
    dl_net_do(n, r);
    e = dl_s3_error_message(r, bucket, NULL, errmsg, errlen);
    if (e) {
        struct s3_error_doc d;
        parse_error_doc(dl_buf_cur(&r->resp), &d);
        if (strcmp(d.code, "BucketAlreadyOwnedByYou") == 0)
            e = DL_OK;
    }
    if (!e && errlen)
        errmsg[0] = 0;
out:
    if (e && e != DL_ERR_NOT_FOUND && errlen && !errmsg[0])
        snprintf(errmsg, errlen, "s3://%s: cannot create the bucket: %s", bucket, dl_err_str(e));
    dl_http_req_destroy(r);
    return e;
}
