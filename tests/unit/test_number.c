/* DynamoDB number validation, canonical form and size (src/item/number.c). */
#include <stdlib.h>

#include "item/number.h"
#include "test.h"

static enum dl_err check(const char *s, struct dl_num_info *ni, char *why, size_t whylen)
{
    return dl_num_check(dl_cursor_str(s), ni, why, whylen);
}

/* The reason for rejecting s ("" when accepted). */
static const char *reason(const char *s)
{
    static char why[256];
    struct dl_num_info ni;
    if (check(s, &ni, why, sizeof why) == DL_OK)
        return "";
    return why;
}

static const char *canon(const char *s)
{
    static char bufs[2][128]; /* two, so two results can be compared */
    static int next;
    char *out = bufs[next++ % 2];
    struct dl_buf b;
    dl_buf_init(&b, 0);
    enum dl_err e = dl_num_canonical(dl_cursor_str(s), &b);
    snprintf(out, sizeof bufs[0], "%s", e ? "(invalid)" : (const char *)b.data);
    dl_buf_free(&b);
    return out;
}

static char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + n + sl + 1);
    memcpy(s, prefix, pl);
    memset(s + pl, c, n);
    memcpy(s + pl + n, suffix, sl + 1);
    return s;
}

static void test_range_boundaries(void)
{
    CHECK_STR(reason("1E-130"), "");
    CHECK_STR(reason("-1E-130"), "");
    CHECK_STR(reason("0.1E-129"), ""); /* = 1E-130 */
    CHECK_STR(reason("1E-131"), "number 1E-131 is out of DynamoDB's range (1E-130 to 9.99E+125)");
    CHECK_STR(reason("0.01E-129"), "number 0.01E-129 is out of DynamoDB's range (1E-130 to 9.99E+125)");
    /* 9.(37 nines)E+125: 38 significant nines, the largest value */
    char *max = repeat("9.", '9', 37, "E+125");
    CHECK_STR(reason(max), "");
    free(max);
    char *neg_max = repeat("-9.", '9', 37, "E+125");
    CHECK_STR(reason(neg_max), "");
    free(neg_max);
    char *max_int = repeat("", '9', 38, "E88"); /* 38 nines x 10^88 = 9.99..E+125 */
    CHECK_STR(reason(max_int), "");
    free(max_int);
    CHECK_STR(reason("1E126"), "number 1E126 is out of DynamoDB's range (1E-130 to 9.99E+125)");
    CHECK_STR(reason("10E125"), "number 10E125 is out of DynamoDB's range (1E-130 to 9.99E+125)");
    CHECK_STR(reason("1e400"), "number 1e400 is out of DynamoDB's range (1E-130 to 9.99E+125)");
    CHECK_STR(reason("1e99999999999999999999999999"),
              "number 1e99999999999999999999999999 is out of DynamoDB's range (1E-130 to 9.99E+125)");
    CHECK_STR(reason("-1e-99999999999999999999999999"),
              "number -1e-99999999999999999999999999 is out of DynamoDB's range (1E-130 to 9.99E+125)");
    /* zero is in range whatever its exponent */
    CHECK_STR(reason("0e99999"), "");
    CHECK_STR(reason("0.000e-400"), "");
    /* a long text is shortened in the message */
    char *tiny = repeat("0.", '0', 200, "1");
    CHECK_STR(reason(tiny), "number 0.00000000000000000000000000000000000000... is out of DynamoDB's "
                            "range (1E-130 to 9.99E+125)");
    free(tiny);
}

