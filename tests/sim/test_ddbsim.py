#!/usr/bin/env python3
"""Tests of tools/ddbsim, the DynamoDB capacity simulator, driven over HTTP.

Each test starts its own ddbsim on an ephemeral loopback port and talks to it with boto3 (to
prove the response shapes are what an SDK accepts) and with http.client (to see bytes,
statuses and headers). Every loop is bounded in count and in time.

usage: test_ddbsim.py --ddbsim PATH [unittest args, e.g. -k hot]
"""
import argparse
import base64
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import zlib

DDBSIM = None

AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0000")


class Sim:
    """A running ddbsim."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([DDBSIM, "--port", "0", "--max-lifetime", "240", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not ready:
            self.proc.kill()
            raise RuntimeError("ddbsim did not start within 10 s")
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ddbsim listening on 127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError("unexpected first line %r (stderr: %r)" % (line, self.proc.stderr.read()))
        self.port = int(line.rsplit(":", 1)[1])
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.local = threading.local()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.local.conn = c
        return c

    def raw(self, op, body, headers=None, auth=True, retry=True):
        """POST one DynamoDB operation; body is bytes or a JSON-able object.
        Returns (status, headers dict (lower-case names), body bytes)."""
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, separators=(",", ":")).encode()
        h = {"Content-Type": "application/x-amz-json-1.0",
             "X-Amz-Target": "DynamoDB_20120810." + op, "X-Amz-Date": "20240101T000000Z"}
        if auth:
            h["Authorization"] = AUTH
        h.update(headers or {})
        for attempt in range(2):
            c = self.conn()
            try:
                c.request("POST", "/", body=body, headers=h)
                r = c.getresponse()
                data = r.read()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, data
            except (http.client.HTTPException, ConnectionError):
                c.close()
                self.local.conn = None
                if attempt or not retry:
                    raise

    def call(self, op, body):
        status, _, data = self.raw(op, body)
        return status, json.loads(data) if data else None

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", path)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def stats(self):
        status, data = self.get("/_sim/stats")
        assert status == 200
        return json.loads(data)

    def reset_stats(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", "/_sim/reset-stats", body=b"")
        r = c.getresponse()
        r.read()
        c.close()
        return r.status

    def items(self, table):
        status, data = self.get("/_sim/items?table=" + table)
        assert status == 200, data
        return [line for line in data.split(b"\n") if line]

    def writes(self, table, dups=False):
        status, data = self.get("/_sim/writes?table=%s%s" % (table, "&dups=1" if dups else ""))
        assert status == 200, data
        return [json.loads(line) for line in data.split(b"\n") if line]

    def boto(self):
        import boto3
        from botocore.config import Config
        return boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                            config=Config(retries={"total_max_attempts": 1}, connect_timeout=5,
                                          read_timeout=10))


def put(item):
    return {"PutRequest": {"Item": item}}


def kitem(pk, size=None, extra=None):
    """An item {pk: S, d: S} of exactly `size` bytes by DynamoDB's rules when size is given."""
    it = {"pk": {"S": pk}}
    if size is not None:
        pad = size - len("pk") - len(pk.encode()) - len("d")
        assert pad >= 0
        it["d"] = {"S": "x" * pad}
    if extra:
        it.update(extra)
    return it


def batch(table, reqs, rcc="TOTAL"):
    b = {"RequestItems": {table: reqs}}
    if rcc:
        b["ReturnConsumedCapacity"] = rcc
    return b


