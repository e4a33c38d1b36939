/* Key filters: dl_glob_match / dl_glob_check. */
#include "core/glob.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

struct gcase {
    const char *pat;
    const char *key;
    int want;
};

static void run(const struct gcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int got = dl_glob_match(c[i].pat, c[i].key);
        if (got != c[i].want)
            fprintf(stderr, "  pattern '%s' key '%s': got %d, want %d\n", c[i].pat, c[i].key,
                    got, c[i].want);
        CHECK_INT(got, c[i].want);
    }
}

static void test_basename(void)
{
    /* no '/' in the pattern: the key's base name is matched */
    static const struct gcase c[] = {
        { "*.zip", "a/b/c.zip", 1 },
        { "*.zip", "c.zip", 1 },
        { "*.zip", ".zip", 1 },
        { "*.zip", "a/b/c.zip.gz", 0 },
        { "*.zip", "a.zip/b.csv", 0 },
        { "*.zip", "a/b/c.ZIP", 0 }, /* S3 keys are case-sensitive */
        { "*.json.gz", "export/data/abc.json.gz", 1 },
        { "orders-*.csv", "2024/01/orders-0001.csv", 1 },
        { "orders-*.csv", "2024/01/ORDERS-0001.csv", 0 },
        { "*", "a/b/c", 1 },
        { "*", "a/b/", 1 },          /* a folder marker: empty base name */
        { "?", "a/b/", 0 },
        { "c", "a/b/c", 1 },
        { "b", "a/b/c", 0 },
        { "**", "a/b/c", 1 },
        { "**.zip", "x/y.zip", 1 },
        { "", "", 1 },
        { "", "a/", 1 },
        { "", "a", 0 },
    };
    run(c, sizeof c / sizeof c[0]);
}

static void test_full_path(void)
{
    static const struct gcase c[] = {
        { "2024/*.zip", "2024/a.zip", 1 },
        { "2024/*.zip", "2024/01/a.zip", 0 },     /* * stops at '/' */
        { "2024/*.zip", "old/2024/a.zip", 0 },    /* anchored at the start */
        { "2024/*/*.zip", "2024/01/a.zip", 1 },
        { "2024/**.zip", "2024/01/02/a.zip", 1 }, /* ** crosses '/' */
        { "2024/**.zip", "2024/a.zip", 1 },
        { "2024/**", "2024/a/b/c", 1 },
        { "2024/**", "2024/", 1 },
        { "2024/**", "2024", 0 },
        { "2024/**", "20245/x", 0 },
        { "**/x.gz", "x.gz", 1 },                 /* a leading **-segment may be empty */
        { "**/x.gz", "a/b/x.gz", 1 },
        { "**/x.gz", "a/bx.gz", 0 },
        { "**/*.zip", "a/b/c.zip", 1 },
        { "**/*.zip", "c.zip", 1 },
        { "logs/**/x.gz", "logs/x.gz", 1 },       /* a middle **-segment may be empty */
        { "logs/**/x.gz", "logs/a/x.gz", 1 },
        { "logs/**/x.gz", "logs/a/b/c/x.gz", 1 },
        { "logs/**/x.gz", "logsx.gz", 0 },
        { "logs/**/x.gz", "logs/ax.gz", 0 },
        { "logs/**/x.gz", "other/logs/x.gz", 0 },
        { "a/**/b/**/c", "a/b/c", 1 },
        { "a/**/b/**/c", "a/x/b/y/z/c", 1 },
        { "a/**/b/**/c", "a/x/y/c", 0 },
        { "a**/b", "ax/y/b", 1 },                 /* not a whole segment: plain ** */
        { "a**/b", "a/b", 1 },
        { "/x.zip", "x.zip", 1 },                 /* leading '/': the top-level x.zip only */
        { "/x.zip", "a/x.zip", 0 },
        { "a/b", "a/b", 1 },
        { "a/b", "a/b/", 0 },
        { "a/b/", "a/b/", 1 },
        { "a/?", "a/b", 1 },
        { "a?b", "a/b", 0 },                      /* ? never matches '/' */
        { "a[/]b", "a/b", 0 },                    /* nor does a class */
        { "a*b", "a/b", 0 },
    };
    run(c, sizeof c / sizeof c[0]);
}