static void test_significant_digits(void)
{
    struct dl_num_info ni;
    CHECK_INT(check("12345678901234567890123456789012345678", &ni, NULL, 0), DL_OK); /* 38 */
    CHECK_INT(ni.sig_digits, 38);
    CHECK_STR(ni.digits, "12345678901234567890123456789012345678");
    CHECK_STR(reason("123456789012345678901234567890123456789"),
              "number has 39 significant digits; DynamoDB allows 38");
    CHECK_STR(reason("1.23456789012345678901234567890123456789"),
              "number has 39 significant digits; DynamoDB allows 38");
    CHECK_STR(reason("10000000000000000000000000000000000000001"),
              "number has 41 significant digits; DynamoDB allows 38");
    /* leading and trailing zeros do not count; zeros between do */
    CHECK_INT(check("0.000000000000000000000000000000000000000000000000012", &ni, NULL, 0), DL_OK);
    CHECK_INT(ni.sig_digits, 2);
    CHECK_INT(check("120000000000000000000000000000000000000000000000000000", &ni, NULL, 0), DL_OK);
    CHECK_INT(ni.sig_digits, 2);
    CHECK_INT(check("1.000000000000000000000000000000000000000000000000000000", &ni, NULL, 0), DL_OK);
    CHECK_INT(ni.sig_digits, 1);
    CHECK_INT(check("100.00100", &ni, NULL, 0), DL_OK);
    CHECK_INT(ni.sig_digits, 6); /* 100001 */
    CHECK_STR(ni.digits, "100001");
    CHECK_INT(ni.exp10, -3);
    CHECK_INT(ni.sci_exp, 2);
    CHECK_INT(check("0", &ni, NULL, 0), DL_OK);
    CHECK_INT(ni.sig_digits, 0);
    CHECK(ni.zero);
    CHECK(!ni.negative);
    CHECK_INT(check("-0.0", &ni, NULL, 0), DL_OK);
    CHECK(ni.zero);
    CHECK(!ni.negative);
}

static void test_syntax(void)
{
    CHECK_STR(reason("01"), "'01' is not a valid number: leading zeros are not allowed");
    CHECK_STR(reason("-012"), "'-012' is not a valid number: leading zeros are not allowed");
    CHECK_STR(reason("1."), "'1.' is not a valid number: a digit must follow the decimal point");
    CHECK_STR(reason("1.e5"), "'1.e5' is not a valid number: a digit must follow the decimal point");
    CHECK_STR(reason(".5"), "'.5' is not a valid number: it must start with a digit or '-'");
    CHECK_STR(reason("+1"), "'+1' is not a valid number: it must start with a digit or '-'");
    CHECK_STR(reason("1e"), "'1e' is not a valid number: a digit must follow the exponent");
    CHECK_STR(reason("1E+"), "'1E+' is not a valid number: a digit must follow the exponent");
    CHECK_STR(reason("NaN"), "'NaN' is not a valid number: it must start with a digit or '-'");
    CHECK_STR(reason("Infinity"), "'Infinity' is not a valid number: it must start with a digit or '-'");
    CHECK_STR(reason("-"), "'-' is not a valid number: a digit must follow '-'");
    CHECK_STR(reason("-x"), "'-x' is not a valid number: a digit must follow '-'");
    CHECK_STR(reason("0x10"), "'0x10' is not a valid number: unexpected 'x'");
    CHECK_STR(reason("1 "), "'1 ' is not a valid number: unexpected byte 0x20");
    CHECK_STR(reason(" 1"), "' 1' is not a valid number: it must start with a digit or '-'");
    CHECK_STR(reason("1e5.5"), "'1e5.5' is not a valid number: unexpected '.'");
    CHECK_STR(reason("1\n"), "'1?' is not a valid number: unexpected byte 0x0a");
    CHECK_STR(reason(""), "'' is not a valid number: it is empty");
    /* accepted forms of the JSON grammar */
    CHECK_STR(reason("0"), "");
    CHECK_STR(reason("-0"), "");
    CHECK_STR(reason("0.5"), "");
    CHECK_STR(reason("1e5"), "");
    CHECK_STR(reason("1E+5"), "");
    CHECK_STR(reason("1e-5"), "");
    CHECK_STR(reason("-12.340e-2"), "");
    /* the text is bounded by the cursor, not by a NUL */
    struct dl_num_info ni;
    CHECK_INT(dl_num_check(dl_cursor_of("12345", 2), &ni, NULL, 0), DL_OK);
    CHECK_STR(ni.digits, "12");
    /* why may be NULL or short */
    CHECK_INT(check("01", NULL, NULL, 0), DL_ERR_INVALID);
    char shortwhy[8];
    CHECK_INT(check("01", NULL, shortwhy, sizeof shortwhy), DL_ERR_INVALID);
    CHECK_STR(shortwhy, "'01' is");
}

