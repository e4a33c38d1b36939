/* AWS settings resolution (credentials, region, endpoints) with a fake environment and
 * credential/config files written to a temporary directory, plus the URL helpers. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/config.h"
#include "core/buf.h"
#include "test.h"

static char tmpdir[64];
static char home_a[128];    /* a HOME with ~/.aws/credentials and ~/.aws/config */
static char home_none[128]; /* a HOME with no ~/.aws at all */
static char cred_a[256], conf_a[256];

/* ------------------------------------------------------------------ fake environment */

struct fake_env {
    const char *name[16];
    const char *value[16];
    int n;
};

static const char *fake_getenv(const char *name, void *ctx)
{
    struct fake_env *env = ctx;
    for (int i = 0; i < env->n; i++)
        if (strcmp(env->name[i], name) == 0)
            return env->value[i];
    return NULL;
}

static void env_set(struct fake_env *env, const char *name, const char *value)
{
    env->name[env->n] = name;
    env->value[env->n] = value;
    env->n++;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char credentials_text[] =
    "# shared credentials used by the tests\n"
    "[default]\n"
    "aws_access_key_id = AKIDDEFAULT\n"
    "aws_secret_access_key = SECRETDEFAULT\n"
    "\n"
    "  [ dev ]   \n"
    "\taws_access_key_id=AKIDDEV   \n"
    "aws_secret_access_key   =   SECRETDEV ; inline comment\n"
    "; aws_session_token = COMMENTED\n"
    "aws_session_token = TOKENDEV/+==\n"
    "\n"
    "[profile dev]\n" /* not a profile name in the credentials file: [profile dev] is literal */
    "aws_access_key_id = WRONG\n"
    "aws_secret_access_key = WRONG\n"
    "[partial]\n"
    "aws_access_key_id = AKIDPARTIAL\n"
    "[Case]\n"
    "AWS_ACCESS_KEY_ID = AKIDUPPER\n"
    "AWS_SECRET_ACCESS_KEY = SECRETUPPER\n"
    "[crlf]\r\n"
    "aws_access_key_id = AKIDCRLF\r\n"
    "aws_secret_access_key = SECRETCRLF\r\n";

static const char config_text[] =
    "[default]\n"
    "region = eu-west-1\n"
    "output = json\n"
    "[profile dev]\n"
    "region = ap-southeast-2   # Sydney\n"
    "s3 =\n"
    "    region = should-not-be-read\n"
    "[profile cfgonly]\n"
    "aws_access_key_id = AKIDCFG\n"
    "aws_secret_access_key = SECRETCFG\n"
    "aws_session_token = TOKENCFG\n"
    "region = us-west-2\n"
    "[bare]\n" /* the config file needs [profile bare]: this section is not the profile */
    "aws_access_key_id = AKIDBARE\n"
    "aws_secret_access_key = SECRETBARE\n"
    "[profile rolesonly]\n"
    "role_arn = arn:aws:iam::123456789012:role/x\n"
    "source_profile = default\n"
    "[profile badregion]\n"
    "aws_access_key_id = AKIDBR\n"
    "aws_secret_access_key = SECRETBR\n"
    "region = Not A Region\n";

static void setup(void)
{
    char path[256];
    strcpy(tmpdir, "/tmp/dl_awscfg_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(home_a, sizeof home_a, "%s/home_a", tmpdir);
    snprintf(home_none, sizeof home_none, "%s/home_none", tmpdir);
    mkdir(home_a, 0700);
    mkdir(home_none, 0700);
    snprintf(path, sizeof path, "%s/.aws", home_a);
    mkdir(path, 0700);
    snprintf(cred_a, sizeof cred_a, "%s/.aws/credentials", home_a);
    snprintf(conf_a, sizeof conf_a, "%s/.aws/config", home_a);
    write_file(cred_a, credentials_text);
    write_file(conf_a, config_text);
}

static void teardown(void)
{
    char path[512];
    const char *files[] = { "home_a/.aws/credentials", "home_a/.aws/config", "alt_credentials",
                            "alt_config", "big_credentials", "home_a/.aws", "home_a",
                            "home_none" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(tmpdir);
}

/* Load with the fake environment; returns the code, message in msg. */
static enum dl_err load(struct dl_aws_config *cfg, const struct dl_aws_opts *opts,
                        struct fake_env *env, char *msg, size_t msglen)
{
    return dl_aws_config_load(cfg, opts, fake_getenv, env, msg, msglen);
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* ------------------------------------------------------------------ credentials */

static void test_env_credentials_win_over_files(void)
{
    struct fake_env env = { .n = 0 };
    struct dl_aws_config cfg;
    char msg[512];
    env_set(&env, "HOME", home_a);
    env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    env_set(&env, "AWS_SECRET_ACCESS_KEY", "SECRETENV");
    env_set(&env, "AWS_SESSION_TOKEN", "TOKENENV");
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.access_key_id, "AKIDENV");
    CHECK_STR(cfg.secret_access_key, "SECRETENV");
    CHECK_STR(cfg.session_token, "TOKENENV");
    CHECK_STR(cfg.credential_source, "environment variables");
    CHECK_STR(cfg.profile, "default");
    CHECK_STR(cfg.region, "eu-west-1"); /* [default] region of the config file */
    CHECK(cfg.endpoint_s3 == NULL && cfg.endpoint_dynamodb == NULL && !cfg.s3_path_style);
    dl_aws_config_free(&cfg);
    CHECK(cfg.access_key_id == NULL && cfg.secret_access_key == NULL);

    /* AWS_PROFILE picks the profile for the region, but the env keys still win */
    env_set(&env, "AWS_PROFILE", "dev");
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.access_key_id, "AKIDENV");
    CHECK_STR(cfg.profile, "dev");
    CHECK_STR(cfg.region, "ap-southeast-2");
    dl_aws_config_free(&cfg);

    /* an explicit --profile beats the env keys */
    struct dl_aws_opts opts = { .profile = "cfgonly" };
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.access_key_id, "AKIDCFG");
    CHECK_STR(cfg.secret_access_key, "SECRETCFG");
    CHECK_STR(cfg.session_token, "TOKENCFG");
    CHECK_STR(cfg.profile, "cfgonly");
    CHECK_STR(cfg.region, "us-west-2");
    char expect[512];
    snprintf(expect, sizeof expect, "profile 'cfgonly' in %s", conf_a);
    CHECK_STR(cfg.credential_source, expect);
    dl_aws_config_free(&cfg);
}

static void test_profiles(void)
{
    struct fake_env env = { .n = 0 };
    struct dl_aws_config cfg;
    char msg[512], expect[512];
    env_set(&env, "HOME", home_a);

    /* no env keys, no AWS_PROFILE: [default] of the credentials file */
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.access_key_id, "AKIDDEFAULT");
    CHECK_STR(cfg.secret_access_key, "SECRETDEFAULT");
    CHECK(cfg.session_token == NULL);
    snprintf(expect, sizeof expect, "profile 'default' in %s", cred_a);
    CHECK_STR(cfg.credential_source, expect);
    dl_aws_config_free(&cfg);

    /* AWS_PROFILE: whitespace around the section name and around '=' , inline and full-line
     * comments, session token; the credentials file's [profile dev] is another profile */
    env_set(&env, "AWS_PROFILE", "dev");
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.access_key_id, "AKIDDEV");
    CHECK_STR(cfg.secret_access_key, "SECRETDEV");
    CHECK_STR(cfg.session_token, "TOKENDEV/+==");
    CHECK_STR(cfg.region, "ap-southeast-2"); /* "# Sydney" stripped; s3 sub-property ignored */
    snprintf(expect, sizeof expect, "profile 'dev' in %s", cred_a);
    CHECK_STR(cfg.credential_source, expect);
    dl_aws_config_free(&cfg);

    /* --profile beats AWS_PROFILE */
    struct dl_aws_opts opts = { .profile = "default" };
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.access_key_id, "AKIDDEFAULT");
    CHECK_STR(cfg.profile, "default");
    dl_aws_config_free(&cfg);

    /* CRLF line endings */
    opts.profile = "crlf";
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.access_key_id, "AKIDCRLF");
    CHECK_STR(cfg.secret_access_key, "SECRETCRLF");
    dl_aws_config_free(&cfg);

    /* keys are matched as written (lowercase, as the SDKs write them) */
    opts.profile = "Case";
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_ERR_CREDENTIALS);
    CHECK(!contains(msg, "SECRETUPPER"));

    /* a profile with only one of the two keys */
    opts.profile = "partial";
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_ERR_CREDENTIALS);
    CHECK(contains(msg, "partial") && contains(msg, "aws_secret_access_key"));

    /* a role-only profile is reported, not silently skipped */
    opts.profile = "rolesonly";
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_ERR_CREDENTIALS);
    CHECK(contains(msg, "'rolesonly'") && contains(msg, "static keys"));
    CHECK(cfg.access_key_id == NULL && cfg.region == NULL);

    /* [bare] in the config file is not profile "bare" (it must be [profile bare]) */
    opts.profile = "bare";
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_ERR_NOT_FOUND);
}

