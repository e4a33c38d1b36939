/* SOURCE parsing and local listings, on a temporary directory tree built here. */
#include "core/source.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char tmp[64];

static void path_of(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", tmp, rel);
}

static void mkdir_rel(const char *rel)
{
    char p[512];
    path_of(p, sizeof p, rel);
    CHECK_INT(mkdir(p, 0755), 0);
}

static void write_rel(const char *rel, const char *content)
{
    char p[512];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(content, f);
    fclose(f);
}

static void symlink_rel(const char *target, const char *rel)
{
    char p[512];
    path_of(p, sizeof p, rel);
    CHECK_INT(symlink(target, p), 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void make_tree(void)
{
    strcpy(tmp, "/tmp/dl_test_source_XXXXXX");
    CHECK(mkdtemp(tmp) != NULL);
    write_rel("a.csv", "1,2\n");
    write_rel("B.csv", "x\n");
    write_rel("a-b.csv", "");
    mkdir_rel("a");
    write_rel("a/x.json", "{}");
    write_rel("a0.csv", "0\n");
    mkdir_rel("sub dir");
    write_rel("sub dir/space name.csv", "s p\n");
    write_rel("sub dir/.DS_Store", "junk");
    mkdir_rel("\xc3\xbcn\xc3\xaf\x63ode");
    write_rel("\xc3\xbcn\xc3\xaf\x63ode/\xe6\x96\x87\xe4\xbb\xb6.csv", "u\n");
    mkdir_rel("zeta");
    mkdir_rel("zeta/deep");
    mkdir_rel("zeta/deep/er");
    write_rel("zeta/deep/er/f.ndjson", "{\"a\":1}\n");
    write_rel(".hidden.csv", "h\n");
    mkdir_rel(".git");
    write_rel(".git/config", "c\n");
    mkdir_rel("empty");
    symlink_rel("a", "link_dir");
    symlink_rel("a.csv", "link_file.csv");
    symlink_rel("nonexistent", "dangling.csv");
    symlink_rel(".", "zeta/deep/loop");
    char p[512];
    path_of(p, sizeof p, "pipe");
    CHECK_INT(mkfifo(p, 0644), 0);
    /* a known modification time */
    path_of(p, sizeof p, "a.csv");
    struct timespec ts[2] = { { 1700000000, 123456789 }, { 1700000000, 123456789 } };
    CHECK_INT(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static const char *want_keys[] = {
    "B.csv",         /* upper case sorts first */
    "a-b.csv",       /* '-' < '.' < '/' : byte order of the whole key, like S3 */
    "a.csv",
    "a/x.json",
    "a0.csv",
    "link_file.csv", /* symlink to a file: followed */
    "sub dir/space name.csv",
    "zeta/deep/er/f.ndjson",
    "\xc3\xbcn\xc3\xaf\x63ode/\xe6\x96\x87\xe4\xbb\xb6.csv", /* UTF-8 after ASCII */
};
#define NWANT (sizeof want_keys / sizeof want_keys[0])

static void check_listing(const char *root, const char *prefix)
{
    struct dl_source_list l;
    char err[256] = "";
    CHECK_INT(dl_source_list_local(root, &l, err, sizeof err), DL_OK);
    CHECK_INT(l.count, NWANT);
    for (size_t i = 0; i < l.count && i < NWANT; i++) {
        CHECK_STR(l.items[i].key, want_keys[i]);
        char p[512];
        snprintf(p, sizeof p, "%s%s", prefix, want_keys[i]);
        CHECK_STR(l.items[i].path, p);
    }
    if (l.count == NWANT) {
        CHECK_INT(l.items[0].size, 2);
        CHECK_INT(l.items[1].size, 0);
        CHECK_INT(l.items[2].size, 4);
        CHECK_INT(l.items[2].mtime_sec, 1700000000);
        CHECK_INT(l.items[2].mtime_nsec, 123456789);
        CHECK_INT(l.items[5].size, 4);                 /* the target's size */
        CHECK_INT(l.items[5].mtime_sec, 1700000000);   /* and mtime */
        CHECK_INT(l.items[6].size, 4);
        CHECK_INT(l.items[8].size, 2);
    }
    dl_source_list_free(&l);
    CHECK(l.items == NULL && l.count == 0);
}

static void test_list_dir(void)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/", tmp);
    check_listing(tmp, prefix);
    /* trailing slashes: same keys, no doubled separator in paths */
    char root[128];
    snprintf(root, sizeof root, "%s//", tmp);
    check_listing(root, prefix);
    /* a relative root */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT(chdir(tmp), 0);
    check_listing(".", "./");
    CHECK_INT(chdir(cwd), 0);
}

static void test_list_small(void)
{
    struct dl_source_list l;
    char err[256] = "", p[512];

    /* an empty folder */
    path_of(p, sizeof p, "empty");
    CHECK_INT(dl_source_list_local(p, &l, err, sizeof err), DL_OK);
    CHECK_INT(l.count, 0);
    dl_source_list_free(&l);

    /* a single file: one entry keyed by its name */
    path_of(p, sizeof p, "sub dir/space name.csv");
    CHECK_INT(dl_source_list_local(p, &l, err, sizeof err), DL_OK);
    CHECK_INT(l.count, 1);
    if (l.count == 1) {
        CHECK_STR(l.items[0].key, "space name.csv");
        CHECK_STR(l.items[0].path, p);
        CHECK_INT(l.items[0].size, 4);
    }
    dl_source_list_free(&l);

    /* a hidden file or folder named explicitly is listed */
    path_of(p, sizeof p, ".git");
    CHECK_INT(dl_source_list_local(p, &l, err, sizeof err), DL_OK);
    CHECK_INT(l.count, 1);
    if (l.count == 1)
        CHECK_STR(l.items[0].key, "config");
    dl_source_list_free(&l);

    /* a symlink to a folder given as the root is followed */
    path_of(p, sizeof p, "link_dir");
    CHECK_INT(dl_source_list_local(p, &l, err, sizeof err), DL_OK);
    CHECK_INT(l.count, 1);
    if (l.count == 1)
        CHECK_STR(l.items[0].key, "x.json");
    dl_source_list_free(&l);

    /* a single file in the current directory */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT(chdir(tmp), 0);
    CHECK_INT(dl_source_list_local("a.csv", &l, err, sizeof err), DL_OK);
    CHECK_INT(l.count, 1);
    if (l.count == 1) {
        CHECK_STR(l.items[0].key, "a.csv");
        CHECK_STR(l.items[0].path, "a.csv");
    }
    dl_source_list_free(&l);
    CHECK_INT(chdir(cwd), 0);

    /* errors */
    path_of(p, sizeof p, "missing");
    CHECK_INT(dl_source_list_local(p, &l, err, sizeof err), DL_ERR_NOT_FOUND);
    CHECK(strstr(err, "no such file or directory: ") != NULL && strstr(err, "missing"));
    CHECK(l.items == NULL && l.count == 0);
    path_of(p, sizeof p, "a.csv/inside");
    CHECK_INT(dl_source_list_local(p, &l, err, sizeof err), DL_ERR_NOT_FOUND);
    path_of(p, sizeof p, "pipe");
    CHECK_INT(dl_source_list_local(p, &l, err, sizeof err), DL_ERR_INVALID);
    CHECK_INT(dl_source_list_local("", &l, err, sizeof err), DL_ERR_INVALID);
    CHECK_INT(dl_source_list_local(NULL, &l, NULL, 0), DL_ERR_INVALID);
}

static void test_list_unreadable(void)
{
    if (geteuid() == 0)
        return; /* root reads everything */
    char p[512];
    path_of(p, sizeof p, "locked");
    CHECK_INT(mkdir(p, 0), 0);
    struct dl_source_list l;
    char err[256] = "";
    CHECK_INT(dl_source_list_local(tmp, &l, err, sizeof err), DL_ERR_IO);
    CHECK(strstr(err, "locked") != NULL);
    CHECK(l.items == NULL && l.count == 0);
    rmdir(p);
}

static void test_parse(void)
{
    struct dl_source s;
    char err[256] = "";

    CHECK_INT(dl_source_parse("s3://archive/2024/orders/", &s, err, sizeof err), DL_OK);
    CHECK_INT(s.kind, DL_SOURCE_S3);
    CHECK_STR(s.bucket, "archive");
    CHECK_STR(s.prefix, "2024/orders/");
    CHECK(s.path == NULL);
    dl_source_free(&s);

    CHECK_INT(dl_source_parse("s3://archive", &s, err, sizeof err), DL_OK);
    CHECK_STR(s.bucket, "archive");
    CHECK_STR(s.prefix, "");
    dl_source_free(&s);
    CHECK_INT(dl_source_parse("S3://Legacy_Bucket.v1/", &s, err, sizeof err), DL_OK);
    CHECK_STR(s.bucket, "Legacy_Bucket.v1");
    CHECK_STR(s.prefix, "");
    dl_source_free(&s);
    /* the prefix is kept byte for byte */
    CHECK_INT(dl_source_parse("s3://b/a b/%20/\xc3\xa9//x", &s, err, sizeof err), DL_OK);
    CHECK_STR(s.prefix, "a b/%20/\xc3\xa9//x");
    dl_source_free(&s);

    CHECK_INT(dl_source_parse("s3://", &s, err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "missing bucket name in 's3://'") != NULL);
    CHECK(s.bucket == NULL && s.prefix == NULL && s.path == NULL);
    CHECK_INT(dl_source_parse("s3:///prefix", &s, err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "missing bucket") != NULL);
    CHECK_INT(dl_source_parse("s3://my bucket/x", &s, err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "invalid bucket name 'my bucket'") != NULL);
    CHECK_INT(dl_source_parse("s3:/bucket/x", &s, err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "malformed S3 URL") != NULL);
    CHECK_INT(dl_source_parse("", &s, err, sizeof err), DL_ERR_INVALID);
    CHECK_INT(dl_source_parse(NULL, &s, NULL, 0), DL_ERR_INVALID);

    char p[512];
    path_of(p, sizeof p, "a.csv");
    CHECK_INT(dl_source_parse(p, &s, err, sizeof err), DL_OK);
    CHECK_INT(s.kind, DL_SOURCE_FILE);
    CHECK_STR(s.path, p);
    CHECK(s.bucket == NULL && s.prefix == NULL);
    dl_source_free(&s);
    path_of(p, sizeof p, "link_file.csv");
    CHECK_INT(dl_source_parse(p, &s, err, sizeof err), DL_OK);
    CHECK_INT(s.kind, DL_SOURCE_FILE);
    dl_source_free(&s);

    CHECK_INT(dl_source_parse(tmp, &s, err, sizeof err), DL_OK);
    CHECK_INT(s.kind, DL_SOURCE_DIR);
    CHECK_STR(s.path, tmp);
    dl_source_free(&s);

    path_of(p, sizeof p, "nope/x.csv");
    CHECK_INT(dl_source_parse(p, &s, err, sizeof err), DL_ERR_NOT_FOUND);
    char want[600];
    snprintf(want, sizeof want, "no such file or directory: %s", p);
    CHECK_STR(err, want);
    path_of(p, sizeof p, "pipe");
    CHECK_INT(dl_source_parse(p, &s, err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "not a regular file or directory") != NULL);
    dl_source_free(&s); /* harmless on an empty source */
}

int main(void)
{
    make_tree();
    TEST_RUN(test_list_dir);
    TEST_RUN(test_list_small);
    TEST_RUN(test_list_unreadable);
    TEST_RUN(test_parse);
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
