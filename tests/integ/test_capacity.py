"""The rate-aware pump against the capacity simulator (tools/ddbsim), which enforces DynamoDB's
write capacity: provisioned WCU with no burst credit, 1,000 WCU/s partitions, UnprocessedItems and
ProvisionedThroughputExceededException, injected 5xx and connection resets.

Loads go through the real CLI (`ddbload run` of a generated NDJSON file, `ddbload bench`); what
landed is read back from the simulator's item store and compared with what was sent."""
import json
import os
import random
import unittest

import dltest as T

def ndjson_items(path, n, size=1000, seed=1, dup_every=0):
    """n records of about `size` bytes (1 WCU each); returns {pk: record} of the later-wins view."""
    rng = random.Random(seed)
    final = {}
    with open(path, "w") as f:
        for i in range(n):
            pk = f"k{i:07d}" if not dup_every else f"k{i % dup_every:07d}"
            rec = {"pk": pk, "seq": i, "data": rng.randbytes((size - 40) // 2).hex()}
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            final[pk] = rec
    return final


def expected_item(rec):
    return {"pk": {"S": rec["pk"]}, "seq": {"N": str(rec["seq"])}, "data": {"S": rec["data"]}}


class Capacity(unittest.TestCase):
    def provisioned_run(self, wcu, seconds):
        """seconds x wcu items of 1 WCU each into a table with `wcu` WCU and no burst credit."""
        sim = T.Sim("--table", "Load:pk:S", "--wcu", str(wcu), "--no-burst", "--series-seconds", "600")
        try:
            with T.TempDir() as d:
                final = ndjson_items(f"{d}/in.ndjson", wcu * seconds, seed=wcu)
                p = T.run_sim(sim, "run", f"{d}/in.ndjson", "--table", "Load", cwd=d, timeout=seconds * 3 + 60)
                self.assertEqual(p.returncode, 0, T.describe(p))
            st = sim.stats()
            # every item stored exactly as sent
            got = {it["pk"]["S"]: it for it in sim.items("Load")}
            self.assertEqual(len(got), len(final))
            bad = [k for k, rec in final.items() if got.get(k) != expected_item(rec)]
            self.assertFalse(bad, f"{len(bad)} items differ, e.g. {bad[:3]}")
            return st
        finally:
            sim.close()

    def check_adherence(self, wcu, seconds):
        st = self.provisioned_run(wcu, seconds)
        # the simulator's per-second series of consumed WCU: drop the first and last (partial) seconds
        secs = [s for s in st["series"]["wcu"] if s > 0]
        self.assertTrue(secs, json.dumps(st)[:2000])
        full = secs[1:-1]
        util = sum(full) / (len(full) * wcu)
        throttled = st["throttled_requests"] / max(1, st["batch_requests"])
        print(f"{wcu} WCU: {len(secs)} s with writes, utilisation {util:.3f}, "
              f"throttled requests {throttled:.4f}, unprocessed items {st['unprocessed_items']}")
        self.assertGreaterEqual(util, 0.95)
        self.assertLess(throttled, 0.05)
        self.assertLessEqual(len(secs), seconds * 1.06 + 2)

    def test_1000_wcu_no_burst_60_seconds(self):
        self.check_adherence(1000, 60)

    def test_5000_wcu_no_burst_60_seconds(self):
        self.check_adherence(5000, 60)


def naive_send(sim, table, n, item_size, hot):
    """What the hand-made pipelines do (boto3's batch_writer): batches of 25 as fast as they go,
    UnprocessedItems resent in the next batch, no rate control, no pacing, no backoff."""
    import boto3
    ddb = boto3.resource("dynamodb", endpoint_url=sim.endpoint, region_name="us-east-1",
                         aws_access_key_id="x", aws_secret_access_key="y",
                         config=__import__("botocore.config").config.Config(retries={"max_attempts": 50, "mode": "standard"}))
    t = ddb.Table(table)
    filler = "x" * (item_size - 40)

    def send(part, parts):
        with t.batch_writer() as w:
            for i in range(part, n, parts):
                pk = "naive-hot" if hot and i % 2 == 0 else f"naive-{i}"
                w.put_item(Item={"pk": pk, "sk": i, "data": filler})

    # several writers at once, as several Lambda invocations would be
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda k: send(k, 4), range(4)))