static void test_missing_profile(void)
{
    struct fake_env env = { .n = 0 };
    struct dl_aws_config cfg;
    char msg[512];
    env_set(&env, "HOME", home_a);
    env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    env_set(&env, "AWS_SECRET_ACCESS_KEY", "SECRETENV");

    struct dl_aws_opts opts = { .profile = "nope" };
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_ERR_NOT_FOUND);
    CHECK(contains(msg, "profile 'nope'"));
    CHECK(contains(msg, "--profile"));
    CHECK(contains(msg, cred_a));
    CHECK(contains(msg, conf_a));
    CHECK(contains(msg, "[profile nope]"));
    CHECK(!contains(msg, "SECRET"));
    CHECK(cfg.access_key_id == NULL && cfg.profile == NULL);

    /* named by AWS_PROFILE, without env keys */
    struct fake_env env2 = { .n = 0 };
    env_set(&env2, "HOME", home_none);
    env_set(&env2, "AWS_PROFILE", "ghost");
    CHECK_INT(load(&cfg, NULL, &env2, msg, sizeof msg), DL_ERR_NOT_FOUND);
    CHECK(contains(msg, "profile 'ghost' (from AWS_PROFILE)"));
    CHECK(contains(msg, home_none));
    CHECK(contains(msg, "(missing)"));
}

