#!/usr/bin/env python3
"""boto3 peer of ddbload's pump benchmark: the same synthetic items as `ddbload bench`, written
with `Table.batch_writer()` the way the Lambda pipelines do (one thread, default client config,
default retries). Prints one JSON line on stdout.

Items: {"pk": "ddbload-bench-<8 hex>-<n>", "data": <filler>} with the filler sized exactly as
ddbload's bench sizes it (item 0 is --item-size bytes by DynamoDB's rules, item n is longer by
the extra digits of n), so the same --items/--item-size give the same count, sizes and key shape.

Usage: peer_boto3.py --table T --items N --item-size B [--time-limit S]
Endpoint and credentials come from the environment (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, ...).
"""
import argparse
import json
import os
import random
import sys
import time

import boto3
import botocore


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True)
    ap.add_argument("--items", type=int, required=True)
    ap.add_argument("--item-size", type=int, required=True)
    ap.add_argument("--time-limit", type=float, default=0,
                    help="stop submitting new items after S seconds (0: no limit)")
    a = ap.parse_args()

    # Same sizing rule as ddbload bench: base = len("pk") + len(key of item 0) + len("data").
    run_id = "%08x" % random.getrandbits(32)
    prefix = "ddbload-bench-%s-" % run_id
    base = len("pk") + len(prefix + "0") + len("data")
    filler = max(a.item_size - base, 0)
    # Filler text: slices of one pseudo-random alphanumeric string (cheap, unlike ddbload's
    # per-byte xorshift; only the sizes have to match).
    rnd = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    src = "".join(rnd.choice(alphabet) for _ in range(65536 + filler))

    table = boto3.resource("dynamodb").Table(a.table)
    submitted = 0
    limited = False
    t0 = time.monotonic()
    deadline = t0 + a.time_limit if a.time_limit > 0 else None
    error = None
    try:
        with table.batch_writer() as bw:
            for n in range(a.items):
                if deadline is not None and n % 25 == 0 and time.monotonic() >= deadline:
                    limited = True
                    break
                o = (n * 7919) % 65536
                bw.put_item(Item={"pk": prefix + str(n), "data": src[o:o + filler]})
                submitted += 1
    except botocore.exceptions.ClientError as e:  # retries exhausted: what a Lambda would see
        error = "%s: %s" % (e.response.get("Error", {}).get("Code"), e)
    dt = time.monotonic() - t0
    print(json.dumps({
        "peer": "boto3-batch_writer",
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "items": a.items,
        "submitted": submitted,
        "time_limited": limited,
        "seconds": round(dt, 3),
        "items_per_s": round(submitted / dt, 1) if dt > 0 else 0,
        "error": error,
    }))
    sys.stdout.flush()
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
