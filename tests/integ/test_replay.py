"""Dead letters and reruns: records that could not be written land in a zstd-compressed
dead-letter file with their WriteRequest and reason; `ddbload replay` resends them through the
same pump, and what still cannot go (malformed input) goes to a new dead-letter file."""
import json
import os
import subprocess
import unittest

import dltest as T


def read_zst(path):
    out = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout.decode()
    return [json.loads(l) for l in out.splitlines() if l.strip()]


class Replay(unittest.TestCase):
    def test_failed_writes_are_replayed_exactly(self):
        down = T.Sim("--table", "Replay:pk:S", "--fail-rate", "1.0", "--fault-ops", "BatchWriteItem")
        up = T.Sim("--table", "Replay:pk:S")
        try:
            with T.TempDir() as d:
                recs = [{"pk": f"r{i:04d}", "n": i, "s": "ü" * (i % 7), "l": [i, {"x": None}]} for i in range(300)]
                with open(f"{d}/in.ndjson", "w") as f:
                    for r in recs:
                        f.write(json.dumps(r, ensure_ascii=False) + "\n")
                    f.write('{"pk": "broken",\n')  # malformed: never becomes an item
                p = T.run_sim(down, "run", f"{d}/in.ndjson", "--table", "Replay", "--max-attempts", "1", cwd=d,
                              timeout=300)
                self.assertEqual(p.returncode, 2, T.describe(p))
                files = [f for f in os.listdir(d) if f.startswith("ddbload-dead-letter-") and f.endswith(".ndjson.zst")]
                self.assertEqual(len(files), 1, os.listdir(d))
                dead = read_zst(f"{d}/{files[0]}")
                self.assertEqual(len(dead), 301)
                writes = [r for r in dead if "request" in r]
                self.assertEqual(len(writes), 300)
                self.assertIn("not written after 1 attempts", writes[0]["reason"])
                self.assertTrue(all(r["source"] == f"{d}/in.ndjson" for r in dead))
                raw = [r for r in dead if "raw" in r]
                self.assertEqual(len(raw), 1)
                self.assertEqual(raw[0]["line"], 301)

                p = T.run_sim(up, "replay", f"{d}/{files[0]}", "--table", "Replay", "--dead-letter", f"{d}/again.ndjson",
                              cwd=d)
                self.assertEqual(p.returncode, 2, T.describe(p))  # the malformed record stays dead
                self.assertIn("300 resent, 300 written", p.stderr_text)
                with open(f"{d}/again.ndjson") as f:
                    again = [json.loads(l) for l in f]
                self.assertEqual(len(again), 1)
                self.assertIn("not replayable", again[0]["reason"])
                self.assertEqual(again[0]["raw"], '{"pk": "broken",')
            got = {it["pk"]["S"]: it for it in up.items("Replay")}
        finally:
            down.close()
            up.close()
        self.assertEqual(len(got), 300)
        for r in recs:
            self.assertEqual(got[r["pk"]], T.json_item(json.loads(json.dumps(r), parse_int=T.Num, parse_float=T.Num),
                                                        {"pk": "S"}))


if __name__ == "__main__":
    unittest.main(verbosity=2)
