"""Hostile and broken input, one case each: every one gives a clear message and a dead letter
(or a skipped object with its reason), and all other records load."""
import io
import json
import os
import struct
import unittest
import zipfile

import dltest as T


def zip_bytes(entries, compress=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


class HostileInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.table = T.make_table(pk=("id", "S"))

    def load(self, files, expect_status=2):
        """Write files into a fresh directory (with one good file), run ddbload on it, return
        (stderr, dead letters, ids in the table from this directory)."""
        with T.TempDir() as d:
            tag = os.path.basename(d)
            os.makedirs(f"{d}/in")
            files = dict(files)
            files["000-good.csv"] = f"id\n{tag}-good\n".encode()
            for name, data in files.items():
                path = f"{d}/in/{name}"
                if callable(data):
                    data(path)
                else:
                    with open(path, "wb") as f:
                        f.write(data)
            p = T.run("run", f"{d}/in", "--table", self.table, "--dead-letter", f"{d}/dl.ndjson", cwd=d)
            self.assertEqual(p.returncode, expect_status, T.describe(p))
            dead = []
            if os.path.exists(f"{d}/dl.ndjson"):
                with open(f"{d}/dl.ndjson") as f:
                    dead = [json.loads(l) for l in f]
        ids = {it["id"]["S"] for it in T.scan(self.table) if it["id"]["S"].startswith(tag)}
        self.assertIn(f"{tag}-good", ids)  # everything else still loads
        return p.stderr_text, dead, ids, tag

    def one_dead(self, dead, *needles):
        self.assertEqual(len(dead), 1, dead)
        for n in needles:
            self.assertIn(n, dead[0]["reason"])
        return dead[0]

    def test_truncated_zip(self):
        z = zip_bytes([("a.csv", "id\nx1\n" * 1000)])
        err, dead, _, _ = self.load({"t.zip": z[: len(z) // 2]})
        self.one_dead(dead, "t.zip", "cannot open the zip archive")

    def test_zip_path_traversal_is_read_never_extracted(self):
        err, dead, ids, tag = self.load({"trav.zip": zip_bytes([("../../x.csv", b"id\ntrav-1\n")])}, expect_status=0)
        self.assertIn("unsafe path", err)
        self.assertEqual(dead, [])

    def test_zip_bomb(self):
        bomb = zip_bytes([("bomb.csv", b"id\n" + b"0" * (200 << 20))])  # 200 MB of zeros -> ~200 KB
        err, dead, _, _ = self.load({"bomb.zip": bomb})
        self.one_dead(dead, "bomb.zip", "zip bomb guard")

    def test_invalid_utf8(self):
        err, dead, ids, tag = self.load({"u.ndjson": b'{"id":"ok-u"}\n{"id":"bad\xff"}\n'})
        d = self.one_dead(dead, "u.ndjson line 2 column", "UTF-8")
        self.assertIn("raw_base64", d)

    def test_unterminated_quote(self):
        err, dead, _, _ = self.load({"q.csv": b'id,v\nq1,ok\nq2,"never closed\nq3,x\n'})
        self.one_dead(dead, "q.csv line 3 column 4", "unterminated quoted field")

    def test_a_2_gb_line(self):
        def write(path):
            with open(path, "wb") as f:
                f.write(b"id,v\n")
                chunk = b"y" * (64 << 20)
                for _ in range(32):
                    f.write(chunk)
                f.write(b"\n")
        err, dead, _, _ = self.load({"huge.csv": write})
        d = self.one_dead(dead, "huge.csv line 2", "larger than")
        self.assertTrue(d["raw_truncated"])
        self.assertEqual(d["raw_bytes"], 2 << 30)
        self.assertLessEqual(len(d["raw"]), 64 << 10)

    def test_500_kb_item(self):
        big = json.dumps({"id": "big", "blob": "z" * 500_000}).encode()
        err, dead, _, _ = self.load({"big.json": big})
        self.one_dead(dead, "400 KB")

    def test_missing_key(self):
        err, dead, _, _ = self.load({"m.ndjson": b'{"other":1}\n'})
        self.one_dead(dead, "missing partition key 'id'")

    def test_key_of_the_wrong_type(self):
        err, dead, _, _ = self.load({"w.ndjson": b'{"id":{"nested":true}}\n'})
        self.one_dead(dead, "key 'id'")

    def test_number_out_of_range(self):
        err, dead, _, _ = self.load({"n.ndjson": b'{"id":"n1","v":1e400}\n'})
        self.one_dead(dead, "out of DynamoDB's range")

    def test_duplicate_header_names(self):
        err, dead, _, _ = self.load({"dup.csv": b"id,a,a\nd1,1,2\n"})
        self.one_dead(dead, "duplicate header name 'a' (columns 2 and 3)")

    def test_empty_files_are_reported_not_fatal(self):
        err, dead, _, _ = self.load({"empty.csv": b"", "empty.json": b"", "header-only.csv": b"id\n"}, expect_status=0)
        self.assertIn("empty.csv: empty, nothing to load", err)
        self.assertIn("header-only.csv: no records (only a header row)", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