static void test_no_credentials(void)
{
    struct fake_env env = { .n = 0 };
    struct dl_aws_config cfg;
    char msg[512];
    char alt[512];
    /* files exist, but hold no [default]: only another profile with a secret */
    snprintf(alt, sizeof alt, "%s/alt_credentials", tmpdir);
    write_file(alt, "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = "
                    "SUPERSECRET123\naws_session_token = SUPERTOKEN456\n");
    env_set(&env, "HOME", home_none);
    env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", alt);
    env_set(&env, "AWS_SESSION_TOKEN", "ENVTOKEN789"); /* a token alone is not credentials */
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_ERR_CREDENTIALS);
    CHECK(contains(msg, "AWS_ACCESS_KEY_ID"));
    CHECK(contains(msg, "AWS_SECRET_ACCESS_KEY"));
    CHECK(contains(msg, "profile 'default'"));
    CHECK(contains(msg, alt));
    CHECK(contains(msg, "aws configure"));
    CHECK(contains(msg, "--profile"));
    CHECK(!contains(msg, "SUPERSECRET123"));
    CHECK(!contains(msg, "SUPERTOKEN456"));
    CHECK(!contains(msg, "ENVTOKEN789"));
    CHECK(!contains(msg, "AKIDOTHER"));

    /* only one env key: an error naming the missing one, never the value */
    struct fake_env env2 = { .n = 0 };
    env_set(&env2, "HOME", home_a);
    env_set(&env2, "AWS_SECRET_ACCESS_KEY", "LONESECRET");
    CHECK_INT(load(&cfg, NULL, &env2, msg, sizeof msg), DL_ERR_CREDENTIALS);
    CHECK(contains(msg, "AWS_ACCESS_KEY_ID"));
    CHECK(!contains(msg, "LONESECRET"));

    /* empty variables count as unset: falls through to the [default] profile */
    struct fake_env env3 = { .n = 0 };
    env_set(&env3, "HOME", home_a);
    env_set(&env3, "AWS_ACCESS_KEY_ID", "");
    env_set(&env3, "AWS_SECRET_ACCESS_KEY", "");
    env_set(&env3, "AWS_PROFILE", "");
    CHECK_INT(load(&cfg, NULL, &env3, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.access_key_id, "AKIDDEFAULT");
    dl_aws_config_free(&cfg);

    /* no HOME and no file variables: still a clear message */
    struct fake_env env4 = { .n = 0 };
    CHECK_INT(load(&cfg, NULL, &env4, msg, sizeof msg), DL_ERR_CREDENTIALS);
    CHECK(contains(msg, "HOME not set"));
}

