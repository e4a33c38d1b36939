#!/usr/bin/env python3
"""Deterministic benchmark inputs for bench/run-decoders.sh (fixed seeds: the same bytes on
every machine and run).

  gen_inputs.py OUT_DIR [--mb N]

writes, each at least N MB (default 110):
  records.ndjson  realistic NDJSON: nested objects, arrays, unicode strings with escapes,
                  integers and decimals, booleans and nulls (key attribute "id")
  wide.csv        a 30-column CSV, about 20% of the fields quoted (some holding commas,
                  doubled quotes or line breaks), CRLF line ends (key columns id, seq)
  numeric.csv     an unquoted numeric CSV of 12 columns (key column id)
Files that already exist with at least that size are left alone."""
import json
import os
import random
import sys

FIRST = ["Zoë", "José", "Ana", "Łukasz", "Søren", "Chloé", "Müller", "Dmitri", "Aiko", "Mei", "Olu", "Grace",
         "Björn", "Renée", "Nuño", "Siddharth", "Ngozi", "Hana", "Omar", "Ingrid"]
LAST = ["Ångström", "García", "O'Neil", "Nakamura", "Dubois", "Kowalski", "Smith", "Öztürk", "Ivanova",
        "Okafor", "Lefèvre", "Chen", "Rossi", "Haddad", "Nguyễn", "Schmidt"]
CITIES = ["Montréal", "São Paulo", "Zürich", "København", "Kraków", "Tokyo 東京", "Reykjavík", "Paris",
          "New York", "Seoul 서울", "Cairo", "Lagos", "Düsseldorf", "Málaga"]
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua café naïve façade jalapeño über coöperate déjà vu").split()
STATUS = ["new", "paid", "shipped", "delivered", "returned", "cancelled"]


def text(r, lo, hi):
    return " ".join(r.choice(WORDS) for _ in range(r.randint(lo, hi)))


def note(r):
    k = r.random()
    if k < 0.25:
        return 'He said "ok"\nthen left \u2014 ' + text(r, 2, 6)
    if k < 0.4:
        return "path C:\\temp\\" + r.choice(WORDS) + "\ttab \u2713 \U0001F600"
    if k < 0.5:
        return "日本語のテキスト " + text(r, 1, 4)
    return text(r, 3, 14)


def ndjson_record(r, i):
    nitems = r.randint(1, 4)
    rec = {
        "id": "ord-%09d" % i,
        "customer": {
            "id": "c-%06d" % r.randint(0, 999999),
            "name": r.choice(FIRST) + " " + r.choice(LAST),
            "email": "user%d@example.com" % r.randint(0, 10**6),
            "address": {
                "street": "%d %s" % (r.randint(1, 999), text(r, 1, 3)),
                "city": r.choice(CITIES),
                "zip": "%05d" % r.randint(0, 99999),
                "geo": [round(r.uniform(-90, 90), 6), round(r.uniform(-180, 180), 6)],
            },
        },
        "created": "2024-%02d-%02dT%02d:%02d:%02dZ" % (r.randint(1, 12), r.randint(1, 28), r.randint(0, 23),
                                                       r.randint(0, 59), r.randint(0, 59)),
        "status": r.choice(STATUS),
        "total": round(r.uniform(1, 5000), 2),
        "items": [{"sku": "SKU-%05d" % r.randint(0, 99999), "qty": r.randint(1, 9),
                   "price": round(r.uniform(0.5, 999), 2),
                   "tags": [r.choice(WORDS) for _ in range(r.randint(0, 3))]} for _ in range(nitems)],
        "flags": {"gift": r.random() < 0.2, "express": r.random() < 0.5},
        "coupon": None if r.random() < 0.7 else "SAVE%d" % r.randint(5, 50),
        "notes": note(r),
        "score": r.randint(-1000, 1000),
        "ratio": float("%.3e" % r.uniform(0, 1)),
        "big": r.randint(10**12, 10**15),
    }
    return json.dumps(rec, ensure_ascii=r.random() < 0.3, separators=(",", ":"))


def csv_quote(s):
    return '"' + s.replace('"', '""') + '"'


def wide_field(r, j):
    k = r.random()
    if k < 0.20:  # quoted: some with commas, doubled quotes, line breaks
        q = r.random()
        if q < 0.3:
            s = "%s, %s" % (r.choice(LAST), r.choice(FIRST))
        elif q < 0.55:
            s = 'the "%s" edition' % r.choice(WORDS)
        elif q < 0.7:
            s = "line one\nline two " + r.choice(WORDS)
        else:
            s = text(r, 1, 4)
        return csv_quote(s)
    if k < 0.25:
        return ""
    c = j % 6
    if c == 0:
        return str(r.randint(0, 10**6))
    if c == 1:
        return "%.2f" % r.uniform(0, 10000)
    if c == 2:
        return r.choice(CITIES)
    if c == 3:
        return "2023-%02d-%02d" % (r.randint(1, 12), r.randint(1, 28))
    if c == 4:
        return r.choice(WORDS) + "-" + r.choice(WORDS)
    return r.choice(FIRST)


def gen_ndjson(path, nbytes):
    r = random.Random(1)
    with open(path, "w", encoding="utf-8", newline="") as f:
        size, i, buf = 0, 0, []
        while size < nbytes:
            line = ndjson_record(r, i) + "\n"
            buf.append(line)
            size += len(line.encode("utf-8"))
            i += 1
            if len(buf) == 5000:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))


def gen_wide(path, nbytes):
    r = random.Random(2)
    cols = ["id", "seq"] + ["col%02d" % j for j in range(28)]
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(cols) + "\r\n")
        size, i, buf = 0, 0, []
        while size < nbytes:
            row = ",".join(["w%08d" % i, str(i)] + [wide_field(r, j) for j in range(28)]) + "\r\n"
            buf.append(row)
            size += len(row.encode("utf-8"))
            i += 1
            if len(buf) == 5000:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))


def gen_numeric(path, nbytes):
    r = random.Random(3)
    cols = ["id"] + ["n%02d" % j for j in range(11)]
    with open(path, "w", newline="") as f:
        f.write(",".join(cols) + "\n")
        size, i, buf = 0, 0, []
        while size < nbytes:
            vals = [str(i), str(r.randint(0, 10**9)), str(r.randint(-99999, 99999)), "%.4f" % r.uniform(-1000, 1000),
                    str(r.randint(0, 255)), "%.2f" % r.uniform(0, 10**6), str(r.randint(10**10, 10**12)),
                    "%.6f" % r.random(), str(r.randint(0, 1)), str(r.randint(1000, 9999)), "%.1f" % r.uniform(0, 100),
                    str(r.randint(-10**6, 10**6))]
            row = ",".join(vals) + "\n"
            buf.append(row)
            size += len(row)
            i += 1
            if len(buf) == 10000:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    mb = 110
    if "--mb" in sys.argv:
        mb = int(sys.argv[sys.argv.index("--mb") + 1])
    nbytes = mb * 1000 * 1000
    os.makedirs(out, exist_ok=True)
    for name, fn in (("records.ndjson", gen_ndjson), ("wide.csv", gen_wide), ("numeric.csv", gen_numeric)):
        path = os.path.join(out, name)
        if os.path.exists(path) and os.path.getsize(path) >= nbytes:
            continue
        print("generating %s (%d MB)" % (path, mb), file=sys.stderr)
        fn(path + ".tmp", nbytes)
        os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
