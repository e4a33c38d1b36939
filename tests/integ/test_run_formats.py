"""A prefix with > 1,000 objects of every supported format is loaded by `ddbload run` from
s3rver into dynalite, then read back with boto3 and compared item by item, types included,
with what an independent model of DESIGN.md's mapping rules expects."""
import csv
import gzip
import io
import json
import random
import shutil
import subprocess
import unittest
import zipfile

import dltest as T


def csv_bytes(header, rows, crlf=False, bom=False, delim=","):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator="\r\n" if crlf else "\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


WORDS = ["alpha", "beta", "gamma", "delta", "Zoë", "Łódź", "東京", "naïve café", "emoji 🚀", "tab\there",
         'quote "q"', "comma, inside", "multi\nline", "back\\slash", "  padded  "]
NUMBERS = ["0", "-3", "12.5", "1e3", "0.000123", "12345678901234567890", "-0.5E-7", "99.990"]


class Corpus:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.n = 0
        self.objects = {}     # key -> bytes
        self.records = {}     # key -> list of expected items in record order (None for zip: see below)

    def uid(self):
        self.n += 1
        return f"u{self.n:06d}-{self.rng.randrange(16**6):06x}"

    def word(self):
        return self.rng.choice(WORDS)

    def csv_rows(self, k):
        header = ["uuid", "name", "city", "notes", "名前 with space"]
        rows = []
        for _ in range(k):
            rows.append([self.uid(), self.word(), self.rng.choice(["Paris", "", "Oslo"]), self.word(),
                         self.rng.choice(["x", "", "ÿ"])])
        return header, rows

    def json_obj(self):
        num = T.Num(self.rng.choice(NUMBERS))
        return {"uuid": self.uid(), "userID": f"user{self.rng.randrange(100)}", "event": self.word(),
                "data": {"page": "/p/" + self.word(), "ms": num, "tags": [self.word(), self.word()],
                         "ok": self.rng.random() < 0.5, "none": None, "nested": {"deep": [1 if False else T.Num("1"), {"x": "y"}]}},
                "$price": T.Num("19.99"), "empty_list": [], "empty_map": {}}

    @staticmethod
    def dump(o, indent=None):
        """JSON text that keeps each number's text as written; indent=N pretty-prints."""
        def enc(v, depth):
            nl = "" if indent is None else "\n" + " " * (indent * (depth + 1))
            end = "" if indent is None else "\n" + " " * (indent * depth)
            sep = ":" if indent is None else ": "
            if isinstance(v, T.Num):
                return str(v)
            if isinstance(v, dict):
                if not v:
                    return "{}"
                return "{" + ",".join(nl + json.dumps(k, ensure_ascii=False) + sep + enc(x, depth + 1)
                                      for k, x in v.items()) + end + "}"
            if isinstance(v, list):
                if not v:
                    return "[]"
                return "[" + ",".join(nl + enc(x, depth + 1) for x in v) + end + "]"
            return json.dumps(v, ensure_ascii=False)
        return enc(o, 0)


KEY = {"uuid": "S"}


def build(c):
    """Fill c.objects and return the expected items in source order."""
    expected = []   # (object key, list of items) appended per object; sorted by key later
    per_object = {}
    for i in range(400):
        h, rows = c.csv_rows(c.rng.randrange(1, 5))
        key = f"data/csv/part-{i:04d}.csv"
        c.objects[key] = csv_bytes(h, rows, crlf=i % 3 == 0, bom=i % 7 == 0)
        per_object[key] = [T.csv_item(h, r, KEY) for r in rows]
    for i in range(50):
        h, rows = c.csv_rows(3)
        rows = [[f.replace("\t", " ").replace("\n", " ") for f in r] for r in rows]
        key = f"data/tsv/t-{i:03d}.tsv"
        c.objects[key] = csv_bytes(h, rows, delim="\t")
        per_object[key] = [T.csv_item(h, r, KEY) for r in rows]
    for i in range(300):
        o = c.json_obj()
        key = f"events/2024/01/evt {i:04d}.json"
        text = c.dump(o, indent=2) if i % 2 else c.dump(o)
        c.objects[key] = text.encode()
        per_object[key] = [T.json_item(o, KEY)]
    for i in range(150):
        objs = [c.json_obj() for _ in range(c.rng.randrange(2, 5))]
        key = f"arrays/batch+{i:03d}.json"
        c.objects[key] = ("[\n" + ",\n".join(c.dump(o) for o in objs) + "\n]\n").encode()
        per_object[key] = [T.json_item(o, KEY) for o in objs]
    for i in range(200):
        objs = [c.json_obj() for _ in range(c.rng.randrange(3, 7))]
        key = f"nd/ü-{i:03d}.ndjson"
        c.objects[key] = "".join(c.dump(o) + ("\r\n" if i % 5 == 0 else "\n") for o in objs).encode()
        per_object[key] = [T.json_item(o, KEY) for o in objs]
    for i in range(60):
        buf = io.BytesIO()
        items = []
        with zipfile.ZipFile(buf, "w") as z:
            h, rows = c.csv_rows(4)
            z.writestr("export/", b"")
            z.writestr(zipfile.ZipInfo("export/customers.csv"), csv_bytes(h, rows),
                       compress_type=zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED)
            items += [T.csv_item(h, r, KEY) for r in rows]
            objs = [c.json_obj() for _ in range(3)]
            z.writestr("export/events.json", "[" + ",".join(c.dump(o) for o in objs) + "]",
                       compress_type=zipfile.ZIP_DEFLATED)
            items += [T.json_item(o, KEY) for o in objs]
            z.writestr("__MACOSX/export/._customers.csv", b"\x00\x05\x16\x07junk")
            objs = [c.json_obj() for _ in range(2)]
            z.writestr("more/deeper/extra.ndjson", "\n".join(c.dump(o) for o in objs), compress_type=zipfile.ZIP_DEFLATED)
            items += [T.json_item(o, KEY) for o in objs]
        key = f"zips/archive-{i:03d}.zip"
        c.objects[key] = buf.getvalue()
        per_object[key] = items
    for i in range(30):
        h, rows = c.csv_rows(3)
        key = f"gz/part-{i:03d}.csv.gz"
        c.objects[key] = gzip.compress(csv_bytes(h, rows))
        per_object[key] = [T.csv_item(h, r, KEY) for r in rows]
    if shutil.which("zstd"):
        for i in range(20):
            objs = [c.json_obj() for _ in range(3)]
            raw = "\n".join(c.dump(o) for o in objs).encode()
            key = f"zst/part-{i:03d}.ndjson.zst"
            c.objects[key] = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
            per_object[key] = [T.json_item(o, KEY) for o in objs]
    for i in range(10):  # no extension: the content decides
        if i % 2:
            objs = [c.json_obj() for _ in range(2)]
            c.objects[f"noext/obj-{i}"] = "\n".join(c.dump(o) for o in objs).encode()
            per_object[f"noext/obj-{i}"] = [T.json_item(o, KEY) for o in objs]
        else:
            h, rows = c.csv_rows(2)
            c.objects[f"noext/obj-{i}"] = csv_bytes(h, rows)
            per_object[f"noext/obj-{i}"] = [T.csv_item(h, r, KEY) for r in rows]
    # the ordering rule: the same uuid in an earlier and a later object: the later record wins
    first = per_object["data/csv/part-0001.csv"][0]["uuid"]["S"]
    o = c.json_obj()
    o["uuid"] = first
    o["event"] = "the later record"
    c.objects["zz-last/override.json"] = c.dump(o).encode()
    per_object["zz-last/override.json"] = [T.json_item(o, KEY)]
    # S3 lists keys in UTF-8 byte order; the expected table applies records in that order
    for key in sorted(per_object, key=lambda k: k.encode()):
        expected.extend(per_object[key])
    return expected