class HotKeysAndFaults(unittest.TestCase):
    def test_hot_key_load_throttles_less_than_a_naive_sender(self):
        n = 8000
        sim = T.Sim("--table", "Hot:pk:S:sk:N", "--wcu", "5000", "--no-burst")
        try:
            naive_send(sim, "Hot", n, 1000, hot=True)
            naive = sim.stats()
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
            c.request("POST", "/_sim/reset-stats")
            c.getresponse().read()
            p = T.run_sim(sim, "bench", "--table", "Hot", "--items", n, "--item-size", 1000, "--keys", "hot", "--json")
            self.assertEqual(p.returncode, 0, T.describe(p))
            ours = sim.stats()
            rep = json.loads(p.stdout_text)
        finally:
            sim.close()
        def share(st):
            return (st["unprocessed_items"] + st["throttled_items"]) / max(1, st["items_written"] + st["unprocessed_items"] + st["throttled_items"])
        print(f"naive: {naive['throttled_requests']} throttled requests, {naive['unprocessed_items']} unprocessed, "
              f"refused share {share(naive):.3f}; ddbload: {ours['throttled_requests']} throttled requests, "
              f"{ours['unprocessed_items']} unprocessed, refused share {share(ours):.3f}, hot-key waits {rep['hot_key_waits']}")
        self.assertEqual(ours["items_written"], n)
        self.assertGreater(share(naive), 0.05, "the naive sender never overran the hot partition")
        self.assertGreater(rep["hot_key_waits"], 0)
        self.assertLess(ours["throttled_requests"], max(1, naive["throttled_requests"]))
        self.assertLess(share(ours), share(naive))

    def test_injected_5xx_and_resets_lose_nothing(self):
        sim = T.Sim("--table", "Faults:pk:S", "--wcu", "100000", "--fail-rate", "0.1", "--reset-rate", "0.1",
                    "--seed", "7")
        try:
            with T.TempDir() as d:
                final = ndjson_items(f"{d}/in.ndjson", 20000, size=200, seed=3)
                p = T.run_sim(sim, "run", f"{d}/in.ndjson", "--table", "Faults", cwd=d)
                self.assertEqual(p.returncode, 0, T.describe(p))
            st = sim.stats()
            got = {it["pk"]["S"]: it for it in sim.items("Faults")}
        finally:
            sim.close()
        print(f"faults injected: {st['faults']}")
        self.assertGreater(st["faults"]["total"], 50)
        self.assertEqual(len(got), len(final))
        self.assertFalse([k for k, rec in final.items() if got[k] != expected_item(rec)])

    def test_stalled_requests_time_out_and_nothing_is_lost(self):
        """5% of BatchWriteItem requests are never answered: the per-attempt timeout fires, the
        network thread retries them, and every item lands."""
        sim = T.Sim("--table", "Stall:pk:S", "--wcu", "100000", "--stall-rate", "0.05", "--fault-ops",
                    "BatchWriteItem", "--seed", "11")
        try:
            with T.TempDir() as d:
                final = ndjson_items(f"{d}/in.ndjson", 5000, size=200, seed=9)
                p = T.run_sim(sim, "run", f"{d}/in.ndjson", "--table", "Stall", "--timeout", "1", cwd=d)
                self.assertEqual(p.returncode, 0, T.describe(p))
            st = sim.stats()
            got = {it["pk"]["S"]: it for it in sim.items("Stall")}
        finally:
            sim.close()
        print(f"stalls injected: {st['faults']['stall']}")
        self.assertGreater(st["faults"]["stall"], 3)
        self.assertEqual(len(got), len(final))
        self.assertFalse([k for k, rec in final.items() if got[k] != expected_item(rec)])

    def test_duplicates_under_throttling_obey_the_ordering_rule(self):
        """40 versions of 500 keys through a small table: UnprocessedItems come back and are
        retried, yet no older version is ever written after a newer one, and the last one stays."""
        sim = T.Sim("--table", "Order:pk:S", "--wcu", "400", "--no-burst")
        try:
            with T.TempDir() as d:
                final = ndjson_items(f"{d}/in.ndjson", 20000, size=120, seed=5, dup_every=500)
                p = T.run_sim(sim, "run", f"{d}/in.ndjson", "--table", "Order", "--max-wcu", "800", cwd=d)
                self.assertEqual(p.returncode, 0, T.describe(p))
            st = sim.stats()
            got = {it["pk"]["S"]: it for it in sim.items("Order")}
            writes = sim.writes("Order")
        finally:
            sim.close()
        self.assertGreater(st["unprocessed_items"] + st["throttled_items"], 0, "the table never pushed back")
        self.assertEqual(len(got), 500)
        self.assertFalse([k for k, rec in final.items() if got[k] != expected_item(rec)])
        # keys written more than once (most are written once: waiting versions are superseded
        # before they are sent): their records' seq only ever grows, and the last one stays
        self.assertGreater(len(writes), 0)
        regressions = []
        for entry in writes:
            seqs = [int(w["item"]["seq"]["N"]) for w in entry["history"] if w["op"] == "put"]
            if seqs != sorted(seqs) or seqs[-1] != int(got[entry["key"]["pk"]["S"]]["seq"]["N"]):
                regressions.append((entry["key"], seqs))
        self.assertFalse(regressions, regressions[:3])

if __name__ == "__main__":
    unittest.main(verbosity=2)
