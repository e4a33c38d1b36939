/* A tiny assertion harness for unit tests: each test file has a main() that calls
 * TEST_RUN(fn) for each case and returns test_summary(). Failures print file:line and
 * the values compared; the process exits non-zero if any check failed. */
#ifndef DL_TEST_H
#define DL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;
static const char *test_current = "";

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        test_checks++;                                                                   \
        if (!(cond)) {                                                                   \
            test_failures++;                                                             \
            fprintf(stderr, "%s:%d: [%s] check failed: %s\n", __FILE__, __LINE__,        \
                    test_current, #cond);                                                \
        }                                                                                \
    } while (0)

#define CHECK_INT(a, b)                                                                  \
    do {                                                                                 \
        long long va_ = (long long)(a), vb_ = (long long)(b);                            \
        test_checks++;                                                                   \
        if (va_ != vb_) {                                                                \
            test_failures++;                                                             \
            fprintf(stderr, "%s:%d: [%s] %s == %s failed: %lld != %lld\n", __FILE__,     \
                    __LINE__, test_current, #a, #b, va_, vb_);                           \
        }                                                                                \
    } while (0)

#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        const char *sa_ = (a), *sb_ = (b);                                               \
        test_checks++;                                                                   \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                     \
            test_failures++;                                                             \
            fprintf(stderr, "%s:%d: [%s] %s == %s failed:\n  got:      %s\n  expected: %s\n", \
                    __FILE__, __LINE__, test_current, #a, #b, sa_ ? sa_ : "(null)",      \
                    sb_ ? sb_ : "(null)");                                               \
        }                                                                                \
    } while (0)

/* Compare a byte range with a C string. */
#define CHECK_MEM_STR(p, n, s)                                                           \
    do {                                                                                 \
        const char *sp_ = (const char *)(p);                                             \
        size_t sn_ = (n);                                                                \
        const char *ss_ = (s);                                                           \
        test_checks++;                                                                   \
        if (sn_ != strlen(ss_) || memcmp(sp_, ss_, sn_) != 0) {                          \
            test_failures++;                                                             \
            fprintf(stderr, "%s:%d: [%s] bytes differ:\n  got:      %.*s\n  expected: %s\n", \
                    __FILE__, __LINE__, test_current, (int)sn_, sp_, ss_);               \
        }                                                                                \
    } while (0)

#define TEST_RUN(fn)                                                                     \
    do {                                                                                 \
        test_current = #fn;                                                              \
        fn();                                                                            \
    } while (0)

/* A test input on stderr, escaped, after a failure: "  <tag>input (n bytes): "..."" (at most
 * 800 bytes shown). */
static inline void test_show_input(const char *tag, const unsigned char *p, size_t n)
{
    fprintf(stderr, "  %sinput (%zu bytes): \"", tag, n);
    for (size_t i = 0; i < n && i < 800; i++) {
        unsigned char c = p[i];
        if (c == '\n')
            fprintf(stderr, "\\n");
        else if (c == '\r')
            fprintf(stderr, "\\r");
        else if (c == '\t')
            fprintf(stderr, "\\t");
        else if (c == '"' || c == '\\')
            fprintf(stderr, "\\%c", c);
        else if (c < 0x20 || c >= 0x7F)
            fprintf(stderr, "\\x%02X", c);
        else
            fputc(c, stderr);
    }
    fprintf(stderr, "\"\n");
}

static inline int test_summary(void)
{
    fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}

/* Directory of ../shared/testdata, passed by CMake as DL_TESTDATA_DIR. */
#ifndef DL_TESTDATA_DIR
#define DL_TESTDATA_DIR "../shared/testdata"
#endif
/* Directory of tests/data in the source tree, passed by CMake. */
#ifndef DL_TEST_DATA_DIR
#define DL_TEST_DATA_DIR "tests/data"
#endif

#endif
