#!/usr/bin/env python3
"""Deterministic input for the bounded-memory measurement (bench/memory/run.sh).

Writes a prefix of NDJSON and CSV objects of various sizes plus one zip into OUT and prints a JSON
summary (objects, bytes, records) on stdout; --manifest FILE gets every object and entry. Records are 1-2 KB
(a base64 payload of 800-1700 characters), every one with a unique string `pk`, so the number of
items a load must write equals the number of records generated.

Layout at --scale 1 (sizes are of the files; MB = 10^6 bytes):
  a/ndjson-big-0.ndjson  500 MB     a/csv-big-0.csv   420 MB
  a/ndjson-big-1.ndjson  320 MB     a/csv-big-1.csv   280 MB
  b/small-NNN.{ndjson,csv}          160 objects, 0.05-70 MB each, log-uniform (~1.5 GB)
  c/export.zip           ~1 GB: entries
      orders-big.ndjson  700 MB deflate   (the >= 500 MB entry)
      items.csv          240 MB stored
      part-NN.{ndjson,csv} 6 x 55 MB deflate
The payload is cut from a pool of random base64 (64 MB), so deflate gains only ~25%: the zip
file is about as large as the data it holds, which keeps "1 GB zip" meaning about 1 GB of records.
Same --seed, same bytes (Python's random.Random is stable across versions for these calls).
"""
import argparse
import base64
import json
import os
import random
import sys
import zipfile

MB = 1000 * 1000


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.pool = base64.b64encode(self.rng.randbytes(48 << 20)).decode("ascii")  # 64 MiB
        self.plen = len(self.pool)

    def chunk(self, tag, start, target_bytes, fmt, header):
        """Yield text chunks (~8 MB) of records until target_bytes are written; returns count."""
        rng, pool, plen = self.rng, self.pool, self.plen
        n = start
        written = 0
        out = []
        size = 0
        if fmt == "csv" and header:
            h = "pk,kind,qty,price,ts,payload\n"
            out.append(h)
            size += len(h)
        while written + size < target_bytes:
            plen_i = 800 + rng.getrandbits(10) % 900
            off = rng.getrandbits(26) % (plen - 2000)
            pay = pool[off:off + plen_i]
            qty = n % 997
            if fmt == "ndjson":
                line = ('{"pk":"%s-%09d","kind":"order","qty":%d,"price":%d.%02d,"ts":"2024-%02d-%02dT%02d:%02d:00Z","payload":"%s"}\n'
                        % (tag, n, qty, n % 10007, n % 100, 1 + n % 12, 1 + n % 28, n % 24, n % 60, pay))
            else:
                line = ('%s-%09d,order,%d,%d.%02d,2024-%02d-%02dT%02d:%02d:00Z,%s\n'
                        % (tag, n, qty, n % 10007, n % 100, 1 + n % 12, 1 + n % 28, n % 24, n % 60, pay))
            out.append(line)
            size += len(line)
            n += 1
            if size >= 8 * MB:
                yield "".join(out)
                written += size
                out, size = [], 0
        if out:
            yield "".join(out)
        self.last_count = n - start


def write_file(g, path, tag, target, fmt):
    with open(path, "w", buffering=16 << 20) as f:
        for c in g.chunk(tag, 0, target, fmt, True):
            f.write(c)
    return g.last_count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=20240513)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size (0.05 for a quick run)")
    ap.add_argument("--manifest", help="write the full summary (every object, every zip entry) here")
    a = ap.parse_args()
    s = a.scale
    g = Gen(a.seed)
    objs = []  # (key, bytes, records, note)

    def plain(key, target, fmt, tag):
        p = os.path.join(a.out, key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        n = write_file(g, p, tag, int(target), fmt)
        objs.append({"key": key, "bytes": os.path.getsize(p), "records": n})

    plain("a/ndjson-big-0.ndjson", 500 * MB * s, "ndjson", "A0")
    plain("a/ndjson-big-1.ndjson", 320 * MB * s, "ndjson", "A1")
    plain("a/csv-big-0.csv", 420 * MB * s, "csv", "A2")
    plain("a/csv-big-1.csv", 280 * MB * s, "csv", "A3")
    # many small objects: log-uniform 0.1-45 MB, alternating formats
    for i in range(160):
        size = 0.05 * MB * (1400 ** g.rng.random()) * s
        fmt = "ndjson" if i % 2 == 0 else "csv"
        plain("b/small-%03d.%s" % (i, fmt), size, fmt, "B%03d" % i)

    zkey = "c/export.zip"
    zp = os.path.join(a.out, zkey)
    os.makedirs(os.path.dirname(zp), exist_ok=True)
    entries = [("orders-big.ndjson", 700 * MB * s, "ndjson", zipfile.ZIP_DEFLATED, "Z0"),
               ("items.csv", 240 * MB * s, "csv", zipfile.ZIP_STORED, "Z1")]
    for k in range(6):
        fmt = "ndjson" if k % 2 == 0 else "csv"
        entries.append(("part-%02d.%s" % (k, fmt), 55 * MB * s, fmt, zipfile.ZIP_DEFLATED, "Z%d" % (k + 2)))
    zrec = 0
    zents = []
    with zipfile.ZipFile(zp, "w", allowZip64=True) as zf:
        for name, target, fmt, method, tag in entries:
            zi = zipfile.ZipInfo(name, date_time=(2024, 5, 13, 12, 0, 0))
            zi.compress_type = method
            for attr in ("compress_level", "_compresslevel"):  # Python >= 3.13, older
                try:
                    setattr(zi, attr, 1)
                    break
                except AttributeError:
                    pass
            ebytes = 0
            with zf.open(zi, "w", force_zip64=True) as w:
                for c in g.chunk(tag, 0, int(target), fmt, True):
                    b = c.encode("ascii")
                    ebytes += len(b)
                    w.write(b)
            zrec += g.last_count
            zents.append({"name": name, "bytes": ebytes, "records": g.last_count,
                          "method": "stored" if method == zipfile.ZIP_STORED else "deflate"})
    with zipfile.ZipFile(zp) as zf:
        for e, zi in zip(zents, zf.infolist()):
            e["compressed"] = zi.compress_size
    objs.append({"key": zkey, "bytes": os.path.getsize(zp), "records": zrec, "entries": zents})

    summary = {"seed": a.seed, "scale": s, "objects": len(objs),
               "bytes": sum(o["bytes"] for o in objs),
               "records": sum(o["records"] for o in objs),
               "zip_bytes": os.path.getsize(zp),
               "zip_expanded": sum(e["bytes"] for e in zents),
               "list": objs}
    if a.manifest:
        with open(a.manifest, "w") as f:
            json.dump(summary, f, indent=1)
    json.dump({k: v for k, v in summary.items() if k != "list"}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
