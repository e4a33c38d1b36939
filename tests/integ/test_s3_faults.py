"""S3 faults, injected by tools/s3faultproxy.py in front of s3rver: a connection reset mid-body
(resumed with a Range GET from where it stopped), SlowDown throttling, an object deleted between
LIST and GET, and an object whose ETag changed. The run goes on and every other record loads."""
import json
import os
import select
import subprocess
import sys
import unittest
import urllib.request

import dltest as T


class Proxy:
    def __init__(self, *args):
        script = os.path.join(os.environ["DDBLOAD_SOURCE_DIR"], "tools/s3faultproxy.py")
        self.proc = subprocess.Popen([sys.executable, script, "--upstream", T.env()["DDBLOAD_TEST_S3_ENDPOINT"], *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if "listening on 127.0.0.1:" not in line:
            self.proc.kill()
            raise RuntimeError(f"proxy did not start: {line!r}")
        self.endpoint = "http://127.0.0.1:" + line.rsplit(":", 1)[1].strip()

    def log(self):
        with urllib.request.urlopen(self.endpoint + "/_proxy/log", timeout=10) as r:
            return [json.loads(l) for l in r.read().decode().splitlines()]

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


def big_ndjson(prefix, n):
    return "".join(json.dumps({"uuid": f"{prefix}-{i}", "pad": "x" * 500}) + "\n" for i in range(n)).encode()


class S3Faults(unittest.TestCase):
    def run_through(self, proxy, bucket, table):
        return T.run("run", f"s3://{bucket}/", "--table", table, extra_env={
            "AWS_ENDPOINT_URL_S3": proxy.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": T.env()["DDBLOAD_TEST_DYNAMODB_ENDPOINT"]})

    def test_reset_mid_body_resumes_with_a_range_get(self):
        bucket = T.make_bucket()
        objs = {f"part-{i}.ndjson": big_ndjson(f"r{i}", 4000) for i in range(3)}  # ~2 MB each
        T.put_objects(bucket, objs)
        table = T.make_table()
        proxy = Proxy("--reset-mid-body")
        try:
            p = self.run_through(proxy, bucket, table)
            log = proxy.log()
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 0, T.describe(p))
        self.assertEqual(len(T.scan(table)), 12000)
        for key, data in objs.items():
            gets = [e for e in log if e["path"].endswith("/" + key)]
            self.assertEqual(gets[0]["status"], "reset")
            resumed = [e for e in gets[1:] if e["range"]]
            self.assertTrue(resumed, gets)
            start = int(resumed[0]["range"].split("=")[1].rstrip("-"))
            self.assertGreater(start, 0)          # from where it stopped, not from 0
            self.assertLessEqual(start, len(data) // 2)
            self.assertTrue(resumed[0]["if_match"])  # and only if the object is still the same
        self.assertIn("resumed", p.stderr_text)

    def test_slowdown_is_retried(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {f"s{i}.csv": f"uuid\ns{i}a\ns{i}b\n".encode() for i in range(5)})
        table = T.make_table()
        proxy = Proxy("--slowdown", "2")
        try:
            p = self.run_through(proxy, bucket, table)
            log = proxy.log()
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 0, T.describe(p))
        self.assertEqual(len(T.scan(table)), 10)
        self.assertEqual(sum(1 for e in log if e["status"] == 503), 10)

    def test_object_deleted_between_list_and_get_is_reported_and_the_run_goes_on(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {"a.csv": b"uuid\na1\n", "gone.csv": b"uuid\ng1\n", "z.csv": b"uuid\nz1\n"})
        table = T.make_table()
        proxy = Proxy("--missing", "gone")
        try:
            with T.TempDir() as d:
                p = T.run("run", f"s3://{bucket}/", "--table", table, "--dead-letter", f"{d}/dl.ndjson", cwd=d,
                          extra_env={"AWS_ENDPOINT_URL_S3": proxy.endpoint,
                                     "AWS_ENDPOINT_URL_DYNAMODB": T.env()["DDBLOAD_TEST_DYNAMODB_ENDPOINT"]})
                with open(f"{d}/dl.ndjson") as f:
                    dead = [json.loads(l) for l in f]
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 2, T.describe(p))
        self.assertEqual(sorted(it["uuid"]["S"] for it in T.scan(table)), ["a1", "z1"])
        self.assertIn(f"s3://{bucket}/gone.csv: NoSuchKey", p.stderr_text)
        self.assertEqual(len(dead), 1)
        self.assertEqual(dead[0]["source"], f"s3://{bucket}/gone.csv")
        self.assertIn("could not be downloaded", dead[0]["reason"])

    def test_changed_etag_is_reported(self):
        bucket = T.make_bucket()
        T.put_objects(bucket, {"c.csv": b"uuid\nc1\n"})
        table = T.make_table()
        proxy = Proxy("--etag-change", "c.csv")
        try:
            p = self.run_through(proxy, bucket, table)
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 0, T.describe(p))
        self.assertIn("changed after it was listed", p.stderr_text)
        self.assertEqual(len(T.scan(table)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