class SimTest(unittest.TestCase):
    args = ()

    def setUp(self):
        self.sim = Sim(*self.args)

    def tearDown(self):
        self.sim.close()

    def create(self, name, keys=(("pk", "S"),), wcu=None, on_demand=False, max_wru=None):
        body = {"TableName": name,
                "KeySchema": [{"AttributeName": n, "KeyType": "HASH" if i == 0 else "RANGE"}
                              for i, (n, _) in enumerate(keys)],
                "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in keys]}
        if on_demand:
            body["BillingMode"] = "PAY_PER_REQUEST"
            if max_wru:
                body["OnDemandThroughput"] = {"MaxWriteRequestUnits": max_wru}
        else:
            body["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": wcu or 1000}
        status, resp = self.sim.call("CreateTable", body)
        self.assertEqual(status, 200, resp)
        return resp


class TablesTest(SimTest):
    def test_create_describe_list_delete_with_boto3(self):
        ddb = self.sim.boto()
        r = ddb.create_table(
            TableName="Orders",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "N"}],
            ProvisionedThroughput={"ReadCapacityUnits": 7, "WriteCapacityUnits": 250})
        self.assertEqual(r["TableDescription"]["TableName"], "Orders")
        ddb.get_waiter("table_exists").wait(TableName="Orders", WaiterConfig={"Delay": 1, "MaxAttempts": 3})
        t = ddb.describe_table(TableName="Orders")["Table"]
        self.assertEqual(t["TableStatus"], "ACTIVE")
        self.assertEqual(t["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"},
                                          {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.assertEqual(sorted(t["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
                         [{"AttributeName": "pk", "AttributeType": "S"},
                          {"AttributeName": "sk", "AttributeType": "N"}])
        self.assertEqual(t["BillingModeSummary"]["BillingMode"], "PROVISIONED")
        self.assertEqual(t["ProvisionedThroughput"]["WriteCapacityUnits"], 250)
        self.assertEqual(t["ProvisionedThroughput"]["ReadCapacityUnits"], 7)
        self.assertEqual(t["ItemCount"], 0)
        self.assertEqual(t["TableSizeBytes"], 0)
        self.assertTrue(t["TableArn"].endswith(":table/Orders"))
        self.assertNotIn("OnDemandThroughput", t)

        ddb.create_table(TableName="Events", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "B"}],
                         OnDemandThroughput={"MaxWriteRequestUnits": 1500})
        e = ddb.describe_table(TableName="Events")["Table"]
        self.assertEqual(e["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual(e["OnDemandThroughput"]["MaxWriteRequestUnits"], 1500)
        self.assertEqual(e["ProvisionedThroughput"]["WriteCapacityUnits"], 0)

        self.assertEqual(ddb.list_tables()["TableNames"], ["Events", "Orders"])
        page = ddb.list_tables(Limit=1)
        self.assertEqual(page["TableNames"], ["Events"])
        self.assertEqual(page["LastEvaluatedTableName"], "Events")
        self.assertEqual(ddb.list_tables(ExclusiveStartTableName="Events")["TableNames"], ["Orders"])

        with self.assertRaises(ddb.exceptions.ResourceInUseException):
            ddb.create_table(TableName="Orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
        d = ddb.delete_table(TableName="Orders")["TableDescription"]
        self.assertEqual(d["TableStatus"], "DELETING")
        with self.assertRaises(ddb.exceptions.ResourceNotFoundException):
            ddb.describe_table(TableName="Orders")
        r = ddb.update_table(TableName="Events", BillingMode="PROVISIONED",
                             ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 30})
        self.assertEqual(r["TableDescription"]["ProvisionedThroughput"]["WriteCapacityUnits"], 30)
        self.assertEqual(self.sim.stats()["tables"]["Events"]["limit_wcu"], 30)

    def test_create_table_validation(self):
        status, r = self.sim.call("CreateTable", {
            "TableName": "Bad", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]})
        self.assertEqual(status, 400)
        self.assertIn("ReadCapacityUnits and WriteCapacityUnits must both be specified", r["message"])
        status, r = self.sim.call("CreateTable", {
            "TableName": "Bad", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "other", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST"})
        self.assertEqual(status, 400)
        self.assertIn("Some index key attributes are not defined in AttributeDefinitions", r["message"])

    def test_tables_from_flags_and_auth(self):
        self.sim.close()
        self.sim = Sim("--table", "Flagged:pk:S:sk:N", "--wcu", "321", "--rcu", "12")
        status, r = self.sim.call("DescribeTable", {"TableName": "Flagged"})
        self.assertEqual(status, 200)
        self.assertEqual(r["Table"]["ProvisionedThroughput"]["WriteCapacityUnits"], 321)
        self.assertEqual([k["AttributeName"] for k in r["Table"]["KeySchema"]], ["pk", "sk"])
        status, headers, body = self.sim.raw("DescribeTable", {"TableName": "Flagged"}, auth=False)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["__type"],
                         "com.amazon.coral.service#MissingAuthenticationTokenException")
        status, headers, body = self.sim.raw("NoSuchOp", {})
        self.assertEqual(status, 400)
        self.assertIn("UnknownOperationException", json.loads(body)["__type"])


class ItemsTest(SimTest):
    def test_batch_write_then_scan_returns_everything(self):
        self.create("Data", keys=(("pk", "S"), ("sk", "N")))
        ddb = self.sim.boto()
        sent = {}
        for b in range(4):
            reqs = []
            for i in range(25):
                n = b * 25 + i
                item = {"pk": {"S": "user#%d" % (n % 7)}, "sk": {"N": str(n)},
                        "name": {"S": "caf\u00e9 %d" % n}, "blob": {"B": base64.b64encode(bytes([n, 0, 255])).decode()},
                        "tags": {"SS": ["a", "b%d" % n]}, "nums": {"NS": ["1", "2.5"]},
                        "ok": {"BOOL": n % 2 == 0}, "none": {"NULL": True},
                        "nested": {"M": {"l": {"L": [{"N": "1"}, {"S": "x"}]}}}}
                reqs.append(put(item))
                sent[("user#%d" % (n % 7), str(n))] = item
            status, r = self.sim.call("BatchWriteItem", batch("Data", reqs))
            self.assertEqual(status, 200, r)
            self.assertEqual(r["UnprocessedItems"], {})
        got = {}
        start, pages = None, 0
        while pages < 50:
            kw = {"TableName": "Data", "Limit": 30}
            if start:
                kw["ExclusiveStartKey"] = start
            page = ddb.scan(**kw)
            pages += 1
            for it in page["Items"]:
                got[(it["pk"]["S"], it["sk"]["N"])] = it
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        self.assertEqual(pages, 4)
        self.assertEqual(len(got), 100)
        for k, item in sent.items():
            g = got[k]
            self.assertEqual(g["name"], item["name"])
            self.assertEqual(base64.b64encode(g["blob"]["B"]).decode(), item["blob"]["B"])
            self.assertEqual(sorted(g["tags"]["SS"]), sorted(item["tags"]["SS"]))
            self.assertEqual(g["nested"], item["nested"])
        self.assertEqual(ddb.describe_table(TableName="Data")["Table"]["ItemCount"], 100)
        one = ddb.get_item(TableName="Data", Key={"pk": {"S": "user#3"}, "sk": {"N": "3.0"}})
        self.assertEqual(one["Item"]["name"]["S"], "caf\u00e9 3")  # 3.0 and 3 are one key

    def test_items_are_stored_byte_exact(self):
        self.create("Exact")
        raw_items = [b'{"pk":{"S":"a"},"v":{"S":"caf\\u00e9 \\"q\\""}}',
                     b'{ "pk" : { "S" : "b" } , "n" : { "N" : "1.50" } }',
                     b'{"pk":{"S":"c"},"m":{"M":{"z":{"N":"1"},"a":{"NULL":true}}}}']
        body = b'{"RequestItems":{"Exact":[' + b",".join(
            b'{"PutRequest":{"Item":' + it + b'}}' for it in raw_items) + b"]}}"
        status, _, data = self.sim.raw("BatchWriteItem", body)
        self.assertEqual(status, 200, data)
        self.assertEqual(self.sim.items("Exact"), raw_items)
        status, _, data = self.sim.raw("GetItem", b'{"TableName":"Exact","Key":{"pk":{"S":"b"}}}')
        self.assertEqual(data, b'{"Item":' + raw_items[1] + b"}")

    def test_put_get_delete_item(self):
        self.create("Single")
        ddb = self.sim.boto()
        r = ddb.put_item(TableName="Single", Item=kitem("k1", 3000), ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["ConsumedCapacity"]["CapacityUnits"], 3.0)
        self.assertEqual(ddb.get_item(TableName="Single", Key={"pk": {"S": "k1"}})["Item"]["pk"]["S"], "k1")
        r = ddb.delete_item(TableName="Single", Key={"pk": {"S": "k1"}}, ReturnValues="ALL_OLD",
                            ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["Attributes"]["pk"]["S"], "k1")
        self.assertEqual(r["ConsumedCapacity"]["CapacityUnits"], 3.0)
        self.assertNotIn("Item", ddb.get_item(TableName="Single", Key={"pk": {"S": "k1"}}))


class CostTest(SimTest):
    def units(self, reqs):
        status, r = self.sim.call("BatchWriteItem", batch("Cost", reqs))
        self.assertEqual(status, 200, r)
        return r["ConsumedCapacity"][0]["CapacityUnits"]

    def test_item_cost_rounding(self):
        self.create("Cost")
        self.assertEqual(self.units([put(kitem("a", 1024))]), 1.0)
        self.assertEqual(self.units([put(kitem("b", 1025))]), 2.0)
        self.assertEqual(self.units([put(kitem("c", 1))] if False else [put(kitem("c"))]), 1.0)
        self.assertEqual(self.units([put(kitem("d", 2048)), put(kitem("e", 2049)), put(kitem("f", 10))]), 6.0)
        # numbers: 1 byte per 2 significant digits + 1: "12345" is 4 bytes
        num = {"pk": {"S": "g"}, "d": {"S": "x" * (1024 - 2 - 1 - 1 - 1 - 4)}, "n": {"N": "12345"}}
        self.assertEqual(self.units([put(num)]), 1.0)
        num["d"]["S"] += "x"
        self.assertEqual(self.units([put(num)]), 2.0)
        # lists and maps: 3 bytes + 1 per element
        lst = {"pk": {"S": "h"}, "l": {"L": [{"S": "x" * (1024 - 2 - 1 - 1 - 3 - 1)}]}}
        self.assertEqual(self.units([put(lst)]), 1.0)
        # an overwrite costs the larger of the old and the new item
        self.assertEqual(self.units([put(kitem("i", 3000))]), 3.0)
        self.assertEqual(self.units([put(kitem("i", 10))]), 3.0)
        self.assertEqual(self.units([put(kitem("i", 10))]), 1.0)
        # a delete costs the deleted item, 1 if there is none
        self.assertEqual(self.units([{"DeleteRequest": {"Key": {"pk": {"S": "b"}}}}]), 2.0)
        self.assertEqual(self.units([{"DeleteRequest": {"Key": {"pk": {"S": "nothing"}}}}]), 1.0)


class ValidationTest(SimTest):
    def expect(self, body, fragment, op="BatchWriteItem", type_="ValidationException"):
        status, r = self.sim.call(op, body)
        self.assertEqual(status, 400, r)
        self.assertTrue(r["__type"].endswith("#" + type_), r)
        self.assertIn(fragment, r.get("message", r.get("Message", "")))
        return r

    def test_validation_messages_and_whole_batch_rejected(self):
        self.create("Val", keys=(("pk", "S"), ("sk", "N")))
        good = [put({"pk": {"S": "p"}, "sk": {"N": str(i)}}) for i in range(24)]
        r = self.expect(batch("Val", good + [put({"pk": {"S": "p"}, "sk": {"N": "3"}})]),
                        "Provided list of item keys contains duplicates")
        self.assertEqual(r["message"], "Provided list of item keys contains duplicates")
        self.expect(batch("Val", good + [put({"pk": {"S": "p"}, "sk": {"N": "3.00"}})]),
                    "Provided list of item keys contains duplicates")
        self.expect(batch("Val", good + [put({"sk": {"N": "99"}})]),
                    "The provided key element does not match the schema")
        self.expect(batch("Val", good + [put({"pk": {"N": "1"}, "sk": {"N": "99"}})]),
                    "The provided key element does not match the schema")
        self.expect(batch("Val", good + [put({"pk": {"S": ""}, "sk": {"N": "99"}})]),
                    "The AttributeValue for a key attribute cannot contain an empty string value. Key: pk")
        self.expect(batch("Val", [put({"pk": {"S": "p"}, "sk": {"N": str(i)}}) for i in range(26)]),
                    "Member must have length less than or equal to 25")
        big = {"pk": {"S": "p"}, "sk": {"N": "1000"}, "d": {"S": "x" * 409600}}
        self.expect(batch("Val", good + [put(big)]), "Item size has exceeded the maximum allowed size")
        self.expect(batch("Val", [put({"pk": {"S": "p"}, "sk": {"N": "1"}, "x": {"N": "abc"}})]),
                    "The parameter cannot be converted to a numeric value: abc")
        self.expect(batch("Val", [put({"pk": {"S": "p"}, "sk": {"N": "1"}, "x": {"S": "a", "N": "1"}})]),
                    "Supplied AttributeValue has more than one datatypes set")
        self.expect(batch("Missing", good), "Requested resource not found", type_="ResourceNotFoundException")
        self.expect({"TableName": "Val", "Item": {"sk": {"N": "1"}}},
                    "One or more parameter values were invalid: Missing the key pk in the item", op="PutItem")
        self.expect({"TableName": "Val", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}}},
                    "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S",
                    op="PutItem")
        self.assertEqual(self.sim.stats()["items_written"], 0)
        self.assertEqual(self.sim.items("Val"), [])
        self.assertGreaterEqual(self.sim.stats()["validation_errors"], 11)

    def test_boto3_sees_validation_exception(self):
        self.create("Val2")
        ddb = self.sim.boto()
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            ddb.batch_write_item(RequestItems={"Val2": [put({"pk": {"S": "a"}}), put({"pk": {"S": "a"}})]})
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        self.assertEqual(cm.exception.response["Error"]["Message"], "Provided list of item keys contains duplicates")


class ProvisionedThrottleTest(SimTest):
    args = ("--no-burst", "--table", "Slow:pk:S", "--wcu", "100")

    def test_100_wcu_no_burst(self):
        sent_unprocessed, written = 0, 0
        sent = {}
        t0 = time.monotonic()
        # 500 items of exactly 1 KB, as 20 batches spread over one second
        for b in range(20):
            target = t0 + b * 0.05
            while time.monotonic() < target:
                time.sleep(0.002)
            reqs = [put(kitem("k%03d" % (b * 25 + i), 1024)) for i in range(25)]
            for r in reqs:
                sent[r["PutRequest"]["Item"]["pk"]["S"]] = r
            status, r = self.sim.call("BatchWriteItem", batch("Slow", reqs))
            if status == 400:
                self.assertTrue(r["__type"].endswith("#ProvisionedThroughputExceededException"), r)
                continue
            self.assertEqual(status, 200, r)
            un = r["UnprocessedItems"].get("Slow", [])
            for u in un:  # given back exactly as sent
                self.assertEqual(u, sent[u["PutRequest"]["Item"]["pk"]["S"]])
            sent_unprocessed += len(un)
            written += 25 - len(un)
            self.assertEqual(r["ConsumedCapacity"][0]["CapacityUnits"], 25 - len(un))
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 3)
        # 100 WCU/s over ~1 s, starting empty
        self.assertGreaterEqual(written, 80)
        self.assertLessEqual(written, 100 * elapsed + 2)
        st = self.sim.stats()
        self.assertEqual(st["items_written"], written)
        self.assertEqual(st["unprocessed_items"], sent_unprocessed)
        self.assertEqual(st["wcu_consumed"], written)
        self.assertEqual(len(self.sim.items("Slow")), written)

        # back to back: a batch that finds no capacity at all fails whole
        got_400 = None
        for _ in range(50):
            before = self.sim.stats()["items_written"]
            status, r = self.sim.call("BatchWriteItem", batch("Slow", [put(kitem("z%d" % i, 1024)) for i in range(25)]))
            if status == 400:
                got_400 = r
                self.assertEqual(self.sim.stats()["items_written"], before)
                break
        self.assertIsNotNone(got_400)
        self.assertEqual(got_400["__type"], "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException")
        self.assertEqual(got_400["message"], "The level of configured provisioned throughput for the table was "
                         "exceeded. Consider increasing your provisioning level with the UpdateTable API.")
        self.assertGreaterEqual(self.sim.stats()["throttled_requests"], 1)

    def test_boto3_raises_throughput_exceeded(self):
        ddb = self.sim.boto()
        seen = False
        for i in range(50):
            try:
                ddb.batch_write_item(RequestItems={"Slow": [put(kitem("b%d-%d" % (i, j), 4000)) for j in range(25)]})
            except ddb.exceptions.ProvisionedThroughputExceededException:
                seen = True
                break
        self.assertTrue(seen)


def hammer(sim, table, make_reqs, seconds, threads=4):
    """Send batches as fast as possible from several connections for `seconds`.
    Returns the number of items written."""
    written = [0] * threads
    stop = time.monotonic() + seconds

    def run(ix):
        n = 0
        while time.monotonic() < stop:
            reqs = make_reqs(ix, n)
            n += 1
            status, r = sim.call("BatchWriteItem", batch(table, reqs, rcc=None))
            if status == 200:
                written[ix] += len(reqs) - len(r["UnprocessedItems"].get(table, []))
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(seconds + 30)
    return sum(written)


class HotPartitionTest(SimTest):
    args = ("--table", "Hot:pk:S:sk:N", "--wcu", "5000")

    def test_hot_key_throttles_alone(self):
        pad = "x" * 900
        t0 = time.monotonic()
        hot = hammer(self.sim, "Hot", lambda ix, n: [
            put({"pk": {"S": "hot"}, "sk": {"N": str((ix * 100000 + n) * 25 + i)}, "d": {"S": pad}})
            for i in range(25)], 2.0)
        elapsed = time.monotonic() - t0
        # one partition: 1,000 WCU/s plus at most 1 s of saved capacity
        self.assertLessEqual(hot, 1000 * elapsed + 1000 + 25)
        self.assertGreaterEqual(hot, 1000 * 2.0 * 0.6)
        st = self.sim.stats()
        self.assertGreater(st["unprocessed_items"] + st["throttled_items"], 0)
        self.assertEqual(st["tables"]["Hot"]["partitions"], 5)
        # the same table takes far more when the keys are spread
        spread = hammer(self.sim, "Hot", lambda ix, n: [
            put({"pk": {"S": "k%d-%d-%d" % (ix, n, i)}, "sk": {"N": "1"}, "d": {"S": pad}})
            for i in range(25)], 1.5)
        self.assertGreater(spread, 2200)


class OnDemandTest(SimTest):
    args = ("--ondemand-initial", "400")

    def test_on_demand_limit_grows_and_throttles(self):
        self.create("OnDem", on_demand=True)
        st = self.sim.stats()["tables"]["OnDem"]
        self.assertEqual(st["limit_wcu"], 400)
        throttled = []

        def make(ix, n):
            return [put(kitem("o%d-%d-%d" % (ix, n, i), 100)) for i in range(25)]
        written = hammer(self.sim, "OnDem", make, 3.2, threads=2)
        st = self.sim.stats()
        self.assertGreater(st["tables"]["OnDem"]["limit_wcu"], 400)    # grew with the observed peak
        self.assertGreater(st["unprocessed_items"] + st["throttled_items"], 0)
        self.assertGreater(written, 400)
        # a fully throttled call is a ThrottlingException on an on-demand table
        self.create("Capped", on_demand=True, max_wru=25)
        self.assertEqual(self.sim.stats()["tables"]["Capped"]["limit_wcu"], 25)
        for _ in range(20):
            status, r = self.sim.call("BatchWriteItem", batch("Capped", [put(kitem("c%d" % i, 100)) for i in range(25)]))
            if status == 400:
                throttled.append(r)
                break
        self.assertTrue(throttled)
        self.assertEqual(throttled[0]["__type"], "com.amazon.coral.availability#ThrottlingException")
        self.assertIn("Throughput exceeds the current capacity of your table or index", throttled[0]["message"])


class FaultTest(SimTest):
    args = ("--table", "Faulty:pk:S", "--fail-rate", "1.0", "--fault-ops", "BatchWriteItem", "--seed", "7")

    def test_fail_rate_one_gives_5xx_and_writes_nothing(self):
        kinds = set()
        for i in range(20):
            status, headers, body = self.sim.raw("BatchWriteItem", batch("Faulty", [put(kitem("f%d" % i))]))
            self.assertIn(status, (500, 503))
            self.assertEqual(int(headers["x-amz-crc32"]), zlib.crc32(body))
            self.assertEqual(len(headers["x-amzn-requestid"]), 52)
            r = json.loads(body)
            kinds.add(r["__type"].split("#")[1])
        self.assertEqual(kinds, {"InternalServerError", "ServiceUnavailableException"})
        status, r = self.sim.call("DescribeTable", {"TableName": "Faulty"})  # not a faulted op
        self.assertEqual(status, 200)
        self.assertEqual(r["Table"]["ItemCount"], 0)
        st = self.sim.stats()
        self.assertEqual(st["faults"]["internal_error"] + st["faults"]["service_unavailable"], 20)
        self.assertEqual(st["items_written"], 0)


class ResetStallTest(SimTest):
    args = ("--table", "Flaky:pk:S", "--reset-rate", "1.0", "--fault-ops", "BatchWriteItem")

    def attempt(self, sim, key):
        try:
            status, _, _ = sim.raw("BatchWriteItem", batch("Flaky", [put(kitem(key))]), retry=False)
            return status
        except (http.client.HTTPException, ConnectionError, OSError):
            return None

    def test_reset_before_and_after_apply(self):
        failures = sum(1 for i in range(10) if self.attempt(self.sim, "r%d" % i) is None)
        self.assertEqual(failures, 10)
        self.assertEqual(self.sim.stats()["faults"]["reset"], 10)
        self.assertEqual(self.sim.items("Flaky"), [])      # cut before applying: nothing written
        self.sim.close()
        self.sim = Sim("--table", "Flaky:pk:S", "--reset-rate", "1.0", "--reset-after-apply",
                       "--fault-ops", "BatchWriteItem")
        failures = sum(1 for i in range(10) if self.attempt(self.sim, "r%d" % i) is None)
        self.assertEqual(failures, 10)
        self.assertEqual(len(self.sim.items("Flaky")), 10)  # applied, though the client saw an error

    def test_stall_needs_a_client_timeout(self):
        self.sim.close()
        self.sim = Sim("--table", "Flaky:pk:S", "--stall-rate", "1.0", "--fault-ops", "BatchWriteItem")
        c = http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=0.5)
        body = json.dumps(batch("Flaky", [put(kitem("s"))])).encode()
        c.request("POST", "/", body=body, headers={"X-Amz-Target": "DynamoDB_20120810.BatchWriteItem",
                                                   "Content-Type": "application/x-amz-json-1.0",
                                                   "Authorization": AUTH})
        t0 = time.monotonic()
        with self.assertRaises(socket.timeout):
            c.getresponse()
        self.assertGreater(time.monotonic() - t0, 0.4)
        c.close()
        st = self.sim.stats()
        self.assertEqual(st["faults"]["stall"], 1)
        self.assertEqual(st["items_written"], 0)
        for _ in range(50):  # the abandoned connection is noticed and freed
            if self.sim.stats()["connections"]["open"] <= 1:
                break
            time.sleep(0.02)
        self.assertLessEqual(self.sim.stats()["connections"]["open"], 1)


