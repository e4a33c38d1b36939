#include "item/number.h"

#include <stdio.h>
#include <string.h>

#include "item/item_impl.h"

/* Exponents beyond this are all equally out of range; clamping keeps the arithmetic in
 * int64_t whatever the input ("1e99999999999999999999"). */
#define EXP_CLAMP 1000000000000000LL

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static enum dl_err syntax_error(struct dl_cursor text, char *why, size_t whylen, const char *fmt,
                                const char *arg)
{
    if (why && whylen) {
        char q[DL_ITEM_QUOTE_MAX * 2 + 8], reason[96];
        dl_item_quote(q, sizeof q, text, DL_ITEM_QUOTE_MAX);
        snprintf(reason, sizeof reason, fmt, arg);
        snprintf(why, whylen, "'%s' is not a valid number: %s", q, reason);
    }
    return DL_ERR_INVALID;
}

/* The i-th digit of the concatenation of the integer and fraction digit runs. */
static uint8_t digit_at(const uint8_t *ip, size_t nint, const uint8_t *fp, size_t i)
{
    return i < nint ? ip[i] : fp[i - nint];
}

enum dl_err dl_num_check(struct dl_cursor text, struct dl_num_info *out, char *why, size_t whylen)
{
    struct dl_num_info tmp;
    struct dl_num_info *n = out ? out : &tmp;
    memset(n, 0, sizeof *n);
    if (why && whylen)
        why[0] = 0;

    const uint8_t *p = text.ptr;
    size_t len = text.len, i = 0;
    if (len == 0)
        return syntax_error(text, why, whylen, "%s", "it is empty");
    bool neg = false;
    if (p[0] == '-') {
        neg = true;
        i++;
    }
    if (i == len || !is_digit(p[i])) {
        if (neg)
            return syntax_error(text, why, whylen, "%s", "a digit must follow '-'");
        return syntax_error(text, why, whylen, "%s", "it must start with a digit or '-'");
    }
    size_t int_start = i;
    if (p[i] == '0') {
        i++;
        if (i < len && is_digit(p[i]))
            return syntax_error(text, why, whylen, "%s", "leading zeros are not allowed");
    } else {
        while (i < len && is_digit(p[i]))
            i++;
    }
    size_t nint = i - int_start;
    size_t frac_start = i, nfrac = 0;
    if (i < len && p[i] == '.') {
        i++;
        frac_start = i;
        while (i < len && is_digit(p[i]))
            i++;
        nfrac = i - frac_start;
        if (nfrac == 0)
            return syntax_error(text, why, whylen, "%s", "a digit must follow the decimal point");
    }
    int64_t x = 0;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        bool xneg = false;
        if (i < len && (p[i] == '+' || p[i] == '-')) {
            xneg = p[i] == '-';
            i++;
        }
        size_t xstart = i;
        while (i < len && is_digit(p[i])) {
            if (x < EXP_CLAMP)
                x = x * 10 + (p[i] - '0');
            i++;
        }
        if (i == xstart)
            return syntax_error(text, why, whylen, "%s", "a digit must follow the exponent");
        if (xneg)
            x = -x;
    }
    if (i != len) {
        char what[16];
        if (p[i] > 0x20 && p[i] < 0x7f)
            snprintf(what, sizeof what, "'%c'", p[i]);
        else
            snprintf(what, sizeof what, "byte 0x%02x", p[i]);
        return syntax_error(text, why, whylen, "unexpected %s", what);
    }

    /* Significant digits: from the first to the last non-zero digit of int+frac. */
    const uint8_t *ip = p + int_start, *fp = p + frac_start;
    size_t total = nint + nfrac, first = total, last = 0;
    for (size_t k = 0; k < total; k++) {
        if (digit_at(ip, nint, fp, k) != '0') {
            first = k;
            break;
        }
    }
    if (first == total) {
        n->zero = true; /* "-0" is zero too: DynamoDB has no negative zero */
        return DL_OK;
    }
    for (size_t k = total; k-- > first;) {
        if (digit_at(ip, nint, fp, k) != '0') {
            last = k;
            break;
        }
    }
    n->negative = neg;
    n->sig_digits = last - first + 1;
    /* The decimal point sits after nint digits, so the first significant digit has weight
     * 10^(nint-1-first); the exponent then shifts it. */
    n->sci_exp = (int64_t)nint - 1 - (int64_t)first + x;
    n->exp10 = n->sci_exp - (int64_t)(n->sig_digits - 1);
    if (n->sig_digits > DL_NUM_MAX_DIGITS) {
        if (why && whylen)
            snprintf(why, whylen, "number has %zu significant digits; DynamoDB allows %d",
                     n->sig_digits, DL_NUM_MAX_DIGITS);
        return DL_ERR_INVALID;
    }
    for (size_t k = 0; k < n->sig_digits; k++)
        n->digits[k] = (char)digit_at(ip, nint, fp, first + k);
    n->digits[n->sig_digits] = 0;
    /* With at most 38 digits, any mantissa d.ddd < 10, so sci_exp <= 125 is exactly
     * "at most 9.99...(38 nines)E+125", and sci_exp >= -130 is "at least 1E-130". */
    if (n->sci_exp < DL_NUM_MIN_EXP || n->sci_exp > DL_NUM_MAX_EXP) {
        if (why && whylen) {
            char q[DL_ITEM_QUOTE_MAX * 2 + 8];
            dl_item_quote(q, sizeof q, text, DL_ITEM_QUOTE_MAX);
            snprintf(why, whylen, "number %s is out of DynamoDB's range (1E-130 to 9.99E+125)", q);
        }
        return DL_ERR_INVALID;
    }
    return DL_OK;
}

size_t dl_num_format_canonical(const struct dl_num_info *n, char dst[DL_NUM_CANON_MAX])
{
    if (n->zero) {
        dst[0] = '0';
        dst[1] = 0;
        return 1;
    }
    int r = snprintf(dst, DL_NUM_CANON_MAX, "%s%sE%lld", n->negative ? "-" : "", n->digits,
                     (long long)n->exp10);
    return r < 0 ? 0 : (size_t)r;
}

enum dl_err dl_num_canonical(struct dl_cursor text, struct dl_buf *out)
{
    struct dl_num_info n;
    if (dl_num_check(text, &n, NULL, 0) != DL_OK)
        return DL_ERR_INVALID;
    char c[DL_NUM_CANON_MAX];
    size_t len = dl_num_format_canonical(&n, c);
    return dl_buf_append(out, c, len);
}

size_t dl_num_size(const struct dl_num_info *n)
{
    if (n->zero)
        return 1;
    return (n->sig_digits + 1) / 2 + 1;
}
