"""A prefix with some bad records loads everything else and dead-letters exactly the bad ones,
each with its reason, source object, record number and line; the run exits 2."""
import json
import unittest
import zipfile
import io

import dltest as T

BIG = "x" * 410_000  # over DynamoDB's 400 KB item limit

OBJECTS = {
    "in/good.csv": b"uuid,name\ng1,one\ng2,two\n",
    # line 3: ragged; line 4: empty key; line 5 starts an unterminated quote
    "in/people.csv": b'uuid,name,city\np1,Ann,Oslo\np2,Bob\n,NoKey,Rome\np3,"Cy,Lima\n',
    # line 2: invalid JSON; line 3: number out of range; line 4: no uuid; line 5: fine
    "in/events.ndjson": (b'{"uuid":"e1","n":1}\n{"uuid":"e2","n":}\n{"uuid":"e3","n":1e400}\n'
                         b'{"id":"e4"}\n{"uuid":"e5","s":"ok"}\n'),
    # element 2 is not an object
    "in/array.json": b'[{"uuid":"a1"}, 42, {"uuid":"a3","big":"' + BIG.encode() + b'"}, {"uuid":"a4"}]',
    # invalid UTF-8 inside a CSV cell (line 3)
    "in/latin1.csv": b"uuid,name\nl1,fine\nl2,caf\xe9\n",
    # cannot tell the format: skipped whole
    "in/garbage.bin": bytes(range(256)) * 4,
}


def zip_with_bad_entry():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ok.csv", "uuid,v\nz1,1\n")
        z.writestr("bad.json", '{"uuid":"z2", "v": tru}')
    return buf.getvalue()


class BadRecords(unittest.TestCase):
    def test_bad_records_are_dead_lettered_and_the_rest_loads(self):
        bucket = T.make_bucket()
        objs = dict(OBJECTS)
        objs["in/zipped.zip"] = zip_with_bad_entry()
        T.put_objects(bucket, objs)
        table = T.make_table()
        with T.TempDir() as d:
            dl = f"{d}/dead.ndjson"
            p = T.run("run", f"s3://{bucket}/in/", "--table", table, "--dead-letter", dl, cwd=d)
            self.assertEqual(p.returncode, 2, T.describe(p))
            with open(dl) as f:
                dead = [json.loads(line) for line in f]
        got = sorted(it["uuid"]["S"] for it in T.scan(table))
        self.assertEqual(got, ["a1", "a4", "e1", "e5", "g1", "g2", "l1", "p1", "z1"])

        def find(source_suffix, **kw):
            hits = [r for r in dead if r.get("source", "").endswith(source_suffix)
                    and all(r.get(k) == v for k, v in kw.items())]
            self.assertEqual(len(hits), 1, f"{source_suffix} {kw}: {json.dumps(dead, indent=1)[:3000]}")
            return hits[0]

        r = find("people.csv", line=3)
        self.assertIn("row has 2 fields, the header has 3", r["reason"])
        self.assertEqual(r["raw"], "p2,Bob")
        self.assertEqual(r["record"], 2)
        r = find("people.csv", line=4)
        self.assertIn("partition key 'uuid' is empty", r["reason"])
        r = find("people.csv", line=5)
        self.assertIn("unterminated quoted field", r["reason"])
        self.assertEqual(r["column"], 4)
        r = find("events.ndjson", line=2)
        self.assertIn(f"s3://{bucket}/in/events.ndjson line 2 column", r["reason"])
        self.assertIn('"uuid":"e2"', r["raw"])
        r = find("events.ndjson", line=3)
        self.assertIn("range", r["reason"])
        r = find("events.ndjson", line=4)
        self.assertIn("missing partition key 'uuid'", r["reason"])
        r = find("array.json", record=2)
        self.assertIn("not an object", r["reason"])
        r = find("array.json", record=3)
        self.assertIn("400 KB", r["reason"])
        r = find("latin1.csv", line=3)
        self.assertIn("UTF-8", r["reason"])
        r = find("garbage.bin")
        self.assertIn("skipped", r["reason"])
        r = find("zipped.zip", entry="bad.json")
        self.assertIn("entry bad.json line 1 column", r["reason"])
        self.assertEqual(len(dead), 11, json.dumps(dead, indent=1)[:4000])
        # every dead letter names where it came from
        for r in dead:
            self.assertTrue(r["source"].startswith(f"s3://{bucket}/in/"), r)
        self.assertIn("11 records dead-lettered", p.stderr_text)

    def test_clean_run_leaves_no_dead_letter_file(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {"ok.csv": b"uuid\nx\n"})
        table = T.make_table()
        import os
        with T.TempDir() as d:
            p = T.run("run", f"s3://{bucket}", "--table", table, cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
            self.assertEqual([f for f in os.listdir(d) if "dead-letter" in f], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
