#!/usr/bin/env python3
"""Write a small sample archive shaped like the ones ddbload replaces pipelines for:

  customers/customers-2024-01.csv     CSV, first column `uuid` is the partition key (quoted
                                      fields, an embedded newline, unicode)
  customers/customers-2024-02.ndjson  NDJSON records of the same table
  customers/backfill-2024-03.zip      a zip holding several CSV and JSON data files in folders
  events/2024/01/02/event-*.json      JSON user-event objects {"userID": ..., "data": {...}}

usage: make_sample_archive.py OUT_DIR
"""
import io
import json
import os
import random
import sys
import zipfile

FIRST = ["Ana", "Bjørn", "Chen", "Dana", "Élodie", "Farid", "Grace", "Hiro", "Ines", "Jon"]
LAST = ["Silva", "Larsen", "Wei", "O'Neil", "Dubois", "Haddad", "Hopper", "Tanaka", "García", "Smith"]
CITIES = ["Lisbon", "Oslo", "Shanghai", "Dublin", "Lyon", "Beirut", "New York", "Kyoto", "Sevilla", "Leeds"]


def uid(rng):
    return "%08x-%04x-4%03x-a%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                            rng.getrandbits(12), rng.getrandbits(48))


def customer(rng):
    return {"uuid": uid(rng), "first_name": rng.choice(FIRST), "last_name": rng.choice(LAST),
            "city": rng.choice(CITIES), "plan": rng.choice(["free", "pro", "team"]),
            "signup_date": "2024-%02d-%02d" % (rng.randint(1, 3), rng.randint(1, 28))}


def csv_text(rows):
    cols = list(rows[0])
    def q(v):
        v = str(v)
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v
    return "\r\n".join([",".join(cols)] + [",".join(q(r[c]) for c in cols) for r in rows]) + "\r\n"


def main():
    out = sys.argv[1]
    rng = random.Random(7)
    os.makedirs(f"{out}/customers", exist_ok=True)
    rows = [customer(rng) for _ in range(40)]
    rows[3]["city"] = "Paris, France"
    rows[5]["last_name"] = 'Quote "Q" Person'
    rows[7]["plan"] = "pro\nannual"
    with open(f"{out}/customers/customers-2024-01.csv", "w", newline="") as f:
        f.write(csv_text(rows))
    with open(f"{out}/customers/customers-2024-02.ndjson", "w") as f:
        for _ in range(30):
            c = customer(rng)
            c["loyalty_points"] = rng.randint(0, 5000)
            c["verified"] = rng.random() < 0.7
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("backfill/", b"")
        z.writestr("backfill/eu/customers.csv", csv_text([customer(rng) for _ in range(25)]))
        z.writestr("backfill/us/customers.csv", csv_text([customer(rng) for _ in range(25)]))
        z.writestr("backfill/vip.json", json.dumps([dict(customer(rng), tier="gold") for _ in range(10)], indent=2))
        z.writestr("__MACOSX/backfill/._vip.json", b"\x00\x05\x16\x07 resource fork")
    with open(f"{out}/customers/backfill-2024-03.zip", "wb") as f:
        f.write(buf.getvalue())
    os.makedirs(f"{out}/events/2024/01/02", exist_ok=True)
    for i in range(20):
        ev = {"userID": "user-%03d" % rng.randint(1, 12), "ts": 1704153600000 + i * 61_000,
              "data": {"type": rng.choice(["page_view", "click", "purchase"]), "page": "/p/%d" % rng.randint(1, 9),
                       "amount": round(rng.uniform(1, 200), 2), "tags": ["web", rng.choice(["ios", "android", "mac"])],
                       "referrer": None}}
        with open(f"{out}/events/2024/01/02/event-{i:04d}.json", "w") as f:
            json.dump(ev, f, indent=2)


if __name__ == "__main__":
    main()