static void test_file_locations(void)
{
    struct fake_env env = { .n = 0 };
    struct dl_aws_config cfg;
    char msg[512], alt_conf[512], big[512], expect[600];
    snprintf(alt_conf, sizeof alt_conf, "%s/alt_config", tmpdir);
    write_file(alt_conf, "[profile alt]\naws_access_key_id=AKIDALT\naws_secret_access_key=SECRETALT\n"
                         "region=sa-east-1\n");
    env_set(&env, "HOME", tmpdir);
    env_set(&env, "AWS_CONFIG_FILE", "~/alt_config"); /* "~/" is the HOME */
    env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", "~/does-not-exist");
    env_set(&env, "AWS_PROFILE", "alt");
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.access_key_id, "AKIDALT");
    CHECK_STR(cfg.region, "sa-east-1");
    snprintf(expect, sizeof expect, "profile 'alt' in %s", alt_conf);
    CHECK_STR(cfg.credential_source, expect);
    dl_aws_config_free(&cfg);

    /* a file over the 1 MiB cap is an error, not a silent skip */
    snprintf(big, sizeof big, "%s/big_credentials", tmpdir);
    FILE *f = fopen(big, "wb");
    CHECK(f != NULL);
    if (f) {
        for (int i = 0; i < 40000; i++)
            fputs("# padding padding padding padding\n", f);
        fclose(f);
    }
    struct fake_env env2 = { .n = 0 };
    env_set(&env2, "HOME", home_a);
    env_set(&env2, "AWS_SHARED_CREDENTIALS_FILE", big);
    CHECK_INT(load(&cfg, NULL, &env2, msg, sizeof msg), DL_ERR_TOO_LARGE);
    CHECK(contains(msg, big));
}

/* ------------------------------------------------------------------ region, endpoints */

