// simdjson peer for bench/run-decoders.sh: the DOM parse of each NDJSON line (Debian's
// libsimdjson), the "parse only" figure ddbload's JSON -> DynamoDB-JSON is compared with.
// Prints the same RESULT line as bench_decoders:
//   bench_simdjson FILE [--runs N] [--many]
// --many measures parse_many over the whole buffer instead (simdjson's own NDJSON mode).
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

static double cpu_seconds()
{
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_simdjson FILE [--runs N] [--many]\n");
        return 2;
    }
    int runs = 5;
    bool many = false;
    for (int i = 2; i < argc; i++) {
        if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--many"))
            many = true;
    }
    if (runs < 1 || runs > 100)
        runs = 5;
    simdjson::padded_string json;
    if (simdjson::padded_string::load(argv[1]).get(json)) {
        std::fprintf(stderr, "bench_simdjson: cannot read %s\n", argv[1]);
        return 1;
    }
    const char *p = json.data();
    const size_t size = json.size();
    simdjson::dom::parser parser;
    std::vector<double> t, cpu;
    unsigned long long records = 0, check = 0;
    for (int r = -1; r < runs; r++) {
        auto t0 = std::chrono::steady_clock::now();
        double c0 = cpu_seconds();
        records = check = 0;
        if (many) {
            simdjson::dom::document_stream docs;
            if (parser.parse_many(p, size, 1 << 20).get(docs)) {
                std::fprintf(stderr, "bench_simdjson: parse_many failed\n");
                return 1;
            }
            for (auto doc : docs) {
                simdjson::dom::element e;
                if (doc.get(e)) {
                    std::fprintf(stderr, "bench_simdjson: parse error\n");
                    return 1;
                }
                check += (unsigned long long)e.type();
                records++;
            }
        } else {
            // every line is followed by readable bytes (the rest of the buffer, or the padding)
            for (const char *line = p, *end = p + size; line < end;) {
                const char *nl = static_cast<const char *>(std::memchr(line, '\n', (size_t)(end - line)));
                size_t len = (size_t)((nl ? nl : end) - line);
                if (len) {
                    simdjson::dom::element e;
                    if (parser.parse(line, len, false).get(e)) {
                        std::fprintf(stderr, "bench_simdjson: parse error\n");
                        return 1;
                    }
                    check += (unsigned long long)e.type();
                    records++;
                }
                line = nl ? nl + 1 : end;
            }
        }
        double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r >= 0) {
            t.push_back(dt);
            cpu.push_back(cpu_seconds() - c0);
        }
    }
    std::sort(t.begin(), t.end());
    std::sort(cpu.begin(), cpu.end());
    double mb = (double)size / 1e6;
    std::printf("RESULT %s %s %s min %.1f median %.1f runs %d records %llu check %llu threads 1 cpu %.1f\n",
                many ? "simdjson-many" : "simdjson", simdjson::get_active_implementation()->name().c_str(),
                std::strrchr(argv[1], '/') ? std::strrchr(argv[1], '/') + 1 : argv[1], mb / t.back(),
                mb / t[t.size() / 2], runs, records, check, mb / cpu[cpu.size() / 2]);
    return 0;
}
