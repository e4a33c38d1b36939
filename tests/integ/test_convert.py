"""`ddbload convert` prints the mapped items as DynamoDB JSON lines and writes nothing."""
import json
import os
import unittest

import dltest as T


class Convert(unittest.TestCase):
    def test_local_files_exact_output(self):
        with T.TempDir() as d:
            with open(f"{d}/a.csv", "wb") as f:
                f.write(b'\xef\xbb\xbfid,name,qty\r\n1,"Smith, J",""\r\n2,"say ""hi""",5\r\n')
            with open(f"{d}/b.json", "w") as f:
                f.write('{"id": 3, "tags": ["x", 1.50, true, null], "m": {}, "s": "\\u00e9"}')
            p = T.run("convert", f"{d}/a.csv", f"{d}/b.json", "--key", "id:N")
            self.assertEqual(p.returncode, 0, T.describe(p))
            self.assertEqual(p.stdout_text.splitlines(), [
                '{"id":{"N":"1"},"name":{"S":"Smith, J"}}',
                '{"id":{"N":"2"},"name":{"S":"say \\"hi\\""},"qty":{"S":"5"}}',
                '{"id":{"N":"3"},"tags":{"L":[{"S":"x"},{"N":"1.50"},{"BOOL":true},{"NULL":true}]},"m":{"M":{}},"s":{"S":"é"}}',
            ])

    def test_rejections_exit_2_with_position(self):
        with T.TempDir() as d:
            with open(f"{d}/x.ndjson", "w") as f:
                f.write('{"k":"a"}\n{"k": "b",}\n{"k":"c"}\n')
            p = T.run("convert", f"{d}/x.ndjson", "--key", "k", "--dead-letter", f"{d}/dl.ndjson")
            self.assertEqual(p.returncode, 2, T.describe(p))
            self.assertEqual(p.stdout_text.splitlines(), ['{"k":{"S":"a"}}', '{"k":{"S":"c"}}'])
            self.assertIn(f"{d}/x.ndjson line 2 column 11", p.stderr_text)
            with open(f"{d}/dl.ndjson") as f:
                rec = json.loads(f.readline())
            self.assertEqual(rec["line"], 2)
            self.assertEqual(rec["raw"], '{"k": "b",}')

    def test_convert_reads_key_schema_from_table(self):
        table = T.make_table(pk=("pk", "N"))
        with T.TempDir() as d:
            with open(f"{d}/x.csv", "w") as f:
                f.write("pk,v\n7,a\n")
            p = T.run("convert", f"{d}/x.csv", "--table", table)
            self.assertEqual(p.returncode, 0, T.describe(p))
            self.assertEqual(p.stdout_text, '{"pk":{"N":"7"},"v":{"S":"a"}}\n')
        self.assertEqual(T.scan(table), [])  # nothing written

    def test_convert_s3_prefix(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {"p/one.json": b'[{"a":1},{"a":2}]', "p/two.csv": b"a\nz\n"})
        p = T.run("convert", f"s3://{bucket}/p/")
        self.assertEqual(p.returncode, 0, T.describe(p))
        self.assertEqual(p.stdout_text.splitlines(), ['{"a":{"N":"1"}}', '{"a":{"N":"2"}}', '{"a":{"S":"z"}}'])


class ParallelDecode(unittest.TestCase):
    def test_large_objects_decode_the_same_on_several_threads(self):
        """A 20 MB CSV and NDJSON (over the 16 MiB threshold, so they are cut into chunks and decoded
        on two threads) give byte for byte what one thread gives, bad records included."""
        with T.TempDir() as d:
            csv_path, nd_path = os.path.join(d, "big.csv"), os.path.join(d, "big.ndjson")
            with open(csv_path, "w") as f:
                f.write("id,n,text\n")
                for i in range(260000):
                    f.write(f'u{i},{i},"line with ""quotes"" and, commas\nand a newline {i}"\n' if i % 7 == 0
                            else (f"u{i},{i}\n" if i % 50002 == 1 else f"u{i},{i},plain text {i:08d} {'x' * 40}\n"))
            with open(nd_path, "w") as f:
                for i in range(200000):
                    f.write("{bad json\n" if i % 60013 == 0 else json.dumps({"id": f"u{i}", "n": i, "pad": "y" * 80}) + "\n")
            for path in (csv_path, nd_path):
                self.assertGreater(os.path.getsize(path), 17 << 20)
                one = T.run("convert", path, "--key", "id", "--decode-threads", "1", "--dead-letter", f"{path}.1.dl")
                two = T.run("convert", path, "--key", "id", "--decode-threads", "2", "--dead-letter", f"{path}.2.dl",
                            "--verbose")
                self.assertEqual(one.returncode, 2, T.describe(one))
                self.assertEqual(two.returncode, 2, T.describe(two))
                self.assertIn("on 2 threads", two.stderr_text)
                self.assertEqual(one.stdout, two.stdout)
                with open(f"{path}.1.dl") as f1, open(f"{path}.2.dl") as f2:
                    self.assertEqual(f1.read(), f2.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