static void test_classes_escapes(void)
{
    static const struct gcase c[] = {
        { "data-[abc].csv", "data-a.csv", 1 },
        { "data-[abc].csv", "data-d.csv", 0 },
        { "data-[a-c].csv", "data-b.csv", 1 },
        { "data-[a-c].csv", "data-B.csv", 0 },
        { "part-[0-9][0-9].csv", "part-07.csv", 1 },
        { "part-[0-9][0-9].csv", "part-7.csv", 0 },
        { "part-[!0-9].csv", "part-x.csv", 1 },
        { "part-[!0-9].csv", "part-5.csv", 0 },
        { "part-[^0-9].csv", "part-x.csv", 1 },
        { "x[]]y", "x]y", 1 },                    /* ']' first is a member */
        { "x[!]]y", "x]y", 0 },
        { "x[!]]y", "xay", 1 },
        { "x[a-]y", "x-y", 1 },                   /* '-' last is a member */
        { "x[-a]y", "x-y", 1 },
        { "x[\\]]y", "x]y", 1 },                  /* escaped ']' inside a class */
        { "x[\\-a]y", "x-y", 1 },
        { "x[a\\-z]y", "xby", 0 },                /* escaped '-' is not a range */
        { "x[a\\-z]y", "x-y", 1 },
        { "x[ab", "x[ab", 1 },                    /* no ']': the '[' is literal */
        { "x[ab", "xa", 0 },
        { "\\*.zip", "*.zip", 1 },
        { "\\*.zip", "a.zip", 0 },
        { "a\\?", "a?", 1 },
        { "a\\?", "ab", 0 },
        { "\\[x]", "[x]", 1 },
        { "\\[x]", "x", 0 },
        { "a\\\\b", "a\\b", 1 },
        { "a\\", "a\\", 1 },                      /* trailing '\' is itself */
        { "\\a\\b", "ab", 1 },
    };
    run(c, sizeof c / sizeof c[0]);
}

static void test_unicode_spaces_plus(void)
{
    static const struct gcase c[] = {
        /* ? and classes take a whole code point, not a byte */
        { "caf?.csv", "caf\xc3\xa9.csv", 1 },
        { "caf??.csv", "caf\xc3\xa9.csv", 0 },
        { "?.csv", "\xe6\x97\xa5.csv", 1 },                /* 日 */
        { "?.csv", "\xf0\x9f\x98\x80.csv", 1 },            /* U+1F600, 4 bytes */
        { "[\xc3\xa9\xc3\xa8]t\xc3\xa9.csv", "\xc3\xa8t\xc3\xa9.csv", 1 },
        { "[\xc3\xa9\xc3\xa8]t\xc3\xa9.csv", "et\xc3\xa9.csv", 0 },
        { "[\xc3\xa0-\xc3\xbf]*", "\xc3\xb1o.csv", 1 },     /* à-ÿ holds ñ */
        { "[\xc3\xa0-\xc3\xbf]*", "no.csv", 0 },
        { "[!a-z]*", "\xc3\xa9t\xc3\xa9.csv", 1 },
        { "donn\xc3\xa9\x65s/*.csv", "donn\xc3\xa9\x65s/\xc3\xa9t\xc3\xa9.csv", 1 },
        { "*\xe6\x97\xa5*", "\xe5\xb9\xb4\xe6\x97\xa5\xe5\x90\x8d.csv", 1 },
        /* spaces and '+' are ordinary characters (S3 console keys often hold both) */
        { "My Orders *.csv", "exports/My Orders 2024.csv", 1 },
        { "My Orders *.csv", "exports/My  Orders 2024.csv", 0 },
        { "* *", "a b", 1 },
        { "* *", "ab", 0 },
        { "a+b*.zip", "x/a+b-1.zip", 1 },
        { "a+b*.zip", "x/a b-1.zip", 0 },
        { "a+*.zip", "a++.zip", 1 },
        { "[+ ]x", "+x", 1 },
        { "[+ ]x", " x", 1 },
        /* a byte that is not UTF-8 still equals itself */
        { "a\xff?", "a\xff" "b", 1 },
        { "?b", "\xff" "b", 1 },
    };
    run(c, sizeof c / sizeof c[0]);
}