static void test_region_order(void)
{
    struct fake_env env = { .n = 0 };
    struct dl_aws_config cfg;
    struct dl_aws_opts opts = { .region = "eu-central-1" };
    char msg[512];
    env_set(&env, "HOME", home_a);
    env_set(&env, "AWS_PROFILE", "dev"); /* config: ap-southeast-2 */
    env_set(&env, "AWS_REGION", "us-east-2");
    env_set(&env, "AWS_DEFAULT_REGION", "ca-central-1");

    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.region, "eu-central-1");
    dl_aws_config_free(&cfg);
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.region, "us-east-2");
    dl_aws_config_free(&cfg);
    env.value[2] = ""; /* AWS_REGION empty = unset */
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.region, "ca-central-1");
    dl_aws_config_free(&cfg);
    env.n = 2; /* drop both region variables */
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.region, "ap-southeast-2");
    dl_aws_config_free(&cfg);

    /* no region anywhere: us-east-1 */
    struct fake_env env2 = { .n = 0 };
    env_set(&env2, "HOME", home_none);
    env_set(&env2, "AWS_ACCESS_KEY_ID", "AKIDENV");
    env_set(&env2, "AWS_SECRET_ACCESS_KEY", "SECRETENV");
    CHECK_INT(load(&cfg, NULL, &env2, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.region, "us-east-1");
    CHECK_STR(cfg.profile, "default");
    dl_aws_config_free(&cfg);

    /* a region that cannot be part of a host name */
    opts.region = "us-east-1.evil.com/";
    CHECK_INT(load(&cfg, &opts, &env2, msg, sizeof msg), DL_ERR_INVALID);
    CHECK(contains(msg, "--region"));
    opts.region = NULL;
    opts.profile = "badregion";
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_ERR_INVALID);
    CHECK(contains(msg, conf_a));
}

static void test_endpoints(void)
{
    struct fake_env env = { .n = 0 };
    struct dl_aws_config cfg;
    struct dl_aws_opts opts = { .endpoint_url = "http://localhost:4566/" };
    char msg[512];
    env_set(&env, "HOME", home_none);
    env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    env_set(&env, "AWS_SECRET_ACCESS_KEY", "SECRETENV");
    env_set(&env, "AWS_ENDPOINT_URL", "http://127.0.0.1:9000");
    env_set(&env, "AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4568//");
    env_set(&env, "AWS_ENDPOINT_URL_DYNAMODB", "HTTPS://ddb.example.com:8443");

    /* the flag applies to both services and wins; trailing '/' stripped */
    CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.endpoint_s3, "http://localhost:4566");
    CHECK_STR(cfg.endpoint_dynamodb, "http://localhost:4566");
    CHECK(cfg.s3_path_style);
    dl_aws_config_free(&cfg);

    /* per-service variables beat AWS_ENDPOINT_URL */
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.endpoint_s3, "http://127.0.0.1:4568");
    CHECK_STR(cfg.endpoint_dynamodb, "HTTPS://ddb.example.com:8443");
    dl_aws_config_free(&cfg);

    /* AWS_ENDPOINT_URL for the service without its own variable */
    env.n = 5;
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.endpoint_s3, "http://127.0.0.1:4568");
    CHECK_STR(cfg.endpoint_dynamodb, "http://127.0.0.1:9000");
    dl_aws_config_free(&cfg);
    env.n = 4;
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK_STR(cfg.endpoint_s3, "http://127.0.0.1:9000");
    CHECK_STR(cfg.endpoint_dynamodb, "http://127.0.0.1:9000");
    dl_aws_config_free(&cfg);
    env.n = 3;
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_OK);
    CHECK(cfg.endpoint_s3 == NULL && cfg.endpoint_dynamodb == NULL && !cfg.s3_path_style);
    dl_aws_config_free(&cfg);

    /* only http and https */
    const char *bad[] = { "ftp://127.0.0.1:21", "localhost:4566", "http://", "http://h:x/",
                          "http://user@h/", "http://h/?q=1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        opts.endpoint_url = bad[i];
        CHECK_INT(load(&cfg, &opts, &env, msg, sizeof msg), DL_ERR_INVALID);
        CHECK(contains(msg, "--endpoint-url"));
        CHECK(cfg.endpoint_s3 == NULL && cfg.access_key_id == NULL);
    }
    env_set(&env, "AWS_ENDPOINT_URL_S3", "s3://bucket");
    CHECK_INT(load(&cfg, NULL, &env, msg, sizeof msg), DL_ERR_INVALID);
    CHECK(contains(msg, "AWS_ENDPOINT_URL_S3"));
}

/* ------------------------------------------------------------------ URLs */

