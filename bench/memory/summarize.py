#!/usr/bin/env python3
"""Table and RSS profile of a bench/memory/run.sh result directory (prints Markdown).

usage: summarize.py OUT --budgets "512M 256M default" --expected N
Budgets may carry a "-compare" suffix (run.sh --compare). "writes have reached" names the object
whose records the simulator's items_written count is in: decoding runs ahead of it by the pump's
queue (up to a quarter of the budget), so the open spill files say better what is being read.
Reads OUT/data.json (gen.py's manifest) and, per budget, OUT/B/{time.txt, report.json,
sim-stats.json, rss.csv, exit-status, leftover-tmp.txt}; writes OUT/summary.json too.
"""
import argparse
import csv
import json
import os
import re

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def budget_bytes(b):
    b = b[:-len("-compare")] if b.endswith("-compare") else b
    if b == "default":
        return 1 << 30
    m = re.fullmatch(r"(\d+)([KMGT]?)", b, re.I)
    return int(m.group(1)) * UNITS.get(m.group(2).upper(), 1)


def time_v(path):
    v = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, val = line.strip().rpartition(": ")
                v[k] = val
    except OSError:
        pass
    return v


def wall_s(s):
    parts = [float(x) for x in s.split(":")] if s else []
    t = 0.0
    for p in parts:
        t = t * 60 + p
    return t


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def namer(data):
    """size -> name for every object and zip entry (a spill file that size is that object/entry)."""
    by = {}
    for o in data.get("list", []):
        by.setdefault(o["bytes"], o["key"])
        for e in o.get("entries", []):
            by.setdefault(e["bytes"], "%s:%s" % (o["key"], e["name"]))
    return by


def where(items, data):
    """The object whose records the items_written count has reached (objects load in key order)."""
    if items in ("", None):
        return "?"
    acc = 0
    for o in sorted(data.get("list", []), key=lambda o: o["key"]):
        acc += o["records"]
        if items < acc:
            return o["key"]
    return "(all written)"


