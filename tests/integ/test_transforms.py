"""Per-record transforms through the real binary (docs/transforms.md): enrichment with --set,
--rename and --drop; typed CSV (--types, --infer-types, --columns, --delimiter, --quote) with the
rows that do not convert dead-lettered; Put/Delete from an operation field, the last operation
on a key winning; and --key-seq numbering. What landed is read back with boto3."""
import json
import os
import re
import time
import unittest

import dltest as T


def dead_letters(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


def by(items, attr):
    return {it[attr]["S"] if "S" in it[attr] else it[attr]["N"]: it for it in items}


class Enrichment(unittest.TestCase):
    """--set source={key} --set timestamp={now_ms}:N --set ln={line}:N --rename old=new --drop junk"""

    def test_set_rename_drop_on_csv_and_ndjson(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {
            # c2's cell spans two lines: c3 starts on line 5
            "in/a.csv": b"uuid,old,junk,v\nc1,o1,j1,x\nc2,\"o2\nmore\",j2,\nc3,o3,,z\n",
            "in/b.ndjson": (b'{"uuid":"n1","old":"on1","junk":{"big":[1,2]},"v":1}\n'
                            b'{"uuid":"n2","old":5,"new":"replaced by old"}\n'
                            b'{"uuid":"n3"}\n'),
        })
        table = T.make_table()
        with T.TempDir() as d:
            t0 = int(time.time() * 1000)
            p = T.run("run", f"s3://{bucket}/in/", "--table", table, "--set", "source={key}",
                      "--set", "timestamp={now_ms}:N", "--set", "ln={line}:N", "--rename", "old=new",
                      "--drop", "junk", cwd=d)
            t1 = int(time.time() * 1000)
            self.assertEqual(p.returncode, 0, T.describe(p))
        got = by(T.scan(table), "uuid")
        self.assertEqual(set(got), {"c1", "c2", "c3", "n1", "n2", "n3"})
        lines = {"c1": 2, "c2": 3, "c3": 5, "n1": 1, "n2": 2, "n3": 3}
        for u, it in got.items():
            obj = "in/a.csv" if u.startswith("c") else "in/b.ndjson"
            self.assertEqual(it["source"], {"S": obj}, u)
            self.assertEqual(it["ln"], {"N": str(lines[u])}, u)
            self.assertEqual(set(it["timestamp"]), {"N"}, u)
            self.assertTrue(t0 <= int(it["timestamp"]["N"]) <= t1, (u, it["timestamp"], t0, t1))
            self.assertNotIn("junk", it, u)
            self.assertNotIn("old", it, u)
        # every attribute and its type, item by item (timestamps aside)
        def rest(u):
            return {k: v for k, v in got[u].items() if k not in ("source", "ln", "timestamp")}
        self.assertEqual(rest("c1"), {"uuid": {"S": "c1"}, "new": {"S": "o1"}, "v": {"S": "x"}})
        self.assertEqual(rest("c2"), {"uuid": {"S": "c2"}, "new": {"S": "o2\nmore"}})
        self.assertEqual(rest("c3"), {"uuid": {"S": "c3"}, "new": {"S": "o3"}, "v": {"S": "z"}})
        self.assertEqual(rest("n1"), {"uuid": {"S": "n1"}, "new": {"S": "on1"}, "v": {"N": "1"}})
        # renamed onto an existing attribute: the renamed one wins
        self.assertEqual(rest("n2"), {"uuid": {"S": "n2"}, "new": {"N": "5"}})
        self.assertEqual(rest("n3"), {"uuid": {"S": "n3"}})

    def test_every_placeholder(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {"p/rows.csv": b"uuid\nr1\nr2\n"})
        etag = T.s3().head_object(Bucket=bucket, Key="p/rows.csv")["ETag"].strip('"')
        table = T.make_table()
        with T.TempDir() as d:
            p = T.run("run", f"s3://{bucket}/p/", "--table", table,
                      "--set", "origin=s3://{bucket}/{key}#{record}", "--set", "etag={etag}",
                      "--set", "at={now_iso}", "--set", "rid={uuid}", "--set", "lit={{x}}:a:b",
                      "--set", "on=true:BOOL", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        got = by(T.scan(table), "uuid")
        self.assertEqual(got["r1"]["origin"], {"S": f"s3://{bucket}/p/rows.csv#1"})
        self.assertEqual(got["r2"]["origin"], {"S": f"s3://{bucket}/p/rows.csv#2"})
        for it in got.values():
            self.assertEqual(it["etag"], {"S": etag})
            self.assertRegex(it["at"]["S"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertRegex(it["rid"]["S"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            self.assertEqual(it["lit"], {"S": "{x}:a:b"})
            self.assertEqual(it["on"], {"BOOL": True})
        self.assertNotEqual(got["r1"]["rid"], got["r2"]["rid"])

    def test_bad_spec_is_refused_before_anything_runs(self):
        table = T.make_table()
        with T.TempDir() as d:
            src = os.path.join(d, "rows.csv")
            with open(src, "w") as f:
                f.write("uuid\nx\n")
            for opts, msg in ((["--set", "ts={now}:N"], "--set 'ts={now}:N': unknown placeholder '{now}'"),
                              (["--types", "price=NUM"], "--types 'price=NUM': unknown type 'NUM'"),
                              (["--op-field", "op", "--op-map", "I=put D=erase"], "'erase' is not an operation")):
                p = T.run("run", src, "--table", table, *opts, cwd=d)
                self.assertEqual(p.returncode, 1, T.describe(p))
                self.assertIn(msg, p.stderr_text)
        self.assertEqual(T.scan(table), [])


class TypedCsv(unittest.TestCase):
    def test_types_and_rows_that_do_not_convert(self):
        csv = (b"uuid,price,active,tags,note\n"
               b"t1,12.50,true,\"red,green\",ok\n"        # line 2
               b"t2,abc,false,blue,price is not a number\n"  # line 3: rejected, column 2
               b"t3,-3e2,FALSE,x,fine\n"                  # line 4
               b"t4,1,maybe,y,not a boolean\n"             # line 5: rejected, column 3
               b"t5,0,1,\"a,a\",duplicate set element\n"   # line 6: rejected, column 4
               b"t6,,0,,empty cells are left out\n")       # line 7
        bucket = T.make_bucket()
        T.put_objects(bucket, {"typed/rows.csv": csv})
        table = T.make_table()
        with T.TempDir() as d:
            dl = f"{d}/dead.ndjson"
            p = T.run("run", f"s3://{bucket}/typed/", "--table", table, "--types", "price=N,active=BOOL",
                      "--types", "tags=SS", "--dead-letter", dl, cwd=d)
            self.assertEqual(p.returncode, 2, T.describe(p))
            dead = dead_letters(dl)
        got = by(T.scan(table), "uuid")
        self.assertEqual(set(got), {"t1", "t3", "t6"})
        self.assertEqual(T.norm_item(got["t1"]), T.norm_item(
            {"uuid": {"S": "t1"}, "price": {"N": "12.50"}, "active": {"BOOL": True},
             "tags": {"SS": ["red", "green"]}, "note": {"S": "ok"}}))
        self.assertEqual(T.norm_item(got["t3"]), T.norm_item(
            {"uuid": {"S": "t3"}, "price": {"N": "-300"}, "active": {"BOOL": False}, "tags": {"SS": ["x"]},
             "note": {"S": "fine"}}))
        self.assertEqual(got["t6"], {"uuid": {"S": "t6"}, "active": {"BOOL": False},
                                     "note": {"S": "empty cells are left out"}})
        self.assertEqual(len(dead), 3, json.dumps(dead, indent=1))
        want = {
            3: (2, "attribute 'price' (column 2): 'abc' is not a number"),
            5: (3, "attribute 'active' (column 3): 'maybe' is not a boolean (true, false, 1 or 0)"),
            6: (4, "attribute 'tags' (column 4): SS elements 1 and 2 are both 'a' (set elements must be unique)"),
        }
        for r in dead:
            self.assertEqual(r["source"], f"s3://{bucket}/typed/rows.csv", r)
            self.assertIn(r["line"], want, r)
            col, reason = want[r["line"]]
            self.assertIn(reason, r["reason"], r)
            self.assertEqual(r["record"], r["line"] - 1, r)
            # the column is in the reason; a "column" member, when there is one, must agree
            self.assertIn(f"(column {col})", r["reason"], r)
            if "column" in r:
                self.assertEqual(r["column"], col, r)
            self.assertEqual(r["raw"], csv.decode().split("\n")[r["line"] - 1], r)

    def test_infer_types(self):
        csv = (b"uuid,zip,n,neg,big,many,dec,flag,Flag,plus,code\n"
               b"i1,00501,42,-1.5,1e400,123456789012345678901234567890123456789,2.50,true,True,+1,17\n")
        with T.TempDir() as d:
            src = os.path.join(d, "inf.csv")
            with open(src, "wb") as f:
                f.write(csv)
            table = T.make_table()
            p = T.run("run", src, "--table", table, "--infer-types", "--types", "code=S", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        (it,) = T.scan(table)
        self.assertEqual(T.norm_item(it), T.norm_item({
            "uuid": {"S": "i1"}, "zip": {"S": "00501"}, "n": {"N": "42"}, "neg": {"N": "-1.5"},
            "big": {"S": "1e400"}, "many": {"S": "123456789012345678901234567890123456789"},
            "dec": {"N": "2.50"}, "flag": {"BOOL": True}, "Flag": {"S": "True"}, "plus": {"S": "+1"},
            "code": {"S": "17"}}))

    def test_infer_types_never_changes_a_key(self):
        table = T.make_table(pk=("id", "S"))
        with T.TempDir() as d:
            src = os.path.join(d, "keys.csv")
            with open(src, "wb") as f:
                f.write(b"id,v\n007,1\n42,2\ntrue,3\n")
            p = T.run("run", src, "--table", table, "--infer-types", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        got = sorted((it["id"]["S"], it["v"]["N"]) for it in T.scan(table))
        self.assertEqual(got, [("007", "1"), ("42", "2"), ("true", "3")])

    def test_headerless_csv_with_columns(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {"nh/part.csv": b"h1,3,true\nh2,4,false\n"})
        table = T.make_table(pk=("a", "S"))
        with T.TempDir() as d:
            p = T.run("run", f"s3://{bucket}/nh/", "--table", table, "--columns", "a,b,c", "--types",
                      "b=N,c=BOOL", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        got = by(T.scan(table), "a")
        self.assertEqual(got, {"h1": {"a": {"S": "h1"}, "b": {"N": "3"}, "c": {"BOOL": True}},
                               "h2": {"a": {"S": "h2"}, "b": {"N": "4"}, "c": {"BOOL": False}}})

    def test_semicolon_delimiter_and_list_separator(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {"semi/eu.csv": b"uuid;price;tags;nums\ns1;1,5 EUR;a,b|c;1|2.0\n"})
        table = T.make_table()
        with T.TempDir() as d:
            p = T.run("run", f"s3://{bucket}/semi/", "--table", table, "--delimiter", ";", "--types",
                      "tags=SS,nums=NS", "--list-separator", "|", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        (it,) = T.scan(table)
        self.assertEqual(T.norm_item(it), T.norm_item({
            "uuid": {"S": "s1"}, "price": {"S": "1,5 EUR"}, "tags": {"SS": ["a,b", "c"]}, "nums": {"NS": ["1", "2"]}}))

    def test_quote_character(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {"q/names.csv": b"uuid,name,said\nq1,'Smith, John','He said \"hi\"'\nq2,'O''Brien',x\n"})
        table = T.make_table()
        with T.TempDir() as d:
            p = T.run("run", f"s3://{bucket}/q/", "--table", table, "--quote", "'", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        got = by(T.scan(table), "uuid")
        self.assertEqual(got["q1"], {"uuid": {"S": "q1"}, "name": {"S": "Smith, John"}, "said": {"S": 'He said "hi"'}})
        self.assertEqual(got["q2"], {"uuid": {"S": "q2"}, "name": {"S": "O'Brien"}, "said": {"S": "x"}})


class Deletes(unittest.TestCase):
    def prefill(self, table, keys):
        client = T.ddb()
        for k in keys:
            client.put_item(TableName=table, Item={"uuid": {"S": k}, "v": {"S": "old"}})

    def test_default_op_map_last_operation_wins(self):
        table = T.make_table()
        self.prefill(table, ["k1", "k2", "k3", "k4", "k5"])
        # several operations on one key, in order: the last one is what the table ends with
        csv = ("op,uuid,v\n"
               "D,k1,\n"
               "U,k2,new2\n"
               "I,k6,new6\n"
               "delete,k6,\n"
               "D,k3,\n"
               "insert,k3,again3\n"
               "Modify,k3,final3\n"
               "REMOVE,k4,\n"
               "PUT,k7,v7\n"
               "upsert,k7,v7b\n"
               "d,k7,\n"
               "UPDATE,k7,v7c\n")
        with T.TempDir() as d:
            src = os.path.join(d, "diff.csv")
            with open(src, "w") as f:
                f.write(csv)
            p = T.run("run", src, "--table", table, "--op-field", "op", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        got = {it["uuid"]["S"]: it for it in T.scan(table)}
        self.assertEqual(got, {
            "k2": {"uuid": {"S": "k2"}, "v": {"S": "new2"}},
            "k3": {"uuid": {"S": "k3"}, "v": {"S": "final3"}},
            "k5": {"uuid": {"S": "k5"}, "v": {"S": "old"}},
            "k7": {"uuid": {"S": "k7"}, "v": {"S": "v7c"}},
        })

    def test_custom_op_map(self):
        table = T.make_table(pk=("pk", "S"), sk=("sk", "N"))
        client = T.ddb()
        for pk, sk in (("a", 1), ("a", 2), ("b", 1)):
            client.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"N": str(sk)}, "v": {"S": "old"}})
        csv = ("change,pk,sk,v\n"
               "D,a,1,\n"          # line 2
               "U,a,2,new\n"       # line 3
               "I,c,5,ins\n"       # line 4
               "D,c,5,\n"          # line 5
               "I,c,5,back\n"      # line 6
               "INSERT,b,1,nope\n"  # line 7: not in this map: dead-lettered, b stays
               "D,zz,9,\n")        # line 8: deleting what is not there is fine
        with T.TempDir() as d:
            src = os.path.join(d, "cdc.csv")
            with open(src, "w") as f:
                f.write(csv)
            dl = os.path.join(d, "dead.ndjson")
            p = T.run("run", src, "--table", table, "--op-field", "change", "--op-map", "I,U=put D=delete",
                      "--dead-letter", dl, cwd=d)
            self.assertEqual(p.returncode, 2, T.describe(p))
            dead = dead_letters(dl)
        got = sorted((it["pk"]["S"], it["sk"]["N"], it["v"]["S"]) for it in T.scan(table))
        self.assertEqual(got, [("a", "2", "new"), ("b", "1", "old"), ("c", "5", "back")])
        self.assertEqual(len(dead), 1, dead)
        self.assertEqual(dead[0]["line"], 7)
        self.assertIn("operation 'INSERT' is not in --op-map 'I,U=put D=delete'", dead[0]["reason"])
        self.assertFalse(any("change" in it for it in T.scan(table)))

    def test_ndjson_ops_and_missing_op(self):
        table = T.make_table()
        self.prefill(table, ["j1", "j2"])
        with T.TempDir() as d:
            src = os.path.join(d, "ops.ndjson")
            with open(src, "w") as f:
                # a Delete needs only the key: --types is not applied to the rest
                f.write('{"op":"D","uuid":"j1","price":"not a number"}\n'
                        '{"uuid":"j2","v":"no op"}\n'                      # line 2: rejected
                        '{"op":"I","uuid":"j3","n":7,"price":"1.5"}\n')
            dl = os.path.join(d, "dead.ndjson")
            p = T.run("run", src, "--table", table, "--op-field", "op", "--types", "price=N", "--dead-letter", dl,
                      cwd=d)
            self.assertEqual(p.returncode, 2, T.describe(p))
            dead = dead_letters(dl)
        got = {it["uuid"]["S"]: it for it in T.scan(table)}
        self.assertEqual(got, {"j2": {"uuid": {"S": "j2"}, "v": {"S": "old"}},
                               "j3": {"uuid": {"S": "j3"}, "n": {"N": "7"}, "price": {"N": "1.5"}}})
        reasons = sorted((r["line"], r["reason"]) for r in dead)
        self.assertEqual(len(reasons), 1, dead)
        self.assertEqual(reasons[0][0], 2)
        self.assertIn("no operation field 'op'", reasons[0][1])


class KeySeq(unittest.TestCase):
    def test_ids_from_1000_in_record_order(self):
        table = T.make_table(pk=("id", "N"))
        rows = ["id,name"]
        want = {}
        nxt = 1000
        for i in range(40):
            if i % 7 == 3:
                rows.append(f"{5000 + i},r{i}")  # has an id: kept, takes no number
                want[f"r{i}"] = 5000 + i
            else:
                rows.append(f",r{i}")
                want[f"r{i}"] = nxt
                nxt += 1
        with T.TempDir() as d:
            src = os.path.join(d, "rows.csv")
            with open(src, "w") as f:
                f.write("\n".join(rows) + "\n")
            p = T.run("run", src, "--table", table, "--key-seq", "id", "--key-seq-start", "1000", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        got = {it["name"]["S"]: int(it["id"]["N"]) for it in T.scan(table)}
        self.assertEqual(got, want)

    def test_ndjson_and_a_string_key(self):
        table = T.make_table(pk=("id", "S"))
        with T.TempDir() as d:
            src = os.path.join(d, "rows.ndjson")
            with open(src, "w") as f:
                f.write('{"name":"a"}\n{"name":"b","id":"given"}\n{"name":"c"}\n{"name":"d","id":77}\n')
            p = T.run("run", src, "--table", table, "--key-seq", "id", "--key-seq-start", "1000", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        got = sorted((it["name"]["S"], it["id"]) for it in T.scan(table))
        self.assertEqual(got, [("a", {"S": "1000"}), ("b", {"S": "given"}), ("c", {"S": "1001"}),
                               ("d", {"S": "77"})])


if __name__ == "__main__":
    unittest.main(verbosity=2)