static void test_urls(void)
{
    struct dl_aws_config cfg;
    struct dl_buf url;
    char region[16] = "eu-west-1";
    char ep_s3[] = "http://127.0.0.1:4568", ep_ddb[] = "http://127.0.0.1:4567";
    memset(&cfg, 0, sizeof cfg);
    cfg.region = region;
    dl_buf_init(&url, 0);
    const char key[] = "dir/a b+c/\xE1\x88\xB4~x.csv";
    const char key_enc[] = "dir/a%20b%2Bc/%E1%88%B4~x.csv";
    char expect[256];

    /* AWS endpoints */
    CHECK_INT(dl_aws_dynamodb_url(&cfg, &url), DL_OK);
    CHECK_STR((const char *)url.data, "https://dynamodb.eu-west-1.amazonaws.com/");
    CHECK_INT(dl_aws_s3_url(&cfg, "my-bucket", dl_cursor_str(key), NULL, &url), DL_OK);
    snprintf(expect, sizeof expect, "https://my-bucket.s3.eu-west-1.amazonaws.com/%s", key_enc);
    CHECK_STR((const char *)url.data, expect);
    CHECK_INT(dl_aws_s3_url(&cfg, "my-bucket", dl_cursor_of("", 0), "list-type=2&prefix=a%2F",
                            &url),
              DL_OK);
    CHECK_STR((const char *)url.data,
              "https://my-bucket.s3.eu-west-1.amazonaws.com/?list-type=2&prefix=a%2F");
    /* a dotted bucket cannot be a TLS host label: path style on the regional endpoint */
    CHECK_INT(dl_aws_s3_url(&cfg, "logs.example.com", dl_cursor_str("k 1"), NULL, &url), DL_OK);
    CHECK_STR((const char *)url.data, "https://s3.eu-west-1.amazonaws.com/logs.example.com/k%201");
    CHECK_INT(dl_aws_s3_url(&cfg, "", dl_cursor_str("k"), NULL, &url), DL_ERR_INVALID);

    /* China regions */
    strcpy(region, "cn-north-1");
    CHECK_INT(dl_aws_dynamodb_url(&cfg, &url), DL_OK);
    CHECK_STR((const char *)url.data, "https://dynamodb.cn-north-1.amazonaws.com.cn/");
    CHECK_INT(dl_aws_s3_url(&cfg, "b-1", dl_cursor_str("k"), NULL, &url), DL_OK);
    CHECK_STR((const char *)url.data, "https://b-1.s3.cn-north-1.amazonaws.com.cn/k");

    /* custom endpoints: path style */
    cfg.endpoint_s3 = ep_s3;
    cfg.endpoint_dynamodb = ep_ddb;
    cfg.s3_path_style = true;
    CHECK_INT(dl_aws_dynamodb_url(&cfg, &url), DL_OK);
    CHECK_STR((const char *)url.data, "http://127.0.0.1:4567/");
    CHECK_INT(dl_aws_s3_url(&cfg, "my-bucket", dl_cursor_str(key), NULL, &url), DL_OK);
    snprintf(expect, sizeof expect, "http://127.0.0.1:4568/my-bucket/%s", key_enc);
    CHECK_STR((const char *)url.data, expect);
    CHECK_INT(dl_aws_s3_url(&cfg, "my-bucket", dl_cursor_of("", 0),
                            "list-type=2&continuation-token=abc%3D", &url),
              DL_OK);
    CHECK_STR((const char *)url.data,
              "http://127.0.0.1:4568/my-bucket?list-type=2&continuation-token=abc%3D");
    CHECK_INT(dl_aws_s3_url(&cfg, "b", dl_cursor_str("a/b"), "partNumber=1", &url), DL_OK);
    CHECK_STR((const char *)url.data, "http://127.0.0.1:4568/b/a/b?partNumber=1");

    /* the URL round-trips through dl_url_split into what the signer needs */
    struct dl_url_parts parts;
    CHECK_INT(dl_aws_s3_url(&cfg, "my-bucket", dl_cursor_str(key), "x-id=GetObject", &url),
              DL_OK);
    CHECK_INT(dl_url_split((const char *)url.data, &parts), DL_OK);
    CHECK(!parts.https);
    CHECK_STR(parts.host, "127.0.0.1:4568");
    snprintf(expect, sizeof expect, "/my-bucket/%s", key_enc);
    CHECK_MEM_STR(parts.path.ptr, parts.path.len, expect);
    CHECK_MEM_STR(parts.query.ptr, parts.query.len, "x-id=GetObject");

    dl_buf_free(&url);
}

