"""--key-seq ATTR: items without ATTR get ascending integers, after the table's largest value
(a parallel Scan) or from --key-seq-start; a rerun after kill -9 gives every record the number it
had, so nothing is written twice under two numbers."""
import json
import os
import random
import shutil
import signal
import subprocess
import time
import unittest

import dltest as T


class AfterTheTablesMaximum(unittest.TestCase):
    def test_scan_finds_the_maximum_and_records_without_id_are_numbered_in_order(self):
        table = T.make_table(pk=("id", "N"))
        ddb = T.ddb()
        for i in (5, 17, 40):
            ddb.put_item(TableName=table, Item={"id": {"N": str(i)}, "old": {"BOOL": True}})
        ddb.put_item(TableName=table, Item={"id": {"N": "2.5"}, "old": {"BOOL": True}})  # not an integer: ignored
        with T.TempDir() as d:
            src = os.path.join(d, "new.ndjson")
            with open(src, "w") as f:
                for r in range(10):
                    rec = {"name": f"r{r}"}
                    if r == 4:
                        rec["id"] = 1000  # has one: kept, consumes no number
                    f.write(json.dumps(rec) + "\n")
            p = T.run("run", src, "--table", table, "--key-seq", "id", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
            self.assertIn("the table's largest is 40", T.describe(p))
            self.assertIn("not a non-negative integer", T.describe(p))
            got = {it["name"]["S"]: int(it["id"]["N"]) for it in T.scan(table) if "name" in it}
            want = {f"r{r}": 41 + r - (r > 4) for r in range(10)}
            want["r4"] = 1000
            self.assertEqual(got, want)
            # the same command again: the journal knows the object; nothing is renumbered or rewritten
            p = T.run("run", src, "--table", table, "--key-seq", "id", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
            self.assertIn("0 items written", T.describe(p))
            self.assertEqual(len(T.scan(table)), 4 + 10)

    def test_key_seq_start_and_string_keys(self):
        table = T.make_table(pk=("seq", "S"))
        with T.TempDir() as d:
            src = os.path.join(d, "rows.csv")
            with open(src, "w") as f:
                f.write("name,colour\n" + "".join(f"n{i},c{i}\n" for i in range(5)))
            p = T.run("run", src, "--table", table, "--key-seq", "seq", "--key-seq-start", "700", "--no-journal",
                      cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
            got = sorted((it["seq"]["S"], it["name"]["S"]) for it in T.scan(table))
            self.assertEqual(got, [(str(700 + i), f"n{i}") for i in range(5)])

    def test_convert_numbers_from_one_without_a_table(self):
        with T.TempDir() as d:
            src = os.path.join(d, "rows.ndjson")
            with open(src, "w") as f:
                f.write('{"a":1}\n{"a":2}\n')
            p = T.run("convert", src, "--key", "id:N", "--key-seq", "id", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
            lines = [json.loads(x) for x in p.stdout_text.splitlines()]
            self.assertEqual([x["id"] for x in lines], [{"N": "1"}, {"N": "2"}])

    def test_options_are_checked(self):
        p = T.run("run", "/nonexistent", "--table", "T1x", "--key-seq-start", "5")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--key-seq-start needs --key-seq", T.describe(p))
        p = T.run("run", "/nonexistent", "--table", "T1x", "--key-seq", "id", "--key-seq-start", "-3")
        self.assertEqual(p.returncode, 1)
        self.assertIn("invalid value for --key-seq-start", T.describe(p))


OBJECTS = 4
PER_OBJECT = 1200


env_for = T.sim_env


class RerunsKeepTheirNumbers(unittest.TestCase):
    def test_kill_9_and_rerun_gives_every_record_one_number(self):
        rng = random.Random(7)
        with T.TempDir() as d:
            os.makedirs(f"{d}/src")
            for o in range(OBJECTS):
                with open(f"{d}/src/part-{o}.ndjson", "w") as f:
                    for r in range(PER_OBJECT):
                        f.write(json.dumps({"rec": f"{o}-{r}", "pad": "x" * 200}) + "\n")
            cmd = [T.ddbload_bin(), "run", f"{d}/src", "--table", "Seq", "--key-seq", "id", "--quiet"]

            def fresh(kills_at):
                shutil.rmtree(f"{d}/.ddbload", ignore_errors=True)
                sim = T.Sim("--table", "Seq:id:N", "--wcu", "1500", "--no-burst")
                kills = 0
                try:
                    env = env_for(sim)
                    t0 = time.time()
                    for attempt in range(10):
                        p = subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                        if attempt < len(kills_at):
                            try:
                                p.wait(timeout=kills_at[attempt])
                            except subprocess.TimeoutExpired:
                                p.send_signal(signal.SIGKILL)
                                kills += 1
                        _, err = p.communicate(timeout=120)
                        if p.returncode == 0:
                            break
                        self.assertEqual(p.returncode, -signal.SIGKILL, err)
                    self.assertEqual(p.returncode, 0)
                    return {it["id"]["N"]: it["rec"]["S"] for it in sim.items("Seq")}, kills, time.time() - t0
                finally:
                    sim.close()

            base, _, duration = fresh([])
            n = OBJECTS * PER_OBJECT
            want = {str(i + 1): f"{i // PER_OBJECT}-{i % PER_OBJECT}" for i in range(n)}
            self.assertEqual(base, want)
            total = 0
            for it in range(5):
                plan = [rng.uniform(0.1, 0.9 * duration), rng.uniform(0.1, 0.5 * duration)]
                got, kills, _ = fresh(plan)
                total += kills
                # the same number for the same record, and no record under two numbers
                self.assertEqual(len(got), n, f"iteration {it}: {len(got)} items after {kills} kills")
                self.assertEqual(got, want, f"iteration {it}")
            self.assertGreaterEqual(total, 5)
            print(f"uninterrupted {duration:.1f} s; 5 iterations, {total} kill -9s; numbering identical")


class ListingChangesBetweenRuns(unittest.TestCase):
    """A run cut off inside an object, then a rerun that sees another listing: no number may go to
    two records, and every record must land once."""

    def write(self, path, prefix, n):
        with open(path, "w") as f:
            for r in range(n):
                f.write(json.dumps({"rec": f"{prefix}-{r}", "pad": "x" * 200}) + "\n")

    def cut_off_run(self, d, env, cmd, seconds):
        p = subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        self.assertEqual(p.returncode, -signal.SIGKILL, "the first run should have been cut off")

    def finish(self, d, env, cmd):
        p = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])

    def test_new_object_before_a_cut_off_one(self):
        sim = T.Sim("--table", "Seq:id:N", "--wcu", "3000", "--no-burst")
        try:
            env = env_for(sim)
            with T.TempDir() as d:
                os.makedirs(f"{d}/src")
                self.write(f"{d}/src/b.ndjson", "b", 30000)
                cmd = [T.ddbload_bin(), "run", f"{d}/src", "--table", "Seq", "--key-seq", "id", "--quiet"]
                self.cut_off_run(d, env, cmd, 4.0)  # past the first block of 4,096 numbers
                self.write(f"{d}/src/a.ndjson", "a", 300)  # sorts first: numbered before b is read again
                self.finish(d, env, cmd)
                got = [it["rec"]["S"] for it in sim.items("Seq")]
        finally:
            sim.close()
        self.assertEqual(len(got), 30300)
        self.assertEqual(sorted(got), sorted([f"a-{r}" for r in range(300)] + [f"b-{r}" for r in range(30000)]))

    def test_cut_off_object_removed_then_restored(self):
        sim = T.Sim("--table", "Seq:id:N", "--wcu", "3000", "--no-burst")
        try:
            env = env_for(sim)
            with T.TempDir() as d:
                os.makedirs(f"{d}/src")
                self.write(f"{d}/src/b.ndjson", "b", 20000)
                cmd = [T.ddbload_bin(), "run", f"{d}/src", "--table", "Seq", "--key-seq", "id", "--quiet"]
                self.cut_off_run(d, env, cmd, 2.5)
                os.rename(f"{d}/src/b.ndjson", f"{d}/b.ndjson.away")
                self.write(f"{d}/src/c.ndjson", "c", 3000)
                self.finish(d, env, cmd)
                os.rename(f"{d}/b.ndjson.away", f"{d}/src/b.ndjson")
                self.finish(d, env, cmd)
                got = [it["rec"]["S"] for it in sim.items("Seq")]
        finally:
            sim.close()
        want = [f"b-{r}" for r in range(20000)] + [f"c-{r}" for r in range(3000)]
        self.assertEqual(len(got), len(want))
        self.assertEqual(sorted(got), sorted(want))


if __name__ == "__main__":
    unittest.main(verbosity=2)
