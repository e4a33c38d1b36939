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


if __name__ == "__main__":
    unittest.main(verbosity=2)
