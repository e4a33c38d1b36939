"""Shared helpers for ddbload's integration tests.

The services (s3rver, dynalite) are started by the ctest fixture, which writes their
endpoints to the file named by DDBLOAD_SERVICES_ENV. What landed is always read back with
boto3's low-level clients, independently of ddbload.
"""
import base64
import concurrent.futures
import decimal
import json
import os
import shlex
import subprocess
import tempfile
import time
import unittest
import uuid

import boto3
import botocore.config


def load_env():
    path = os.environ.get("DDBLOAD_SERVICES_ENV")
    if not path or not os.path.exists(path):
        raise unittest.SkipTest("services env file missing (run through ctest)")
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):
                k, v = line[len("export "):].split("=", 1)
                env[k] = v
    return env


ENV = None


def env():
    global ENV
    if ENV is None:
        ENV = load_env()
    return ENV


def ddbload_bin():
    b = os.environ.get("DDBLOAD_BIN")
    if not b:
        raise unittest.SkipTest("DDBLOAD_BIN not set (run through ctest)")
    return b


def _cfg():
    return botocore.config.Config(retries={"max_attempts": 10, "mode": "standard"},
                                  max_pool_connections=32, s3={"addressing_style": "path"})


def s3():
    e = env()
    return boto3.client("s3", endpoint_url=e["DDBLOAD_TEST_S3_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER", config=_cfg())


def ddb():
    e = env()
    return boto3.client("dynamodb", endpoint_url=e["DDBLOAD_TEST_DYNAMODB_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER", config=_cfg())


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_bucket(name=None):
    name = name or unique("dltest")
    s3().create_bucket(Bucket=name)
    return name


def put_objects(bucket, objects, threads=16):
    """objects: dict key -> bytes. Uploaded concurrently."""
    client = s3()
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        list(ex.map(lambda kv: client.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()))


def make_table(name=None, pk=("uuid", "S"), sk=None):
    name = name or unique("T")
    keys = [{"AttributeName": pk[0], "KeyType": "HASH"}]
    defs = [{"AttributeName": pk[0], "AttributeType": pk[1]}]
    if sk:
        keys.append({"AttributeName": sk[0], "KeyType": "RANGE"})
        defs.append({"AttributeName": sk[0], "AttributeType": sk[1]})
    client = ddb()
    client.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=defs, BillingMode="PAY_PER_REQUEST")
    for _ in range(100):
        if client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    return name


def scan(table):
    """Every item of the table as raw AttributeValue dicts."""
    client = ddb()
    items, kwargs = [], {"TableName": table}
    for _ in range(100000):
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError("scan did not finish")


def run(*args, timeout=300, extra_env=None, cwd=None):
    """Run ddbload with the services' endpoints and credentials; returns CompletedProcess."""
    penv = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"):
        penv.pop(k, None)
    penv.update({
        "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
    })
    if not (extra_env and "AWS_ENDPOINT_URL_DYNAMODB" in extra_env):
        e = env()  # the local services (s3rver + dynalite) from the ctest fixture
        penv["AWS_ENDPOINT_URL_S3"] = e["DDBLOAD_TEST_S3_ENDPOINT"]
        penv["AWS_ENDPOINT_URL_DYNAMODB"] = e["DDBLOAD_TEST_DYNAMODB_ENDPOINT"]
    if extra_env:
        for k, v in extra_env.items():
            if v is None:
                penv.pop(k, None)
            else:
                penv[k] = v
    cmd = [ddbload_bin()] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=penv, cwd=cwd)
    p.stdout_text = p.stdout.decode("utf-8", "replace")
    p.stderr_text = p.stderr.decode("utf-8", "replace")
    p.cmdline = " ".join(shlex.quote(c) for c in cmd)
    return p


def describe(p):
    return f"$ {p.cmdline}\nexit {p.returncode}\n--- stderr ---\n{p.stderr_text[-6000:]}"


# ---------- an independent model of the mapping rules (DESIGN.md), to compare against ----------

class Num(str):
    """A JSON number kept as its text."""


