"""Watching and stopping a run: the status line (live on a terminal, periodic otherwise, JSON with
--log-format json), --report, --timeline and tools/plot-timeline, and SIGINT/SIGTERM handling."""
import json
import os
import pty
import select
import signal
import subprocess
import time
import unittest

import dltest as T


def load_file(path, n=20000):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"pk": f"p{i:06d}", "d": os.urandom(240).hex()}) + "\n")


env_for = T.sim_env


class Progress(unittest.TestCase):
    def setUp(self):
        self.sim = T.Sim("--table", "Load:pk:S", "--wcu", "1000", "--no-burst")
        self.tmp = T.TempDir()
        self.d = self.tmp.__enter__()
        load_file(f"{self.d}/in.ndjson")

    def tearDown(self):
        self.sim.close()
        self.tmp.__exit__(None, None, None)

    def start(self, *extra, stderr=subprocess.PIPE):
        return subprocess.Popen([T.ddbload_bin(), "run", f"{self.d}/in.ndjson", "--table", "Load", *extra],
                                stdout=subprocess.PIPE, stderr=stderr, env=env_for(self.sim), cwd=self.d)

    def test_sigint_stops_cleanly_and_reports_where_the_run_stands(self):
        p = self.start("--report", f"{self.d}/r.json", "--timeline", f"{self.d}/t.csv")
        time.sleep(3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        err = err.decode()
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("stopped by signal 2", err)
        self.assertIn("run the same command again", err)
        with open(f"{self.d}/r.json") as f:
            rep = json.load(f)
        self.assertTrue(rep["stopped"])
        self.assertEqual(rep["exit_status"], 1)
        written = rep["items"]["written"]
        self.assertGreater(written, 1000)
        self.assertLess(written, 20000)
        # what the report says was written is what the table holds, and the rest was abandoned, not lost silently
        self.assertEqual(self.sim.stats()["items_written"], written)
        self.assertEqual(written + rep["items"]["abandoned"], rep["items"]["submitted"])
        with open(f"{self.d}/t.csv") as f:
            rows = f.read().splitlines()
        self.assertEqual(rows[0], "second,items,wcu,requests,throttled,unprocessed,target_wcu")
        self.assertEqual(sum(int(r.split(",")[1]) for r in rows[1:]), written)
        png = f"{self.d}/t.png"
        subprocess.run([os.path.join(os.environ["DDBLOAD_SOURCE_DIR"], "tools/plot-timeline"), f"{self.d}/t.csv", png],
                       check=True, capture_output=True)
        with open(png, "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(data), 10000)

    def test_second_signal_exits_at_once(self):
        p = self.start()
        time.sleep(2)
        p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        self.assertLess(time.time() - t0, 2)
        self.assertEqual(p.returncode, 1)

    def test_status_line_not_on_a_terminal_every_few_seconds(self):
        p = self.start("--report", f"{self.d}/r.json", "--log-format", "json")
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err.decode())
        lines = [json.loads(l) for l in err.decode().splitlines()]
        prog = [l for l in lines if l["type"] == "progress"]
        self.assertGreaterEqual(len(prog), 3)  # a 20 s load, one line every 5 s
        for key in ("objects_done", "objects_total", "mb_read", "items_written", "items_per_s", "wcu_per_s",
                    "target_wcu_per_s", "throttled_pct", "retries", "dead_letters", "eta_s"):
            self.assertIn(key, prog[0])
        self.assertEqual(prog[0]["target_wcu_per_s"], 1000)
        self.assertTrue(900 <= prog[-1]["items_per_s"] <= 1100, prog[-1])
        with open(f"{self.d}/r.json") as f:
            rep = json.load(f)
        self.assertEqual(rep["items"]["written"], 20000)
        self.assertFalse(rep["stopped"])
        self.assertTrue(950 <= rep["rates"]["wcu_per_s"] <= 1010, rep["rates"])

    def test_live_status_line_on_a_terminal(self):
        master, slave = pty.openpty()
        p = self.start(stderr=slave)
        os.close(slave)
        buf = b""
        deadline = time.time() + 60
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 1)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
            if p.poll() is not None and not r:
                break
        p.wait(timeout=60)
        os.close(master)
        text = buf.decode("utf-8", "replace")
        redraws = text.count("\r")
        self.assertGreater(redraws, 20, text[-2000:])  # redrawn in place about 4 times a second
        self.assertIn("objects 1/1 |", text)
        self.assertIn("WCU/s", text)
        self.assertIn("items written", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