def spill_desc(sizes, by):
    if not sizes:
        return "-"
    out = []
    for s in sizes.split(";")[:3]:
        s = int(s)
        out.append("%s %.0f MB" % (by.get(s, "partial"), s / 1e6))
    return ", ".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--budgets", required=True)
    ap.add_argument("--expected", type=int, required=True)
    a = ap.parse_args()
    data = load_json(os.path.join(a.out, "data.json"))
    by = namer(data)
    rows, profiles = [], []
    for b in a.budgets.split():
        d = os.path.join(a.out, b)
        tv = time_v(os.path.join(d, "time.txt"))
        rep = load_json(os.path.join(d, "report.json"))
        sim = load_json(os.path.join(d, "sim-stats.json"))
        try:
            rc = int(open(os.path.join(d, "exit-status")).read())
        except (OSError, ValueError):
            rc = None
        samples = []
        try:
            with open(os.path.join(d, "rss.csv")) as f:
                samples = list(csv.DictReader(f))
        except OSError:
            pass
        for s in samples:
            s["items"] = int(s["items_written"]) if s["items_written"] else None
        maxrss_kb = int(tv.get("Maximum resident set size (kbytes)", 0) or 0)
        peak = max(samples, key=lambda s: int(s["rss_kb"])) if samples else None
        left = open(os.path.join(d, "leftover-tmp.txt")).read().split() if os.path.exists(
            os.path.join(d, "leftover-tmp.txt")) else []
        bb = budget_bytes(b)
        items_sim = sim.get("items_written")
        items_rep = rep.get("items", {}).get("written")
        ok_items = items_sim == a.expected and items_rep == a.expected
        row = {
            "budget": b, "budget_bytes": bb, "max_rss_kb": maxrss_kb, "max_rss_mib": maxrss_kb / 1024,
            "wall_s": wall_s(tv.get("Elapsed (wall clock) time (h:mm:ss or m:ss)", "")),
            "user_s": float(tv.get("User time (seconds)", 0) or 0),
            "sys_s": float(tv.get("System time (seconds)", 0) or 0),
            "exit_status": rc, "items_sim": items_sim, "items_report": items_rep, "expected": a.expected,
            "items_ok": ok_items, "within_budget": maxrss_kb * 1024 <= bb,
            "leftover_temp_files": len(left),
            "max_spill_bytes": max((int(s["spill_bytes"]) for s in samples), default=0),
            "peak_sample": None,
        }
        if peak:
            row["peak_sample"] = {
                "t_s": float(peak["t_s"]), "rss_kb": int(peak["rss_kb"]), "anon_kb": int(peak["anon_kb"]),
                "file_kb": int(peak["file_kb"]), "items_written": peak["items"],
                "loading": where(peak["items"], data), "open_spills": spill_desc(peak["spill_sizes"], by),
            }
            row["max_anon_kb"] = max(int(s["anon_kb"]) for s in samples)
            row["max_file_kb"] = max(int(s["file_kb"]) for s in samples)
        rows.append(row)
        profiles.append((b, samples))

    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(rows, f, indent=1)

    mb = lambda kb: "%.0f" % (kb / 1024)
    print("Input: %d objects, %.2f GB (%s records); zip %.2f GB holding %.2f GB\n" % (
        data.get("objects", 0), data.get("bytes", 0) / 1e9, "{:,}".format(a.expected),
        data.get("zip_bytes", 0) / 1e9, data.get("zip_expanded", 0) / 1e9))
    print("| --memory | peak RSS (time -v) MiB | max RssAnon MiB | max RssFile MiB | wall s | CPU s (user+sys) "
          "| items written (sim / report / expected) | exit | peak within budget |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |")
    for r in rows:
        print("| %s | %.0f | %s | %s | %.1f | %.0f | %s / %s / %s %s | %s | %s |" % (
            r["budget"].replace("default", "default (1G)"), r["max_rss_mib"],
            mb(r.get("max_anon_kb", 0)), mb(r.get("max_file_kb", 0)), r["wall_s"], r["user_s"] + r["sys_s"],
            "{:,}".format(r["items_sim"] or 0), "{:,}".format(r["items_report"] or 0), "{:,}".format(r["expected"]),
            "ok" if r["items_ok"] else "MISMATCH", r["exit_status"],
            "yes" if r["within_budget"] else "**no** (%.0f%% of it)" % (100.0 * r["max_rss_kb"] * 1024 / r["budget_bytes"])))
    print()
    for r in rows:
        p = r["peak_sample"]
        if p:
            print("- %s: highest sample %s MiB (anon %s, file-backed %s) at %.1f s, %s items written (writes had reached %s); "
                  "open spill files: %s; largest spill total %.0f MB; temp files left: %d" % (
                      r["budget"], mb(p["rss_kb"]), mb(p["anon_kb"]), mb(p["file_kb"]), p["t_s"],
                      "{:,}".format(p["items_written"] or 0), p["loading"], p["open_spills"],
                      r["max_spill_bytes"] / 1e6, r["leftover_temp_files"]))
    print()
    for b, samples in profiles:
        if not samples:
            continue
        print("RSS profile, --memory %s (every ~%d samples; MiB):\n" % (b, max(1, len(samples) // 24)))
        print("| t s | RSS | anon | file | items written | writes have reached | open spill files (largest 3) |")
        print("| ---: | ---: | ---: | ---: | ---: | --- | --- |")
        step = max(1, len(samples) // 24)
        pk = max(range(len(samples)), key=lambda i: int(samples[i]["rss_kb"]))
        for i, s in enumerate(samples):
            if i % step and i != pk and i != len(samples) - 1:
                continue
            print("| %s%.1f | %s | %s | %s | %s | %s | %s |" % (
                "**peak** " if i == pk else "", float(s["t_s"]), mb(int(s["rss_kb"])), mb(int(s["anon_kb"])),
                mb(int(s["file_kb"])), "{:,}".format(s["items"] or 0), where(s["items"], data),
                spill_desc(s["spill_sizes"], by)))
        print()


if __name__ == "__main__":
    main()