static void test_url_split(void)
{
    struct dl_url_parts p;
    CHECK_INT(dl_url_split("https://dynamodb.us-east-1.amazonaws.com/", &p), DL_OK);
    CHECK(p.https);
    CHECK_STR(p.host, "dynamodb.us-east-1.amazonaws.com");
    CHECK_MEM_STR(p.path.ptr, p.path.len, "/");
    CHECK_INT(p.query.len, 0);

    CHECK_INT(dl_url_split("http://127.0.0.1:4568/b/k%20x?list-type=2&prefix=a#frag", &p), DL_OK);
    CHECK_STR(p.host, "127.0.0.1:4568");
    CHECK_MEM_STR(p.path.ptr, p.path.len, "/b/k%20x");
    CHECK_MEM_STR(p.query.ptr, p.query.len, "list-type=2&prefix=a");

    CHECK_INT(dl_url_split("http://localhost", &p), DL_OK);
    CHECK_STR(p.host, "localhost");
    CHECK_MEM_STR(p.path.ptr, p.path.len, "/");

    CHECK_INT(dl_url_split("http://localhost?a=1", &p), DL_OK);
    CHECK_MEM_STR(p.path.ptr, p.path.len, "/");
    CHECK_MEM_STR(p.query.ptr, p.query.len, "a=1");

    /* the scheme's default port is not part of Host (curl leaves it out too) */
    CHECK_INT(dl_url_split("https://s3.amazonaws.com:443/x", &p), DL_OK);
    CHECK_STR(p.host, "s3.amazonaws.com");
    CHECK_INT(dl_url_split("http://h:80/", &p), DL_OK);
    CHECK_STR(p.host, "h");
    CHECK_INT(dl_url_split("http://h:443/", &p), DL_OK);
    CHECK_STR(p.host, "h:443");
    CHECK_INT(dl_url_split("http://[::1]:8000/t", &p), DL_OK);
    CHECK_STR(p.host, "[::1]:8000");
    CHECK_INT(dl_url_split("http://[::1]/t", &p), DL_OK);
    CHECK_STR(p.host, "[::1]");

    CHECK_INT(dl_url_split("ftp://h/", &p), DL_ERR_INVALID);
    CHECK_INT(dl_url_split("http:///x", &p), DL_ERR_INVALID);
    CHECK_INT(dl_url_split("http://u:pw@h/", &p), DL_ERR_INVALID);
    CHECK_INT(dl_url_split("http://h:8x/", &p), DL_ERR_INVALID);
    CHECK_INT(dl_url_split(NULL, &p), DL_ERR_INVALID);
    char longurl[512];
    memset(longurl, 'a', sizeof longurl);
    memcpy(longurl, "http://", 7);
    longurl[sizeof longurl - 1] = 0;
    CHECK_INT(dl_url_split(longurl, &p), DL_ERR_TOO_LARGE);
}

int main(void)
{
    setup();
    TEST_RUN(test_env_credentials_win_over_files);
    TEST_RUN(test_profiles);
    TEST_RUN(test_missing_profile);
    TEST_RUN(test_no_credentials);
    TEST_RUN(test_file_locations);
    TEST_RUN(test_region_order);
    TEST_RUN(test_endpoints);
    TEST_RUN(test_urls);
    TEST_RUN(test_url_split);
    teardown();
    return test_summary();
}