def json_loads_keep_numbers(text):
    return json.loads(text, parse_float=Num, parse_int=Num, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def to_av(v):
    if isinstance(v, Num):
        return {"N": str(v)}
    if isinstance(v, bool):
        return {"BOOL": v}
    if v is None:
        return {"NULL": True}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, list):
        return {"L": [to_av(x) for x in v]}
    if isinstance(v, dict):
        return {"M": {k: to_av(x) for k, x in v.items()}}
    raise TypeError(type(v))


def json_item(obj, key_types):
    """Plain JSON object -> expected item, with key attributes converted to the key schema."""
    item = {k: to_av(v) for k, v in obj.items()}
    for name, t in key_types.items():
        v = obj[name]
        item[name] = {t: str(v)}
    return item


def csv_item(header, row, key_types):
    item = {}
    for name, cell in zip(header, row):
        if cell == "":
            continue
        item[name] = {"S": cell}
    for name, t in key_types.items():
        item[name] = {t: item[name]["S"]}
    return item


def norm_av(av):
    """Comparable form of an AttributeValue: numbers by value, binary as bytes."""
    (t, v), = av.items()
    if t == "N":
        return ("N", decimal.Decimal(v).normalize())
    if t == "NS":
        return ("NS", frozenset(decimal.Decimal(x).normalize() for x in v))
    if t == "B":
        return ("B", v if isinstance(v, bytes) else base64.b64decode(v))
    if t == "BS":
        return ("BS", frozenset(x if isinstance(x, bytes) else base64.b64decode(x) for x in v))
    if t == "SS":
        return ("SS", frozenset(v))
    if t == "L":
        return ("L", tuple(norm_av(x) for x in v))
    if t == "M":
        return ("M", tuple(sorted((k, norm_av(x)) for k, x in v.items())))
    return (t, v)


def norm_item(item):
    return tuple(sorted((k, norm_av(v)) for k, v in item.items()))


def key_of(item, names):
    return tuple(norm_av(item[n]) for n in names)


class TempDir:
    def __enter__(self):
        self.d = tempfile.TemporaryDirectory(prefix="ddbload-test-")
        return self.d.name

    def __exit__(self, *exc):
        self.d.cleanup()


# ---------- the capacity simulator (tools/ddbsim) ----------

class Sim:
    """A ddbsim on an ephemeral loopback port, stopped by close() (bounded lifetime anyway)."""

    def __init__(self, *args, lifetime=600):
        import select
        binary = os.environ.get("DDBSIM_BIN")
        if not binary:
            raise unittest.SkipTest("DDBSIM_BIN not set (run through ctest)")
        self.proc = subprocess.Popen([binary, "--port", "0", "--max-lifetime", str(lifetime), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("ddbsim listening on 127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"ddbsim did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def get(self, path):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status != 200:
            raise AssertionError(f"GET {path}: {r.status} {body[:200]!r}")
        return body

    def stats(self):
        return json.loads(self.get("/_sim/stats"))

    def items(self, table):
        return [json.loads(line) for line in self.get(f"/_sim/items?table={table}").splitlines() if line.strip()]

    def writes(self, table):
        """Keys written more than once, each {"key", "writes", "history": [{"seq", "op", "item"}]}."""
        return [json.loads(line) for line in self.get(f"/_sim/writes?table={table}&dups=1").splitlines()
                if line.strip()]

    def client(self):
        return boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="x", aws_secret_access_key="y",
                            config=botocore.config.Config(retries={"max_attempts": 0}))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


def sim_env(sim):
    """The environment for running ddbload (or a peer) against a capacity simulator."""
    e = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        e.pop(k, None)
    e.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_REGION": "us-east-1",
              "AWS_ENDPOINT_URL_DYNAMODB": sim.endpoint, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
              "AWS_CONFIG_FILE": "/nonexistent"})
    return e


def run_sim(sim, *args, timeout=600, cwd=None):
    """ddbload against the simulator (its DynamoDB endpoint; no S3 needed)."""
    return run(*args, timeout=timeout, cwd=cwd, extra_env={"AWS_ENDPOINT_URL_DYNAMODB": sim.endpoint,
                                                           "AWS_ENDPOINT_URL_S3": None})
