/* jansson: json_loadb + json_dumps(JSON_COMPACT) of each line. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"

int peer_jansson(const uint8_t *p, size_t len, uint64_t *records, uint64_t *check)
{
    uint64_t n = 0, sum = 0;
    for (const uint8_t *line = p, *end = p + len; line < end;) {
        const uint8_t *nl = memchr(line, '\n', (size_t)(end - line));
        size_t l = (size_t)((nl ? nl : end) - line);
        if (l) {
            json_error_t err;
            json_t *v = json_loadb((const char *)line, l, 0, &err);
            if (!v)
                return -1;
            char *s = json_dumps(v, JSON_COMPACT);
            sum += s ? strlen(s) : 0;
            free(s);
            json_decref(v);
            n++;
        }
        line = nl ? nl + 1 : end;
    }
    *records = n;
    *check = sum;
    return 0;
}
