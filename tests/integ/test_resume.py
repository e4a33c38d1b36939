"""Crash-safe resume: `kill -9` at a random moment, run the same command again (as often as it
takes), and the final table equals the one an uninterrupted run makes: every record is in it,
later records win, nothing is lost. Done 20 times, against the capacity simulator."""
import json
import os
import random
import shutil
import signal
import subprocess
import time
import unittest

import dltest as T

OBJECTS = 6
PER_OBJECT = 1500
KEYS = 4000  # fewer keys than records: later objects overwrite earlier ones (the ordering rule)


def make_source(d, seed):
    rng = random.Random(seed)
    os.makedirs(f"{d}/src", exist_ok=True)
    final = {}
    for o in range(OBJECTS):
        with open(f"{d}/src/part-{o:02d}.ndjson", "w") as f:
            for r in range(PER_OBJECT):
                k = f"k{rng.randrange(KEYS):05d}"
                rec = {"pk": k, "obj": o, "rec": r, "pad": rng.randbytes(100).hex()}
                f.write(json.dumps(rec) + "\n")
                final[k] = rec  # source order: objects by name, then lines
    return final


def expected(rec):
    return {"pk": {"S": rec["pk"]}, "obj": {"N": str(rec["obj"])}, "rec": {"N": str(rec["rec"])}, "pad": {"S": rec["pad"]}}


env_for = T.sim_env


class Resume(unittest.TestCase):
    def test_kill_9_at_random_moments_20_times(self):
        rng = random.Random(20261123)
        with T.TempDir() as d:
            final = make_source(d, 1)
            want = {k: expected(v) for k, v in final.items()}
            cmd = [T.ddbload_bin(), "run", f"{d}/src", "--table", "Load", "--quiet"]

            def fresh_run(kill_plan):
                """Run (again and again, killing per kill_plan) until a run finishes; the table."""
                shutil.rmtree(f"{d}/.ddbload", ignore_errors=True)
                sim = T.Sim("--table", "Load:pk:S", "--wcu", "2000", "--no-burst")
                kills = 0
                try:
                    env = env_for(sim)
                    t0 = time.time()
                    for attempt in range(12):
                        p = subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        if attempt < len(kill_plan) and kill_plan[attempt] is not None:
                            try:
                                p.wait(timeout=kill_plan[attempt])
                            except subprocess.TimeoutExpired:
                                p.send_signal(signal.SIGKILL)
                                kills += 1
                        p.wait(timeout=120)
                        if p.returncode == 0:
                            break
                        self.assertEqual(p.returncode, -signal.SIGKILL)
                    self.assertEqual(p.returncode, 0, "never finished")
                    return {item["pk"]["S"]: item for item in sim.items("Load")}, kills, time.time() - t0
                finally:
                    sim.close()

            # the table an uninterrupted run makes, and how long such a run takes
            uninterrupted, _, duration = fresh_run([])
            self.assertEqual(uninterrupted, want)
            total_kills = 0
            for it in range(20):
                plan = [rng.uniform(0.05, 0.95 * duration),
                        rng.uniform(0.05, 0.6 * duration) if rng.random() < 0.5 else None]
                got, kills, _ = fresh_run(plan)
                total_kills += kills
                missing = [k for k in want if k not in got]
                wrong = [k for k in want if k in got and got[k] != want[k]]
                self.assertFalse(missing or wrong or len(got) != len(want),
                                 f"iteration {it} ({kills} kills): {len(missing)} missing, {len(wrong)} wrong, "
                                 f"e.g. {(missing + wrong)[:3]}: got {[got.get(k) for k in wrong[:2]]}")
            print(f"uninterrupted run {duration:.1f} s; 20 iterations, {total_kills} kill -9s, "
                  f"every final table equal to the uninterrupted run's")
            self.assertGreaterEqual(total_kills, 20)

    def test_changed_object_is_reloaded_and_restart_ignores_the_journal(self):
        sim = T.Sim("--table", "Load:pk:S")
        try:
            env = env_for(sim)
            with T.TempDir() as d:
                os.makedirs(f"{d}/src")
                with open(f"{d}/src/a.ndjson", "w") as f:
                    f.write('{"pk":"a","v":1}\n')
                run = lambda *extra: subprocess.run([T.ddbload_bin(), "run", f"{d}/src", "--table", "Load", *extra],
                                                    cwd=d, env=env, capture_output=True, text=True, timeout=60)
                p = run()
                self.assertEqual(p.returncode, 0, p.stderr)
                p = run()
                self.assertIn("1 object already loaded", p.stderr)
                self.assertIn("0 items written", p.stderr)
                time.sleep(0.05)
                with open(f"{d}/src/a.ndjson", "w") as f:
                    f.write('{"pk":"a","v":2}\n')
                p = run()
                self.assertIn("changed since the journal saw it", p.stderr)
                self.assertIn("1 items written", p.stderr)
                p = run("--restart")
                self.assertIn("1 items written", p.stderr)
                self.assertNotIn("already loaded", p.stderr)
            got = sim.items("Load")
        finally:
            sim.close()
        self.assertEqual(got, [{"pk": {"S": "a"}, "v": {"N": "2"}}])


if __name__ == "__main__":
    unittest.main(verbosity=2)