class LatencyTest(SimTest):
    args = ("--table", "Lat:pk:S", "--latency-ms", "300")

    def test_latency_does_not_serialize_connections(self):
        times = []

        def one(i):
            t = time.monotonic()
            status, _ = self.sim.call("PutItem", {"TableName": "Lat", "Item": kitem("l%d" % i)})
            times.append((status, time.monotonic() - t))
        t0 = time.monotonic()
        ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(10)
        total = time.monotonic() - t0
        self.assertEqual(len(times), 20)
        for status, dt in times:
            self.assertEqual(status, 200)
            self.assertGreaterEqual(dt, 0.29)
        self.assertLess(total, 3.0)   # 20 x 300 ms would take 6 s one after the other


class ProtocolTest(SimTest):
    args = ("--table", "Proto:pk:S")

    def test_pipelined_requests_answered_in_order(self):
        s = socket.create_connection(("127.0.0.1", self.sim.port), timeout=5)
        reqs = b""
        for i in range(3):
            body = json.dumps({"TableName": "Proto", "Item": kitem("p%d" % i)}).encode()
            reqs += (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"
                     b"Content-Type: application/x-amz-json-1.0\r\nAuthorization: " + AUTH.encode() +
                     b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        body = json.dumps({"TableName": "Proto", "Key": {"pk": {"S": "p1"}}}).encode()
        reqs += (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n"
                 b"Content-Type: application/x-amz-json-1.0\r\nAuthorization: a\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
        s.sendall(reqs[:50])
        time.sleep(0.05)
        s.sendall(reqs[50:])
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 200 OK") < 4 or not data.endswith(b"}"):
            self.assertLess(time.monotonic(), deadline)
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 4)
        self.assertTrue(data.endswith(b'"p1"}}}'), data[-100:])

    def test_expect_continue_chunked_and_oversize(self):
        s = socket.create_connection(("127.0.0.1", self.sim.port), timeout=5)
        body = json.dumps({"TableName": "Proto", "Item": kitem("e", 5000)}).encode()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"
                  b"Content-Type: application/x-amz-json-1.0\r\nAuthorization: a\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n"))
        s.sendall(body)
        self.assertTrue(s.recv(1000).startswith(b"HTTP/1.1 200 OK"))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        self.assertTrue(s.recv(1000).startswith(b"HTTP/1.1 400"))
        s.close()
        s = socket.create_connection(("127.0.0.1", self.sim.port), timeout=5)
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (16 * 1024 * 1024 + 1))
        self.assertTrue(s.recv(1000).startswith(b"HTTP/1.1 413"))
        s.close()

    def test_many_connections(self):
        socks = []
        try:
            for _ in range(300):
                socks.append(socket.create_connection(("127.0.0.1", self.sim.port), timeout=5))
            body = json.dumps({"TableName": "Proto"}).encode()
            req = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.DescribeTable\r\n"
                   b"Content-Type: application/x-amz-json-1.0\r\nAuthorization: a\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(body) + body)
            for s in socks:
                s.sendall(req)
            for s in socks:
                self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 200 OK"))
            self.assertGreaterEqual(self.sim.stats()["connections"]["open"], 300)
        finally:
            for s in socks:
                s.close()