static void test_pathological(void)
{
    /* a pattern that makes backtracking matchers exponential */
    char key[1025], pat[200];
    memset(key, 'a', 1024);
    key[1024] = 0;
    strcpy(pat, "");
    for (int i = 0; i < 30; i++)
        strcat(pat, "*a");
    strcat(pat, "*b");
    CHECK(!dl_glob_match(pat, key));
    key[1023] = 'b';
    CHECK(dl_glob_match(pat, key));
    /* the same with ** and '/' */
    char key2[1025];
    for (int i = 0; i < 1024; i++)
        key2[i] = (i % 4 == 3) ? '/' : 'a';
    key2[1024] = 0;
    strcpy(pat, "");
    for (int i = 0; i < 20; i++)
        strcat(pat, "**/a");
    strcat(pat, "**b");
    CHECK(!dl_glob_match(pat, key2));

    /* limits and NULLs */
    char *longp = malloc(DL_GLOB_MAX_PATTERN + 2);
    memset(longp, '*', DL_GLOB_MAX_PATTERN + 1);
    longp[DL_GLOB_MAX_PATTERN + 1] = 0;
    CHECK(!dl_glob_match(longp, "a"));
    longp[DL_GLOB_MAX_PATTERN] = 0;
    CHECK(dl_glob_match(longp, "a"));
    free(longp);
    CHECK(!dl_glob_match(NULL, "a"));
    CHECK(!dl_glob_match("a", NULL));
}

static void test_check(void)
{
    char err[200];
    CHECK_INT(dl_glob_check("*.zip", err, sizeof err), DL_OK);
    CHECK_INT(dl_glob_check("a/**/b[0-9][!x]\\*", err, sizeof err), DL_OK);
    CHECK_INT(dl_glob_check("x[]]", err, sizeof err), DL_OK);
    CHECK_INT(dl_glob_check("", err, sizeof err), DL_ERR_INVALID);
    CHECK_STR(err, "empty pattern");
    CHECK_INT(dl_glob_check(NULL, NULL, 0), DL_ERR_INVALID);
    CHECK_INT(dl_glob_check("data-[abc.csv", err, sizeof err), DL_ERR_INVALID);
    CHECK_STR(err, "unterminated '[' at byte 6 (write \\[ for a literal '[')");
    CHECK_INT(dl_glob_check("abc\\", err, sizeof err), DL_ERR_INVALID);
    CHECK_STR(err, "trailing '\\' at byte 4 (write \\\\ for a literal '\\')");
    CHECK_INT(dl_glob_check("[[:digit:]]*", err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "[[:alpha:]] are not supported") != NULL);
    CHECK_INT(dl_glob_check("[z-a]", err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "empty range") != NULL);
    CHECK_INT(dl_glob_check("a\xc3(", err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "not valid UTF-8") != NULL);

    CHECK(dl_glob_is_pattern("*.zip"));
    CHECK(dl_glob_is_pattern("a[1]"));
    CHECK(dl_glob_is_pattern("a\\b"));
    CHECK(dl_glob_is_pattern("a?"));
    CHECK(!dl_glob_is_pattern("data/orders.csv"));
    CHECK(!dl_glob_is_pattern(NULL));
}

int main(void)
{
    TEST_RUN(test_basename);
    TEST_RUN(test_full_path);
    TEST_RUN(test_classes_escapes);
    TEST_RUN(test_unicode_spaces_plus);
    TEST_RUN(test_pathological);
    TEST_RUN(test_check);
    return test_summary();
}
