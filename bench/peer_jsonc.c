/* json-c: json_tokener_parse_ex (one tokener, reset per line) + json_object_to_json_string_ext
 * (JSON_C_TO_STRING_PLAIN) of each line. */
#include <json-c/json.h>
#include <string.h>

#include "peers.h"

int peer_jsonc(const uint8_t *p, size_t len, uint64_t *records, uint64_t *check)
{
    uint64_t n = 0, sum = 0;
    int rc = 0;
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return -1;
    for (const uint8_t *line = p, *end = p + len; line < end;) {
        const uint8_t *nl = memchr(line, '\n', (size_t)(end - line));
        size_t l = (size_t)((nl ? nl : end) - line);
        if (l) {
            json_tokener_reset(tok);
            struct json_object *v = json_tokener_parse_ex(tok, (const char *)line, (int)l);
            if (!v) {
                rc = -1;
                break;
            }
            const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
            sum += s ? strlen(s) : 0;
            json_object_put(v);
            n++;
        }
        line = nl ? nl + 1 : end;
    }
    json_tokener_free(tok);
    *records = n;
    *check = sum;
    return rc;
}