class CountersTest(SimTest):
    args = ("--table", "Cnt:pk:S", "--series-seconds", "10")

    def test_counters_add_up_and_reset(self):
        consumed = 0.0
        for b in range(6):
            reqs = [put(kitem("c%d" % (i % 30), 1500)) for i in range(b * 25, b * 25 + 25)]
            status, r = self.sim.call("BatchWriteItem", batch("Cnt", reqs))
            self.assertEqual(status, 200, r)
            consumed += r["ConsumedCapacity"][0]["CapacityUnits"]
        st = self.sim.stats()
        self.assertEqual(st["batch_requests"], 6)
        self.assertEqual(st["requests"], 6)
        self.assertEqual(st["items_written"], 150)
        self.assertEqual(st["wcu_consumed"], consumed)
        self.assertEqual(st["wcu_consumed"], 300)
        self.assertEqual(sum(st["series"]["wcu"]), consumed)
        self.assertEqual(sum(st["series"]["items"]), 150)
        self.assertEqual(len(st["series"]["wcu"]), 10)
        self.assertEqual(st["tables"]["Cnt"]["item_count"], 30)
        writes = self.sim.writes("Cnt")
        self.assertEqual(len(writes), 30)
        self.assertEqual(sum(w["writes"] for w in writes), 150)
        dups = self.sim.writes("Cnt", dups=True)
        w0 = [w for w in dups if w["key"] == {"pk": {"S": "c0"}}][0]
        self.assertEqual(w0["writes"], 5)
        seqs = [h["seq"] for h in w0["history"]]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(seqs), 5)
        self.assertEqual(self.sim.reset_stats(), 200)
        st = self.sim.stats()
        self.assertEqual((st["items_written"], st["requests"], st["wcu_consumed"]), (0, 0, 0))
        self.assertEqual(st["tables"]["Cnt"]["item_count"], 30)  # items stay


class ProcessTest(unittest.TestCase):
    def test_refuses_non_loopback_host(self):
        p = subprocess.run([DDBSIM, "--port", "0", "--host", "0.0.0.0"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"loopback", p.stderr)

    def test_max_lifetime_and_sigterm(self):
        t0 = time.monotonic()
        p = subprocess.run([DDBSIM, "--port", "0", "--max-lifetime", "0.5"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertLess(time.monotonic() - t0, 5)
        sim = Sim()
        sim.proc.send_signal(signal.SIGTERM)
        self.assertEqual(sim.proc.wait(5), 0)
        sim.close()


def main():
    global DDBSIM
    ap = argparse.ArgumentParser()
    ap.add_argument("--ddbsim", default=os.environ.get("DDBSIM", "build/tools/ddbsim/ddbsim"))
    args, rest = ap.parse_known_args()
    DDBSIM = os.path.abspath(args.ddbsim)
    if not os.access(DDBSIM, os.X_OK):
        print("ddbsim binary not found at %s" % DDBSIM, file=sys.stderr)
        return 1
    prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
