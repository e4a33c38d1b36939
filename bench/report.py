#!/usr/bin/env python3
"""Turn bench/run-decoders.sh's RESULT lines into the markdown table and target checks.

  report.py RESULTS_TXT [NCPUS]"""
import sys

NAMES = {
    "csv-items": "ddbload CSV -> items (dl_csvfast_next_item: plain records straight to items, as decode.c reads)",
    "csv-items-rows": "ddbload CSV -> items, every record as a row (dl_csvfast + dl_item_from_csv_prepared)",
    "csv-items-call": "ddbload CSV -> items, per-call builder (dl_csvfast + dl_item_from_csv)",
    "csv-items-ref": "ddbload CSV -> items, scalar reader (dl_csv + dl_item_from_csv_prepared)",
    "csv-rows": "ddbload CSV rows only (dl_csvfast)",
    "json-items": "ddbload JSON -> items (dl_jsonfast)",
    "json-items-ref": "ddbload JSON -> items, scalar (dl_jsonrec_next + dl_item_from_json)",
    "chunked-csv": "ddbload chunked CSV -> items",
    "chunked-ndjson": "ddbload chunked NDJSON -> items",
    "libcsv": "libcsv 3.0.3 parse (field + row callbacks)",
    "jansson": "jansson 2.14 parse + dump (per line)",
    "json-c": "json-c 0.16 parse + to_json_string (per line)",
    "simdjson": "simdjson 3.0.1 DOM parse (per line)",
    "simdjson-many": "simdjson 3.0.1 parse_many (whole buffer)",
}


def main():
    rows, notes, rss = [], [], None
    for line in open(sys.argv[1]):
        f = line.split()
        if not f:
            continue
        if f[0] == "RESULT":
            kv = dict(zip(f[4::2], f[5::2]))
            rows.append({"mode": f[1], "kernel": f[2], "file": f[3], "min": float(kv["min"]),
                         "median": float(kv["median"]), "runs": kv["runs"], "threads": int(kv.get("threads", 1)),
                         "records": kv["records"], "cpu": float(kv["cpu"]) if "cpu" in kv else None})
        elif f[0] == "RSS":
            rss = f
        elif f[0] == "SKIP":
            notes.append(line.strip())
    ncpu = sys.argv[2] if len(sys.argv) > 2 else "?"
    out = []
    out.append("| measurement | input | kernel | threads | min MB/s | median MB/s | MB per CPU-s |")
    out.append("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        out.append("| %s | %s | %s | %d | %.0f | %.0f | %s |" % (
            NAMES.get(r["mode"], r["mode"]), r["file"], r["kernel"], r["threads"], r["min"], r["median"],
            "%.0f" % r["cpu"] if r["cpu"] is not None else "-"))
    print("\n".join(out))
    if notes:
        print()
        for n in notes:
            print("- " + n)

    def best(mode, file, threads=None):
        c = [r for r in rows if r["mode"] == mode and r["file"] == file and (threads is None or r["threads"] == threads)]
        return max(c, key=lambda r: r["median"]) if c else None

    print()
    print("Targets (ddbload figures: the best kernel's median; %s CPUs):" % ncpu)
    print()
    print("| target | measured | met |")
    print("| --- | --- | :---: |")

    def ratio(name, a, b, want):
        if not a or not b:
            print("| %s | not measured | - |" % name)
            return
        r = a["median"] / b["median"]
        print("| %s | %.0f / %.0f MB/s = %.2fx | %s |" % (name, a["median"], b["median"], r, "yes" if r >= want else "**no**"))

    j = best("json-items", "records.ndjson")
    ratio("JSON -> items >= 0.5x simdjson DOM parse", j, best("simdjson", "records.ndjson"), 0.5)
    ratio("JSON -> items >= 5x jansson parse + dump", j, best("jansson", "records.ndjson"), 5)
    ratio("JSON -> items >= 5x json-c parse + dump", j, best("json-c", "records.ndjson"), 5)
    for f in ("wide.csv", "numeric.csv"):
        ratio("CSV -> items >= 5x libcsv (%s)" % f, best("csv-items", f), best("libcsv", f), 5)
    n = best("csv-items", "numeric.csv")
    if n:
        print("| CSV -> items >= 1 GB/s on the unquoted CSV | %.0f MB/s | %s |" % (n["median"], "yes" if n["median"] >= 1000 else "**no**"))
    for mode, f in (("chunked-csv", "wide.csv"), ("chunked-csv", "numeric.csv"), ("chunked-ndjson", "records.ndjson")):
        ratio("chunked %s, 2 threads >= 1.7x 1 thread" % f, best(mode, f, 2), best(mode, f, 1), 1.7)
    if rss:
        kb = rss[rss.index("kb") + 1]
        size = int(rss[rss.index("bytes") + 1])
        ok = kb.isdigit() and int(kb) < 64 * 1024
        print("| `ddbload convert` peak RSS < 64 MB on %.1f GB NDJSON | %s MB | %s |" % (
            size / 1e9, "%.0f" % (int(kb) / 1024) if kb.isdigit() else "?", "yes" if ok else "**no**"))


if __name__ == "__main__":
    main()
