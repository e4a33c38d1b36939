#include "aws/config.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/sigv4.h"

#define DEFAULT_REGION "us-east-1"
#define INI_CAP ((size_t)1 << 20)

struct env {
    dl_getenv_fn fn;
    void *ctx;
};

static const char *real_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

/* Empty variables count as unset, as in the SDKs. */
static const char *env_get(const struct env *env, const char *name)
{
    const char *v = env->fn(name, env->ctx);
    return v && *v ? v : NULL;
}

static void set_msg(char *errmsg, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_msg(char *errmsg, size_t errlen, const char *fmt, ...)
{
    if (!errmsg || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_cur(struct dl_cursor c)
{
    char *s = malloc(c.len + 1);
    if (s) {
        if (c.len)
            memcpy(s, c.ptr, c.len);
        s[c.len] = 0;
    }
    return s;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void dl_aws_config_free(struct dl_aws_config *cfg)
{
    free(cfg->access_key_id);
    free_secret(cfg->secret_access_key);
    free_secret(cfg->session_token);
    free(cfg->region);
    free(cfg->endpoint_s3);
    free(cfg->endpoint_dynamodb);
    free(cfg->credential_source);
    free(cfg->profile);
    memset(cfg, 0, sizeof *cfg);
}

/* ------------------------------------------------------------------ INI files
 * The SDKs' shared-file dialect: "[section]" headers, "key = value" lines, whitespace around
 * names and values ignored, full-line comments with '#' or ';', and a '#' or ';' that follows
 * whitespace starts a comment too. An indented line right after "key =" with an empty value is
 * a sub-property (e.g. "s3 =\n  addressing_style = path") and is not a key of the section.
 * Keys are matched exactly as written. */

struct ini_file {
    const char *path;  /* NULL when it could not be located (no HOME) */
    bool present;
    struct dl_buf text;
};

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static struct dl_cursor trim(struct dl_cursor c)
{
    while (c.len && is_ws(c.ptr[0])) {
        c.ptr++;
        c.len--;
    }
    while (c.len && is_ws(c.ptr[c.len - 1]))
        c.len--;
    return c;
}

/* Strip a comment introduced by whitespace + '#' or ';'. */
static struct dl_cursor strip_inline_comment(struct dl_cursor v)
{
    for (size_t i = 1; i < v.len; i++)
        if ((v.ptr[i] == '#' || v.ptr[i] == ';') && is_ws(v.ptr[i - 1]))
            return trim(dl_cursor_of(v.ptr, i));
    return v;
}

/* Does the header text (between '[' and ']', trimmed) name the profile? The credentials file
 * uses [name]; the config file uses [profile name], and [default] for the default profile. */
static bool section_matches(struct dl_cursor sec, const char *profile, bool config_file)
{
    if (!config_file)
        return dl_cursor_eq_str(sec, profile);
    if (strcmp(profile, "default") == 0 && dl_cursor_eq_str(sec, "default"))
        return true;
    if (sec.len > 7 && memcmp(sec.ptr, "profile", 7) == 0 && is_ws(sec.ptr[7]))
        return dl_cursor_eq_str(trim(dl_cursor_of(sec.ptr + 7, sec.len - 7)), profile);
    return false;
}

/* Scan the file. Returns whether a section for profile exists; if key is non-NULL and found in
 * such a section, *val is its value (the last one wins when repeated). */
static bool ini_lookup(const struct ini_file *f, const char *profile, bool config_file,
                       const char *key, struct dl_cursor *val, bool *found)
{
    bool section_seen = false, in_section = false, last_key_empty = false;
    if (found)
        *found = false;
    if (!f->present || !f->text.data)
        return false;
    const uint8_t *p = f->text.data, *end = p + f->text.len;
    if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        p += 3; /* UTF-8 BOM */
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = nl ? nl : end;
        bool indented = p < le && is_ws(*p);
        struct dl_cursor line = trim(dl_cursor_of(p, (size_t)(le - p)));
        p = nl ? nl + 1 : end;
        if (line.len == 0 || line.ptr[0] == '#' || line.ptr[0] == ';')
            continue;
        if (line.ptr[0] == '[') {
            const uint8_t *close = memchr(line.ptr, ']', line.len);
            if (!close) {
                in_section = false;
                continue;
            }
            struct dl_cursor sec = trim(dl_cursor_of(line.ptr + 1, (size_t)(close - line.ptr - 1)));
            in_section = section_matches(sec, profile, config_file);
            section_seen |= in_section;
            last_key_empty = false;
            continue;
        }
        if (indented && last_key_empty)
            continue; /* sub-property of the previous key */
        const uint8_t *eq = memchr(line.ptr, '=', line.len);
        if (!eq)
            continue;
        struct dl_cursor k = trim(dl_cursor_of(line.ptr, (size_t)(eq - line.ptr)));
        struct dl_cursor v = dl_cursor_of(eq + 1, (size_t)(line.ptr + line.len - eq - 1));
        v = strip_inline_comment(trim(v));
        last_key_empty = v.len == 0;
        if (in_section && key && dl_cursor_eq_str(k, key)) {
            *val = v;
            *found = true;
        }
    }
    return section_seen;
}

static bool ini_get(const struct ini_file *f, const char *profile, bool config_file,
                    const char *key, struct dl_cursor *val)
{
    bool found = false;
    ini_lookup(f, profile, config_file, key, val, &found);
    return found && val->len > 0;
}

/* Locate and read a shared file: the variable's path (with "~/" expanded) or ~/.aws/<name>. */
static enum dl_err ini_open(struct ini_file *f, const struct env *env, const char *var,
                            const char *name, struct dl_buf *pathbuf, char *errmsg, size_t errlen)
{
    const char *home = env_get(env, "HOME");
    const char *set = env_get(env, var);
    enum dl_err e = DL_OK;
    dl_buf_init(&f->text, INI_CAP);
    f->present = false;
    f->path = NULL;
    dl_buf_reset(pathbuf);
    if (set && set[0] == '~' && set[1] == '/' && home)
        e = dl_buf_printf(pathbuf, "%s%s", home, set + 1);
    else if (set)
        e = dl_buf_append_str(pathbuf, set);
    else if (home)
        e = dl_buf_printf(pathbuf, "%s/.aws/%s", home, name);
    else
        return DL_OK; /* nowhere to look */
    if (e)
        return e;
    f->path = (const char *)pathbuf->data;
    e = dl_buf_read_file(&f->text, f->path);
    if (e == DL_ERR_NOT_FOUND)
        return DL_OK;
    if (e == DL_ERR_TOO_LARGE)
        set_msg(errmsg, errlen, "%s is larger than 1 MiB", f->path);
    else if (e)
        set_msg(errmsg, errlen, "cannot read %s", f->path);
    else
        f->present = true;
    return e;
}

/* ------------------------------------------------------------------ validation */

/* Accepts http(s)://host[:port][/path] without query, fragment or user info; returns a copy
 * without trailing slashes in *out. */
static enum dl_err endpoint_normalize(const char *url, const char *source, char **out,
                                      char *errmsg, size_t errlen)
{
    struct dl_url_parts parts;
    enum dl_err e = dl_url_split(url, &parts);
    if (e || strpbrk(url, "?# \t\r\n")) {
        set_msg(errmsg, errlen,
                "invalid endpoint URL '%s' (from %s): expected http://host[:port] or "
                "https://host[:port]",
                url, source);
        return DL_ERR_INVALID;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    *out = dup_cur(dl_cursor_of(url, n));
    return *out ? DL_OK : DL_ERR_NOMEM;
}

static bool valid_region(const char *r)
{
    if (!*r || strlen(r) > 64)
        return false;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
            return false;
    return true;
}

/* ------------------------------------------------------------------ loading */

static enum dl_err set_str(char **dst, struct dl_cursor v)
{
    *dst = dup_cur(v);
    return *dst ? DL_OK : DL_ERR_NOMEM;
}

static const char *shown(const struct ini_file *f, const char *fallback)
{
    return f->path ? f->path : fallback;
}

/* Static keys of a profile: the credentials file's [name] first, then the config file. */
static enum dl_err creds_from_profile(struct dl_aws_config *out, const char *profile,
                                      const struct ini_file *cred, const struct ini_file *conf,
                                      char *errmsg, size_t errlen)
{
    const struct ini_file *files[2] = { cred, conf };
    for (int i = 0; i < 2; i++) {
        struct dl_cursor ak, sk, tok;
        bool is_conf = i == 1;
        bool has_ak = ini_get(files[i], profile, is_conf, "aws_access_key_id", &ak);
        bool has_sk = ini_get(files[i], profile, is_conf, "aws_secret_access_key", &sk);
        if (!has_ak && !has_sk)
            continue;
        if (!has_ak || !has_sk) {
            set_msg(errmsg, errlen, "profile '%s' in %s has %s but no %s", profile,
                    files[i]->path, has_ak ? "aws_access_key_id" : "aws_secret_access_key",
                    has_ak ? "aws_secret_access_key" : "aws_access_key_id");
            return DL_ERR_CREDENTIALS;
        }
        bool has_tok = ini_get(files[i], profile, is_conf, "aws_session_token", &tok) ||
                       ini_get(files[i], profile, is_conf, "aws_security_token", &tok);
        enum dl_err e;
        if ((e = set_str(&out->access_key_id, ak)) || (e = set_str(&out->secret_access_key, sk)) ||
            (has_tok && (e = set_str(&out->session_token, tok))))
            return e;
        if (asprintf(&out->credential_source, "profile '%s' in %s", profile,
                     files[i]->path) < 0) {
            out->credential_source = NULL;
            return DL_ERR_NOMEM;
        }
        return DL_OK;
    }
    set_msg(errmsg, errlen,
            "profile '%s' has no aws_access_key_id/aws_secret_access_key in %s or %s "
            "(only static keys are supported: not role_arn, sso_*, credential_process)",
            profile, shown(cred, "~/.aws/credentials"), shown(conf, "~/.aws/config"));
    return DL_ERR_CREDENTIALS;
}

enum dl_err dl_aws_config_load(struct dl_aws_config *out, const struct dl_aws_opts *opts,
                               dl_getenv_fn getenv_fn, void *env_ctx, char *errmsg,
                               size_t errlen)
{
    static const struct dl_aws_opts no_opts = { NULL, NULL, NULL };
    struct env env = { getenv_fn ? getenv_fn : real_getenv, env_ctx };
    struct ini_file cred, conf;
    struct dl_buf cred_path, conf_path;
    enum dl_err e = DL_OK;
    memset(out, 0, sizeof *out);
    dl_buf_init(&cred_path, 0);
    dl_buf_init(&conf_path, 0);
    dl_buf_init(&cred.text, INI_CAP);
    dl_buf_init(&conf.text, INI_CAP);
    set_msg(errmsg, errlen, "%s", "");
    if (!opts)
        opts = &no_opts;

    if ((e = ini_open(&cred, &env, "AWS_SHARED_CREDENTIALS_FILE", "credentials", &cred_path,
                      errmsg, errlen)) ||
        (e = ini_open(&conf, &env, "AWS_CONFIG_FILE", "config", &conf_path, errmsg, errlen)))
        goto out;

    const char *flag_profile = opts->profile && *opts->profile ? opts->profile : NULL;
    const char *env_profile = env_get(&env, "AWS_PROFILE");
    const char *profile = flag_profile ? flag_profile : env_profile ? env_profile : "default";
    const char *profile_from = flag_profile ? "--profile" : "AWS_PROFILE";
    bool profile_exists = ini_lookup(&cred, profile, false, NULL, NULL, NULL) ||
                          ini_lookup(&conf, profile, true, NULL, NULL, NULL);
    if ((e = set_str(&out->profile, dl_cursor_str(profile))))
        goto out;

    /* ---- credentials ---- */
    const char *env_ak = env_get(&env, "AWS_ACCESS_KEY_ID");
    const char *env_sk = env_get(&env, "AWS_SECRET_ACCESS_KEY");
    if (!flag_profile && (env_ak || env_sk)) {
        if (!env_ak || !env_sk) {
            set_msg(errmsg, errlen, "%s is set but %s is not; set both (or neither)",
                    env_ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                    env_ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
            e = DL_ERR_CREDENTIALS;
            goto out;
        }
        const char *tok = env_get(&env, "AWS_SESSION_TOKEN");
        if ((e = set_str(&out->access_key_id, dl_cursor_str(env_ak))) ||
            (e = set_str(&out->secret_access_key, dl_cursor_str(env_sk))) ||
            (tok && (e = set_str(&out->session_token, dl_cursor_str(tok)))) ||
            (e = set_str(&out->credential_source, dl_cursor_str("environment variables"))))
            goto out;
    } else if (profile_exists) {
        if ((e = creds_from_profile(out, profile, &cred, &conf, errmsg, errlen)))
            goto out;
    } else if (flag_profile || env_profile) {
        set_msg(errmsg, errlen,
                "profile '%s' (from %s) not found: looked for [%s] in %s%s and [profile %s] "
                "in %s%s",
                profile, profile_from, profile, shown(&cred, "~/.aws/credentials"),
                cred.present ? "" : " (missing)", profile, shown(&conf, "~/.aws/config"),
                conf.present ? "" : " (missing)");
        e = DL_ERR_NOT_FOUND;
        goto out;
    } else {
        set_msg(errmsg, errlen,
                "no AWS credentials found: tried the environment variables AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY, and profile 'default' in %s%s and %s%s; set those "
                "variables, run 'aws configure', or pass --profile NAME",
                shown(&cred, "~/.aws/credentials (HOME not set)"),
                cred.present || !cred.path ? "" : " (missing)",
                shown(&conf, "~/.aws/config (HOME not set)"),
                conf.present || !conf.path ? "" : " (missing)");
        e = DL_ERR_CREDENTIALS;
        goto out;
    }

    /* ---- region ---- */
    const char *region = NULL, *region_from = NULL;
    struct dl_cursor conf_region;
    if (opts->region && *opts->region) {
        region = opts->region;
        region_from = "--region";
    } else if ((region = env_get(&env, "AWS_REGION"))) {
        region_from = "AWS_REGION";
    } else if ((region = env_get(&env, "AWS_DEFAULT_REGION"))) {
        region_from = "AWS_DEFAULT_REGION";
    }
    if (region)
        e = set_str(&out->region, dl_cursor_str(region));
    else if (ini_get(&conf, profile, true, "region", &conf_region)) {
        region_from = conf.path;
        e = set_str(&out->region, conf_region);
    } else
        e = set_str(&out->region, dl_cursor_str(DEFAULT_REGION));
    if (e)
        goto out;
    if (!valid_region(out->region)) {
        set_msg(errmsg, errlen, "invalid region '%s' (from %s)", out->region,
                region_from ? region_from : "default");
        e = DL_ERR_INVALID;
        goto out;
    }

    /* ---- endpoints ---- */
    static const char *const svc_var[2] = { "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB" };
    char **svc_dst[2] = { &out->endpoint_s3, &out->endpoint_dynamodb };
    for (int i = 0; i < 2; i++) {
        const char *url = NULL, *from = NULL;
        if (opts->endpoint_url && *opts->endpoint_url) {
            url = opts->endpoint_url;
            from = "--endpoint-url";
        } else if ((url = env_get(&env, svc_var[i]))) {
            from = svc_var[i];
        } else if ((url = env_get(&env, "AWS_ENDPOINT_URL"))) {
            from = "AWS_ENDPOINT_URL";
        }
        if (url && (e = endpoint_normalize(url, from, svc_dst[i], errmsg, errlen)))
            goto out;
    }
    out->s3_path_style = out->endpoint_s3 != NULL;

out:
    if (cred.text.data)
        OPENSSL_cleanse(cred.text.data, cred.text.alloc);
    if (conf.text.data)
        OPENSSL_cleanse(conf.text.data, conf.text.alloc);
    dl_buf_free(&cred.text);
    dl_buf_free(&conf.text);
    dl_buf_free(&cred_path);
    dl_buf_free(&conf_path);
    if (e) {
        if (e == DL_ERR_NOMEM)
            set_msg(errmsg, errlen, "out of memory while loading AWS settings");
        dl_aws_config_free(out);
    }
    return e;
}

/* ------------------------------------------------------------------ URLs */

static const char *aws_domain(const char *region)
{
    return strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
}

enum dl_err dl_aws_dynamodb_url(const struct dl_aws_config *cfg, struct dl_buf *out)
{
    dl_buf_reset(out);
    if (cfg->endpoint_dynamodb)
        return dl_buf_printf(out, "%s/", cfg->endpoint_dynamodb);
    return dl_buf_printf(out, "https://dynamodb.%s.%s/", cfg->region, aws_domain(cfg->region));
}

/* A bucket can be a host name label only if it is lowercase letters, digits and '-'
 * (a '.' would break the TLS wildcard certificate). */
static bool dns_label_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-'))
            return false;
    return true;
}

enum dl_err dl_aws_s3_url(const struct dl_aws_config *cfg, const char *bucket,
                          struct dl_cursor key, const char *query, struct dl_buf *out)
{
    enum dl_err e;
    dl_buf_reset(out);
    if (!bucket || !*bucket)
        return DL_ERR_INVALID;
    if (cfg->endpoint_s3 || cfg->s3_path_style || !dns_label_bucket(bucket)) {
        if (cfg->endpoint_s3)
            e = dl_buf_printf(out, "%s/", cfg->endpoint_s3);
        else
            e = dl_buf_printf(out, "https://s3.%s.%s/", cfg->region, aws_domain(cfg->region));
        if (!e)
            e = dl_sigv4_uri_encode(out, dl_cursor_str(bucket), true);
        if (!e && key.len)
            e = dl_buf_append_byte(out, '/');
    } else {
        e = dl_buf_printf(out, "https://%s.s3.%s.%s/", bucket, cfg->region,
                          aws_domain(cfg->region));
    }
    if (!e && key.len)
        e = dl_sigv4_uri_encode(out, key, false);
    if (!e && query && *query)
        e = dl_buf_printf(out, "?%s", query);
    return e;
}

enum dl_err dl_url_split(const char *url, struct dl_url_parts *out)
{
    memset(out, 0, sizeof *out);
    if (!url)
        return DL_ERR_INVALID;
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        out->https = true;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        return DL_ERR_INVALID;
    }
    size_t alen = strcspn(p, "/?#");
    struct dl_cursor auth = dl_cursor_of(p, alen);
    if (alen == 0 || memchr(p, '@', alen))
        return DL_ERR_INVALID;
    /* the port starts at the last ':' that is not inside an IPv6 literal */
    const char *colon = NULL;
    for (size_t i = 0; i < alen; i++) {
        if (p[i] == ':')
            colon = p + i;
        else if (p[i] == ']')
            colon = NULL;
    }
    if (colon) {
        struct dl_cursor port = dl_cursor_of(colon + 1, (size_t)(p + alen - colon - 1));
        for (size_t i = 0; i < port.len; i++)
            if (port.ptr[i] < '0' || port.ptr[i] > '9')
                return DL_ERR_INVALID;
        if (colon == p)
            return DL_ERR_INVALID;
        /* curl leaves the scheme's default port out of the Host header */
        if (port.len == 0 || dl_cursor_eq_str(port, out->https ? "443" : "80"))
            auth.len = (size_t)(colon - p);
    }
    if (auth.len >= sizeof out->host)
        return DL_ERR_TOO_LARGE;
    memcpy(out->host, auth.ptr, auth.len);
    out->host[auth.len] = 0;

    const char *rest = p + alen;
    size_t plen = strcspn(rest, "?#");
    out->path = plen ? dl_cursor_of(rest, plen) : dl_cursor_str("/");
    rest += plen;
    if (*rest == '?') {
        rest++;
        out->query = dl_cursor_of(rest, strcspn(rest, "#"));
    } else {
        out->query = dl_cursor_of(rest, 0);
    }
    return DL_OK;
}