class RunFormats(unittest.TestCase):
    def test_thousand_objects_every_format(self):
        c = Corpus(2026)
        expected_seq = build(c)
        self.assertGreater(len(c.objects), 1000)
        bucket = T.make_bucket()
        T.put_objects(bucket, c.objects)
        table = T.make_table()
        with T.TempDir() as d:
            p = T.run("run", f"s3://{bucket}", "--table", table, "--dead-letter", f"{d}/dl.ndjson", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        expected = {}
        for item in expected_seq:
            expected[item["uuid"]["S"]] = item
        got = {it["uuid"]["S"]: it for it in T.scan(table)}
        self.assertEqual(len(got), len(expected), "item count")
        mismatches = [k for k in expected if k not in got or T.norm_item(got[k]) != T.norm_item(expected[k])]
        self.assertFalse(mismatches, "first mismatches:\n" + "\n".join(
            f"{k}:\n  expected {expected[k]}\n  got      {got.get(k)}" for k in mismatches[:3]))
        self.assertEqual(got[expected_seq[0]["uuid"]["S"]]["uuid"]["S"], expected_seq[0]["uuid"]["S"])
        override = [v for v in got.values() if v.get("event", {}).get("S") == "the later record"]
        self.assertEqual(len(override), 1)
        self.assertIn("items written", p.stderr_text)

    def test_composite_key_with_number_sort_key(self):
        """CSV cells are S, but a key attribute takes the table's type: seq becomes N."""
        bucket = T.make_bucket()
        rows = [["a", "1", "x"], ["a", "2", "y"], ["b", "10", ""], ["a", "1", "later wins"]]
        T.put_objects(bucket, {"in/k.csv": csv_bytes(["pk", "seq", "v"], rows)})
        table = T.make_table(pk=("pk", "S"), sk=("seq", "N"))
        with T.TempDir() as d:
            p = T.run("run", f"s3://{bucket}/in/", "--table", table, cwd=d)
        self.assertEqual(p.returncode, 0, T.describe(p))
        got = sorted(T.scan(table), key=lambda it: (it["pk"]["S"], int(it["seq"]["N"])))
        self.assertEqual(got, [
            {"pk": {"S": "a"}, "seq": {"N": "1"}, "v": {"S": "later wins"}},
            {"pk": {"S": "a"}, "seq": {"N": "2"}, "v": {"S": "y"}},
            {"pk": {"S": "b"}, "seq": {"N": "10"}},
        ])

    def test_local_directory_source(self):
        table = T.make_table()
        with T.TempDir() as d:
            import os
            os.makedirs(f"{d}/src/sub")
            with open(f"{d}/src/a.csv", "wb") as f:
                f.write(csv_bytes(["uuid", "n"], [["l1", "one"], ["l2", "two"]]))
            with open(f"{d}/src/sub/b.ndjson", "w") as f:
                f.write('{"uuid":"l3","n":3}\n{"uuid":"l1","n":"replaced"}\n')
            with open(f"{d}/src/.hidden.csv", "w") as f:
                f.write("uuid\nhidden\n")
            p = T.run("run", f"{d}/src", "--table", table, cwd=d)
        self.assertEqual(p.returncode, 0, T.describe(p))
        got = {it["uuid"]["S"]: it for it in T.scan(table)}
        self.assertEqual(got, {
            "l1": {"uuid": {"S": "l1"}, "n": {"S": "replaced"}},
            "l2": {"uuid": {"S": "l2"}, "n": {"S": "two"}},
            "l3": {"uuid": {"S": "l3"}, "n": {"N": "3"}},
        })


if __name__ == "__main__":
    unittest.main(verbosity=2)
