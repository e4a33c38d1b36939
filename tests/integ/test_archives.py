"""Archives people actually have (issue 6): key filters, DynamoDB "export to S3" prefixes with
every attribute type, compressed objects, and zip entries compressed with zstd (method 93)."""
import base64
import binascii
import gzip
import io
import json
import struct
import subprocess
import unittest
import zipfile

import dltest as T


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


def zip_with_zstd_entry(name, data):
    """A zip whose only entry is zstd-compressed (method 93). Python's zipfile cannot write that,
    so write a stored entry holding the zstd frame and patch method, sizes and CRC."""
    frame = zstd(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(name, frame)
    b = bytearray(buf.getvalue())
    crc = binascii.crc32(data) & 0xFFFFFFFF
    assert b[:4] == b"PK\x03\x04"
    struct.pack_into("<H", b, 8, 93)
    struct.pack_into("<III", b, 14, crc, len(frame), len(data))
    cd = b.index(b"PK\x01\x02")
    struct.pack_into("<H", b, cd + 10, 93)
    struct.pack_into("<III", b, cd + 16, crc, len(frame), len(data))
    return bytes(b)


class Archives(unittest.TestCase):
    def test_include_exclude_start_after(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {
            "in/2024/a.zip": zip_bytes([("x.csv", "uuid\nzip-a\n")]),
            "in/2024/b.csv": b"uuid\ncsv-b\n",
            "in/2024/old/c.zip": zip_bytes([("x.csv", "uuid\nzip-c\n")]),
            "in/2025/d.zip": zip_bytes([("x.csv", "uuid\nzip-d\n")]),
        })
        table = T.make_table()
        p = T.run("run", f"s3://{bucket}/in/", "--table", table, "--include", "*.zip", "--exclude", "**/old/**",
                  "--start-after", "in/2024/a.zip")
        self.assertEqual(p.returncode, 0, T.describe(p))
        self.assertEqual(sorted(it["uuid"]["S"] for it in T.scan(table)), ["zip-d"])
        p = T.run("run", f"s3://{bucket}/in/", "--table", table, "--include", "2024/*")
        self.assertEqual(p.returncode, 0, T.describe(p))
        self.assertEqual(sorted(it["uuid"]["S"] for it in T.scan(table)), ["csv-b", "zip-a", "zip-d"])
        p = T.run("run", "x", "--table", table, "--include", "[a-")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--include '[a-'", p.stderr_text)

    def test_dynamodb_export_prefix_restores_every_type(self):
        items = [
            {"pk": {"S": "e1"}, "n": {"N": "12.50"}, "b": {"B": base64.b64encode(b"\x00\xffbin").decode()},
             "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [base64.b64encode(b"a").decode()]},
             "l": {"L": [{"S": "v"}, {"N": "3"}, {"NULL": True}]}, "m": {"M": {"t": {"BOOL": True}}},
             "z": {"NULL": True}, "bool": {"BOOL": False}},
            {"pk": {"S": "e2"}, "s": {"S": "ünïcode"}},
            {"pk": {"S": "e3"}, "empty": {"S": ""}, "el": {"L": []}, "em": {"M": {}}},
        ]
        lines = "".join(json.dumps({"Item": it}) + "\n" for it in items).encode()
        bucket = T.make_bucket()
        base = "exports/AWSDynamoDB/01700000000000-abcdef12"
        T.put_objects(bucket, {
            f"{base}/manifest-summary.json": json.dumps({"version": "2020-06-30", "itemCount": 3,
                                                         "outputFormat": "DYNAMODB_JSON"}).encode(),
            f"{base}/manifest-files.json": json.dumps({"itemCount": 3, "dataFileS3Key": f"{base}/data/a.json.gz"}).encode(),
            f"{base}/manifest-summary.md5": b"abc",
            f"{base}/manifest-files.md5": b"def",
            f"{base}/_started": b"",
            f"{base}/data/a.json.gz": gzip.compress(lines[: lines.index(b"\n") + 1]),
            f"{base}/data/b.json.gz": gzip.compress(lines[lines.index(b"\n") + 1:]),
        })
        table = T.make_table(pk=("pk", "S"))
        p = T.run("run", f"s3://{bucket}/exports/", "--table", table)
        self.assertEqual(p.returncode, 0, T.describe(p))
        self.assertIn("DynamoDB export", p.stderr_text)
        got = {it["pk"]["S"]: it for it in T.scan(table)}
        self.assertEqual(set(got), {"e1", "e2", "e3"})
        for it in items:
            self.assertEqual(T.norm_item(got[it["pk"]["S"]]), T.norm_item(it), it["pk"])

    def test_zstd_zip_entries_and_compressed_objects(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {
            "z/method93.zip": zip_with_zstd_entry("in/rows.csv", b"uuid,v\nz93-1,a\nz93-2,b\n"),
            "z/obj.ndjson.zst": zstd(b'{"uuid":"zst-1"}\n{"uuid":"zst-2"}\n'),
            "z/obj.csv.gz": gzip.compress(b"uuid\ngz-1\n"),
        })
        table = T.make_table()
        p = T.run("run", f"s3://{bucket}/z/", "--table", table)
        self.assertEqual(p.returncode, 0, T.describe(p))
        got = {it["uuid"]["S"]: it for it in T.scan(table)}
        self.assertEqual(set(got), {"z93-1", "z93-2", "zst-1", "zst-2", "gz-1"})
        self.assertEqual(got["z93-2"], {"uuid": {"S": "z93-2"}, "v": {"S": "b"}})


class JavaScriptItems(unittest.TestCase):
    def test_js_item_files_load_and_code_is_refused(self):
        good = b"""// seed data for the Movies table
module.exports = [
  {Name: 'The Amazing Spider-Man 2', Year: 2014, Genres: ['Action', 'Sci-Fi'], /* note */ Rating: 6.6,},
  {"Name": "Prisoners", Year: 2013, Info: {Directors: [`Denis Villeneuve`], Budget: 0x2FAF080}, Extra: undefined},
];
"""
        bad = b"export default [\n  {Name: 'X', Released: new Date('2020-01-01')},\n];\n"
        bucket = T.make_bucket()
        T.put_objects(bucket, {"seed/test.js": good, "seed/zz-bad.mjs": bad})
        table = T.make_table(pk=("Name", "S"))
        with T.TempDir() as d:
            p = T.run("run", f"s3://{bucket}/seed/", "--table", table, "--dead-letter", f"{d}/dl.ndjson")
            self.assertEqual(p.returncode, 2, T.describe(p))
            with open(f"{d}/dl.ndjson") as f:
                dead = [json.loads(l) for l in f]
        got = {it["Name"]["S"]: it for it in T.scan(table)}
        self.assertEqual(got["The Amazing Spider-Man 2"], {
            "Name": {"S": "The Amazing Spider-Man 2"}, "Year": {"N": "2014"},
            "Genres": {"L": [{"S": "Action"}, {"S": "Sci-Fi"}]}, "Rating": {"N": "6.6"}})
        self.assertEqual(T.norm_item(got["Prisoners"]), T.norm_item({
            "Name": {"S": "Prisoners"}, "Year": {"N": "2013"},
            "Info": {"M": {"Directors": {"L": [{"S": "Denis Villeneuve"}]}, "Budget": {"N": "50000000"}}}}))
        self.assertEqual(len(dead), 1)
        self.assertIn("zz-bad.mjs line 2 column", dead[0]["reason"])
        self.assertIn("new", dead[0]["reason"])


class Manifests(unittest.TestCase):
    def test_manifest_routes_files_to_tables_and_creates_missing_ones(self):
        orders = T.unique("Orders")
        customers = T.unique("Customers")
        T.make_table(customers, pk=("id", "S"))  # exists; the other is created
        default = T.make_table()
        manifest = {"files": [
            {"file": "data/orders.csv", "table_name": orders, "partition_key": "order_id", "sort_key": "line_no",
             "key_types": {"order_id": "S", "line_no": "N"}},
            {"file": "data/customers.ndjson", "TableName": customers, "pk": {"name": "id", "type": "S"}},
        ]}
        z1 = zip_bytes([("manifest.json", json.dumps(manifest)),
                        ("data/orders.csv", "order_id,line_no,sku\no1,1,A\no1,2,B\no2,1,C\n"),
                        ("data/customers.ndjson", '{"id":"c1","name":"Ann"}\n{"id":"c2","name":"Bo"}\n'),
                        ("data/unlisted.csv", "uuid\ndefault-1\n")])
        # the sidecar form: orders2.csv + orders2.json
        z2 = zip_bytes([("orders2.csv", "order_id,line_no\no9,7\n"),
                        ("orders2.json", json.dumps({"tablename": orders, "hash_key": "order_id",
                                                     "range_key": {"name": "line_no", "type": "N"}}))])
        bucket = T.make_bucket()
        T.put_objects(bucket, {"dumps/a.zip": z1, "dumps/b.zip": z2})
        p = T.run("run", f"s3://{bucket}/dumps/", "--table", default)
        self.assertEqual(p.returncode, 0, T.describe(p))
        self.assertIn(f"creating table '{orders}'", p.stderr_text)
        got = sorted((it["order_id"]["S"], int(it["line_no"]["N"]), it.get("sku", {}).get("S")) for it in T.scan(orders))
        self.assertEqual(got, [("o1", 1, "A"), ("o1", 2, "B"), ("o2", 1, "C"), ("o9", 7, None)])
        desc = T.ddb().describe_table(TableName=orders)["Table"]
        self.assertEqual(desc["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual({d["AttributeName"]: d["AttributeType"] for d in desc["AttributeDefinitions"]},
                         {"order_id": "S", "line_no": "N"})
        self.assertEqual(sorted(it["id"]["S"] for it in T.scan(customers)), ["c1", "c2"])
        self.assertEqual([it["uuid"]["S"] for it in T.scan(default)], ["default-1"])

    def test_no_create_skips_the_files_of_a_missing_table(self):
        missing = T.unique("Missing")
        default = T.make_table()
        z = zip_bytes([("manifest.json", json.dumps({"files": [{"file": "m.csv", "table": missing, "pk": "k"}]})),
                       ("m.csv", "k\nx\n"), ("d.csv", "uuid\nd1\n")])
        bucket = T.make_bucket()
        T.put_objects(bucket, {"z.zip": z})
        with T.TempDir() as d:
            p = T.run("run", f"s3://{bucket}/", "--table", default, "--no-create", "--dead-letter", f"{d}/dl.ndjson")
            self.assertEqual(p.returncode, 2, T.describe(p))
            with open(f"{d}/dl.ndjson") as f:
                dead = [json.loads(l) for l in f]
        self.assertEqual(len(dead), 1)
        self.assertIn("does not exist (and --no-create was given)", dead[0]["reason"])
        self.assertEqual(dead[0]["entry"], "m.csv")
        self.assertEqual([it["uuid"]["S"] for it in T.scan(default)], ["d1"])


def zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


if __name__ == "__main__":
    unittest.main(verbosity=2)
