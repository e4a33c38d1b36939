"""Errors a user can act on: each is one clear message and the right exit status."""
import unittest

import dltest as T


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bucket = T.make_bucket()
        T.put_objects(cls.bucket, {"d/a.csv": b"uuid\nx\n"})
        cls.table = T.make_table()

    def test_unknown_table(self):
        p = T.run("run", f"s3://{self.bucket}/d/", "--table", "NoSuchTable")
        self.assertEqual(p.returncode, 1, T.describe(p))
        self.assertIn("table 'NoSuchTable'", p.stderr_text)
        self.assertIn("not found", p.stderr_text)

    def test_unreachable_dynamodb(self):
        p = T.run("run", f"s3://{self.bucket}/d/", "--table", self.table, "--connect-timeout", "1",
                  extra_env={"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9"})
        self.assertEqual(p.returncode, 1, T.describe(p))
        self.assertIn("cannot reach DynamoDB at http://127.0.0.1:9", p.stderr_text)

    def test_no_credentials(self):
        p = T.run("run", f"s3://{self.bucket}/d/", "--table", self.table,
                  extra_env={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "HOME": "/nonexistent"})
        self.assertEqual(p.returncode, 1, T.describe(p))
        self.assertIn("AWS_ACCESS_KEY_ID", p.stderr_text)

    def test_unknown_access_key_is_refused_by_s3_and_secret_never_printed(self):
        # s3rver checks the access key id (not V4 signatures: those are proven by the test vectors)
        secret = "not-the-right-secret-7f3a"
        p = T.run("run", f"s3://{self.bucket}/d/", "--table", self.table,
                  extra_env={"AWS_ACCESS_KEY_ID": "AKIDUNKNOWN", "AWS_SECRET_ACCESS_KEY": secret})
        self.assertEqual(p.returncode, 1, T.describe(p))
        self.assertIn("InvalidAccessKeyId", p.stderr_text)
        self.assertIn(f"s3://{self.bucket}", p.stderr_text)
        self.assertNotIn(secret, p.stderr_text + p.stdout_text)

    def test_missing_bucket(self):
        p = T.run("run", "s3://no-such-bucket-dltest/x/", "--table", self.table)
        self.assertEqual(p.returncode, 1, T.describe(p))
        self.assertIn("NoSuchBucket", p.stderr_text)
        self.assertIn("no-such-bucket-dltest", p.stderr_text)

    def test_empty_prefix(self):
        p = T.run("run", f"s3://{self.bucket}/nothing-here/", "--table", self.table)
        self.assertEqual(p.returncode, 1, T.describe(p))
        self.assertIn("nothing to load", p.stderr_text)

    def test_missing_local_file(self):
        p = T.run("run", "/nonexistent/file.csv", "--table", self.table)
        self.assertEqual(p.returncode, 1, T.describe(p))
        self.assertIn("no such file or directory", p.stderr_text)

    def test_usage_errors(self):
        p = T.run("run", f"s3://{self.bucket}/d/")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--table NAME is required", p.stderr_text)
        p = T.run("run", "x", "--table", "t", "--format", "xml")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--format xml", p.stderr_text)
        p = T.run("frobnicate")
        self.assertEqual(p.returncode, 1)
        self.assertIn("unknown command", p.stderr_text)

    def test_help(self):
        p = T.run("help", "run")
        self.assertEqual(p.returncode, 0)
        for opt in ("--table", "--format", "--dead-letter", "--endpoint-url", "--profile", "--region", "Exit status"):
            self.assertIn(opt, p.stdout_text)
        p = T.run("run", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: ddbload run", p.stdout_text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