static void test_canonical(void)
{
    CHECK_STR(canon("1"), "1E0");
    CHECK_STR(canon("1.0"), "1E0");
    CHECK_STR(canon("10e-1"), "1E0");
    CHECK_STR(canon("0.1E1"), "1E0");
    CHECK_STR(canon("100E-2"), "1E0");
    CHECK_STR(canon("0.0000001e7"), "1E0");
    CHECK_STR(canon("-0.012"), "-12E-3");
    CHECK_STR(canon("-1.2e-2"), "-12E-3");
    CHECK_STR(canon("-120E-4"), "-12E-3");
    CHECK_STR(canon("12.5"), "125E-1");
    CHECK_STR(canon("1500"), "15E2");
    CHECK_STR(canon("1.5e3"), "15E2");
    CHECK_STR(canon("0"), "0");
    CHECK_STR(canon("-0"), "0");
    CHECK_STR(canon("0.000e+12"), "0");
    CHECK_STR(canon("1E-130"), "1E-130");
    CHECK_STR(canon("100.00100"), "100001E-3");
    /* different values stay different */
    CHECK(strcmp(canon("1"), canon("-1")) != 0);
    CHECK(strcmp(canon("1"), canon("10")) != 0);
    CHECK(strcmp(canon("12"), canon("1.2")) != 0);
    /* invalid numbers have no canonical form, and nothing is appended */
    CHECK_STR(canon("01"), "(invalid)");
    CHECK_STR(canon("1e400"), "(invalid)");
    struct dl_buf b;
    dl_buf_init(&b, 0);
    dl_buf_append_str(&b, "x");
    CHECK_INT(dl_num_canonical(dl_cursor_str("1.0"), &b), DL_OK);
    CHECK_INT(dl_num_canonical(dl_cursor_str("NaN"), &b), DL_ERR_INVALID);
    CHECK_MEM_STR(b.data, b.len, "x1E0"); /* appends */
    dl_buf_free(&b);
    /* the longest canonical form fits DL_NUM_CANON_MAX */
    char *longest = repeat("-0.", '1', 38, "E-129"); /* -1.1..E-130, exp10 = -167 */
    CHECK_STR(canon(longest), "-11111111111111111111111111111111111111E-167");
    CHECK(strlen(canon(longest)) < DL_NUM_CANON_MAX);
    free(longest);
}

static void test_size(void)
{
    struct dl_num_info ni;
    /* ceil(significant digits / 2) + 1; zero is 1 byte */
    CHECK_INT(check("0", &ni, NULL, 0), DL_OK);
    CHECK_INT(dl_num_size(&ni), 1);
    CHECK_INT(check("7", &ni, NULL, 0), DL_OK);
    CHECK_INT(dl_num_size(&ni), 2); /* ceil(1/2)+1 */
    CHECK_INT(check("12", &ni, NULL, 0), DL_OK);
    CHECK_INT(dl_num_size(&ni), 2); /* ceil(2/2)+1 */
    CHECK_INT(check("-123", &ni, NULL, 0), DL_OK);
    CHECK_INT(dl_num_size(&ni), 3); /* ceil(3/2)+1 */
    CHECK_INT(check("1000000", &ni, NULL, 0), DL_OK);
    CHECK_INT(dl_num_size(&ni), 2); /* one significant digit */
    CHECK_INT(check("12345678901234567890123456789012345678", &ni, NULL, 0), DL_OK);
    CHECK_INT(dl_num_size(&ni), 20); /* ceil(38/2)+1 */
    CHECK_INT(check("1.2345678901234567890123456789012345678", &ni, NULL, 0), DL_OK);
    CHECK_INT(dl_num_size(&ni), 20);
}

int main(void)
{
    TEST_RUN(test_range_boundaries);
    TEST_RUN(test_significant_digits);
    TEST_RUN(test_syntax);
    TEST_RUN(test_canonical);
    TEST_RUN(test_size);
    return test_summary();
}
