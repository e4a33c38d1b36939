#!/usr/bin/env python3
"""ddbload pump benchmark driver (bench/pump/run.sh calls it after building).

Every measurement runs against a fresh ddbsim on loopback, one contender at a time, contenders
interleaved run by run (ddbload, boto3, JS, ddbload, ...) so background load hits them alike.

  (a) ceiling:  unlimited capacity, ddbload bench at 100 B and 1 KB items: items/s, CPU s per M items
  (b) peers:    the same item streams through boto3 Table.batch_writer() and the JS SDK v3
                (DynamoDBDocumentClient + BatchWriteCommand, 16 concurrent requests)
  (c) capacity: provisioned 1,000 / 5,000 / 20,000 WCU tables with --no-burst, ~30 s worth of
                1-WCU items: time to load / ideal, throttled-request share (ddbsim's counters)

Prints min/median per figure and a table at the end; writes everything under --out.
This is a benchmark, not a test: it prints figures and never fails on a time.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Item sizes by DynamoDB's rules, as `ddbload bench --item-size` sizes them: item 0 is exactly
# this size and item n is longer by the extra digits of n. 1018 keeps every item of a run below
# 10 M items at <= 1,024 bytes (1 WCU); 100 gives 100-106 bytes.
SIZE_100B = 100
SIZE_1KB = 1018
TABLE = "Bench"


# ---------------------------------------------------------------- machine readings

def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def busy_cpu_s():
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / CLK_TCK


def proc_cpu_s(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, ValueError, IndexError):
        return 0.0


# ---------------------------------------------------------------- the simulator

class Sim:
    def __init__(self, ddbsim, wcu, no_burst):
        cmd = [ddbsim, "--port", "0", "--table", TABLE + ":pk:S", "--wcu", str(wcu), "--no-history",
               "--series-seconds", "600", "--max-lifetime", "1800"]
        if no_burst:
            cmd.append("--no-burst")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError("ddbsim did not start: %r" % line)
        self.port = int(line.rsplit(":", 1)[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def stats(self):
        with urllib.request.urlopen(self.url + "/_sim/stats", timeout=30) as r:
            return json.load(r)

    def cpu_s(self):
        return proc_cpu_s(self.p.pid)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


# ---------------------------------------------------------------- contenders

def contender_cmd(cfg, who, items, size, time_limit, tag):
    if who == "ddbload":
        return [cfg.ddbload, "bench", "--table", TABLE, "--items", str(items), "--item-size", str(size),
                "--json", "--timeline", os.path.join(cfg.out, tag + ".timeline.csv"),
                "--dead-letter", os.path.join(cfg.out, tag + ".dead-letter.ndjson")]
    if who == "boto3":
        cmd = [sys.executable, os.path.join(HERE, "peer_boto3.py")]
    elif who == "js":
        cmd = [cfg.node, os.path.join(HERE, "js", "peer_js.mjs"), "--concurrency", str(cfg.js_concurrency)]
    else:
        raise ValueError(who)
    cmd += ["--table", TABLE, "--items", str(items), "--item-size", str(size)]
    if time_limit:
        cmd += ["--time-limit", "%.1f" % time_limit]
    return cmd


def contender_env(port):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("NODE_OPTIONS",)}
    env.update({
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:%d" % port,
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


def run_one(cfg, who, wcu, no_burst, items, size, time_limit, hard_limit, tag):
    """One contender against a fresh simulator. Returns a dict of measurements."""
    sim = Sim(cfg.ddbsim, wcu, no_burst)
    try:
        cmd = contender_cmd(cfg, who, items, size, time_limit, tag)
        if no_burst:
            # A --no-burst table starts empty and saves at most 1 s of capacity while idle. The
            # contenders take 0.01 s (ddbload) to ~0.5 s (Python, Node) to send their first
            # request, so let every one of them find the same full 1 s.
            time.sleep(1.2)
        la0 = loadavg()
        busy0, sim0 = busy_cpu_s(), sim.cpu_s()
        t0 = time.monotonic()
        with open(os.path.join(cfg.out, tag + ".stdout"), "w") as so, \
                open(os.path.join(cfg.out, tag + ".stderr"), "w") as se:
            p = subprocess.Popen(cmd, stdout=so, stderr=se, env=contender_env(sim.port), cwd=cfg.out)
            killed = []
            timer = threading.Timer(hard_limit, lambda: (killed.append(1), p.kill()))
            timer.start()
            _, status, ru = os.wait4(p.pid, 0)  # getrusage of exactly this process
            timer.cancel()
            p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        busy1, sim1 = busy_cpu_s(), sim.cpu_s()
        st = sim.stats()
        la1 = loadavg()
    finally:
        sim.stop()
    with open(os.path.join(cfg.out, tag + ".stdout")) as f:
        lines = [l for l in f.read().splitlines() if l.startswith("{")]
    rep = json.loads(lines[-1]) if lines else {}
    cpu = ru.ru_utime + ru.ru_stime
    sim_cpu = sim1 - sim0
    tb = st["tables"][TABLE]
    written = st["items_written"]
    secs = rep.get("seconds") or wall
    attempts = written + st["unprocessed_items"] + st["throttled_items"]
    r = {
        "tag": tag, "who": who, "wcu": wcu, "no_burst": no_burst, "items": items, "item_size": size,
        "exit": p.returncode, "killed": bool(killed), "time_limit": time_limit,
        "time_limited": bool(rep.get("time_limited")),
        "seconds": secs, "wall_s": round(wall, 3),
        "written": written, "items_per_s": written / secs if secs else 0,
        "cpu_s": round(cpu, 3), "cpu_user_s": round(ru.ru_utime, 3), "cpu_sys_s": round(ru.ru_stime, 3),
        "cpu_s_per_M": cpu / written * 1e6 if written else None,
        "max_rss_kb": ru.ru_maxrss,
        "sim_cpu_s": round(sim_cpu, 3),
        "background_cpu_s": round(max(0.0, (busy1 - busy0) - cpu - sim_cpu), 3),
        "loadavg_before": la0, "loadavg_after": la1,
        "sim_requests": st["batch_requests"], "sim_throttled_requests": st["throttled_requests"],
        "throttled_share": st["throttled_requests"] / st["batch_requests"] if st["batch_requests"] else 0,
        "sim_unprocessed_items": st["unprocessed_items"], "sim_throttled_items": st["throttled_items"],
        "refused_item_share": (st["unprocessed_items"] + st["throttled_items"]) / attempts if attempts else 0,
        "wcu_consumed": st["wcu_consumed"], "item_count": tb["item_count"], "size_bytes": tb["size_bytes"],
        "series_wcu": st["series"]["wcu"][-(int(wall) + 3):], "report": rep,
    }
    if wcu < 10 ** 7:
        ideal = items / wcu  # every item is 1 WCU (checked below)
        rate = written / secs if secs else 0
        r["ideal_s"] = ideal
        r["rate_wcu_per_s"] = st["wcu_consumed"] / secs if secs else 0
        r["load_s"] = secs if not r["time_limited"] else (items / rate if rate else float("inf"))
        r["vs_ideal"] = r["load_s"] / ideal
        r["projected"] = r["time_limited"]
    return r


# ---------------------------------------------------------------- statistics and printing

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def mn(xs):
    xs = [x for x in xs if x is not None]
    return min(xs) if xs else None


def mx(xs):
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


def fmt(x, spec=",.0f"):
    return "-" if x is None else format(x, spec)


def log(cfg, msg):
    print(msg, flush=True)
    with open(os.path.join(cfg.out, "bench.log"), "a") as f:
        f.write(msg + "\n")


def describe(r):
    s = "%-7s %6.2f s  %9s items/s  cpu %6.2f s (%5s s/M)  sim cpu %5.2f s  bg cpu %5.2f s  load %.2f" % (
        r["who"], r["seconds"], fmt(r["items_per_s"]), r["cpu_s"], fmt(r["cpu_s_per_M"], ".2f"), r["sim_cpu_s"],
        r["background_cpu_s"], r["loadavg_before"][0])
    if "vs_ideal" in r:
        s += "  x%.3f ideal%s  throttled %d/%d req (%.2f%%)  refused items %.1f%%" % (
            r["vs_ideal"], " (projected)" if r["projected"] else "", r["sim_throttled_requests"],
            r["sim_requests"], 100 * r["throttled_share"], 100 * r["refused_item_share"])
    if r["time_limited"]:
        s += "  [time-limited: %d of %d items]" % (r["written"], r["items"])
    if r["exit"] or r["killed"]:
        s += "  [exit %s%s]" % (r["exit"], ", killed" if r["killed"] else "")
    return s


def check_items(cfg, runs):
    """Contenders that wrote a whole load must have stored the same count and total size."""
    full = [r for r in runs if not r["time_limited"] and r["written"] == r["items"]]
    sizes = {(r["item_count"], r["size_bytes"]) for r in full}
    wcu_ok = all(abs(r["wcu_consumed"] - r["written"]) < 0.5 for r in runs if r["item_size"] == SIZE_1KB)
    if len(sizes) == 1:
        c, b = sizes.pop()
        log(cfg, "  items check: %d full loads stored %d items, %d bytes (DynamoDB sizes) each%s" %
            (len(full), c, b, "; 1 WCU per item" if wcu_ok else ""))
    elif full:
        log(cfg, "  items check: DIFFERENT stored loads: %s" % sorted(sizes))
    if not wcu_ok:
        log(cfg, "  items check: some 1 KB items cost more than 1 WCU")


# ---------------------------------------------------------------- the scenarios

def ceiling(cfg, results):
    for size, items in ((SIZE_100B, cfg.items_100b), (SIZE_1KB, cfg.items_1kb)):
        name = "ceiling-%dB" % size
        log(cfg, "\n== (a)+(b) unlimited capacity, %d-byte items, %d items (peers time-limited to %g s) ==" %
            (size, items, cfg.peer_seconds))
        runs = []
        for i in range(cfg.runs_short):
            for who in ("ddbload", "boto3", "js"):
                if who != "ddbload" and i >= cfg.runs_peer:
                    continue
                if who not in cfg.who:
                    continue
                tl = cfg.peer_seconds if who != "ddbload" else 0
                r = run_one(cfg, who, 100000000, False, items, size, tl, 600,
                            "%s-%s-%d" % (name, who, i + 1))
                r["scenario"] = name
                runs.append(r)
                log(cfg, "  run %d %s" % (i + 1, describe(r)))
        check_items(cfg, runs)
        results.extend(runs)


def capacity(cfg, results):
    for wcu in cfg.wcus:
        items = int(wcu * cfg.capacity_seconds)
        ideal = items / wcu
        name = "capacity-%d" % wcu
        log(cfg, "\n== (c) %d WCU provisioned, no burst: %d items of %d bytes (1 WCU), ideal %.1f s ==" %
            (wcu, items, SIZE_1KB, ideal))
        runs = []
        for i in range(cfg.runs_long):
            for who in ("ddbload", "boto3", "js"):
                if who not in cfg.who:
                    continue
                tl = cfg.peer_limit_factor * ideal + 2 if who != "ddbload" else 0
                r = run_one(cfg, who, wcu, True, items, SIZE_1KB, tl, 4 * ideal + 120,
                            "%s-%s-%d" % (name, who, i + 1))
                r["scenario"] = name
                runs.append(r)
                log(cfg, "  run %d %s" % (i + 1, describe(r)))
        check_items(cfg, runs)
        results.extend(runs)


TARGET_CEIL = {"boto3": 20.0, "js": 5.0}


def summarize(cfg, results):
    by = {}
    for r in results:
        by.setdefault((r["scenario"], r["who"]), []).append(r)
    rows = []
    log(cfg, "\n== summary (min / median over runs; load average 1-min before each run: %.2f .. %.2f) ==" %
        (min(r["loadavg_before"][0] for r in results), max(r["loadavg_before"][0] for r in results)))
    # (a)+(b)
    ceil_scen = sorted({r["scenario"] for r in results if r["scenario"].startswith("ceiling")},
                       key=lambda s: int(s.split("-")[1][:-1]))
    if ceil_scen:
        log(cfg, "\n| load | contender | runs | items/s min / median | CPU s per M items min / median "
                 "| ddbsim CPU s/M | other processes, cores (median) | ddbload ÷ contender, items/s (median) "
                 "| contender ÷ ddbload, CPU per item (median) |")
        log(cfg, "|---|---|---|---|---|---|---|---|---|")
    for s in ceil_scen:
        dd = med([r["items_per_s"] for r in by.get((s, "ddbload"), [])])
        ddc = med([r["cpu_s_per_M"] for r in by.get((s, "ddbload"), [])])
        for who in ("ddbload", "boto3", "js"):
            rs = by.get((s, who))
            if not rs:
                continue
            ips = [r["items_per_s"] for r in rs]
            cpm = [r["cpu_s_per_M"] for r in rs]
            scpm = [r["sim_cpu_s"] / r["written"] * 1e6 if r["written"] else None for r in rs]
            ratio = cratio = ""
            if who != "ddbload" and dd:
                ratio = "%.1f× (target ≥ %g×)" % (dd / med(ips), TARGET_CEIL[who])
            if who != "ddbload" and ddc:
                cratio = "%.1f×" % (med(cpm) / ddc)
            tl = " (%g s time-limited)" % cfg.peer_seconds if any(r["time_limited"] for r in rs) else ""
            row = "| %s, %s items | %s%s | %d | %s / %s | %s / %s | %s | %s | %s | %s |" % (
                s.split("-")[1], fmt(rs[0]["items"]), who, tl, len(rs), fmt(mn(ips)), fmt(med(ips)),
                fmt(mn(cpm), ".2f"), fmt(med(cpm), ".2f"), fmt(med(scpm), ".2f"),
                fmt(med([r["background_cpu_s"] / r["wall_s"] for r in rs]), ".2f"), ratio, cratio)
            log(cfg, row)
            rows.append({"scenario": s, "who": who, "runs": len(rs), "items_per_s_min": mn(ips),
                         "items_per_s_median": med(ips), "cpu_s_per_M_min": mn(cpm), "cpu_s_per_M_median": med(cpm),
                         "ddbload_ratio": (dd / med(ips)) if who != "ddbload" and dd else None,
                         "cpu_ratio": (med(cpm) / ddc) if who != "ddbload" and ddc else None})
    # (c)
    cap_scen = sorted({r["scenario"] for r in results if r["scenario"].startswith("capacity")},
                      key=lambda s: int(s.split("-")[1]))
    if cap_scen:
        log(cfg, "\n| table | contender | runs | time to load, s (min / median) | ÷ ideal min / median "
                 "(target ≤ 1.05) | WCU/s reached (median) | throttled requests min / median / max "
                 "(target < 5%) | items refused (median) | other processes, cores (median) |")
        log(cfg, "|---|---|---|---|---|---|---|---|---|")
    for s in cap_scen:
        for who in ("ddbload", "boto3", "js"):
            rs = by.get((s, who))
            if not rs:
                continue
            proj = any(r["projected"] for r in rs)
            lt = [r["load_s"] for r in rs]
            vi = [r["vs_ideal"] for r in rs]
            th = [r["throttled_share"] for r in rs]
            fails = sum(1 for r in rs if r["exit"] or r["killed"])
            row = "| %s WCU, %s items, ideal %.0f s | %s | %d%s | %s%s / %s | %.3f / %.3f | %s | %.2f%% / %.2f%% / %.2f%% | %.1f%% | %.2f |" % (
                fmt(rs[0]["wcu"]), fmt(rs[0]["items"]), rs[0]["ideal_s"], who, len(rs),
                (" (%d failed)" % fails) if fails else "",
                "projected " if proj else "", fmt(mn(lt), ".1f"), fmt(med(lt), ".1f"), mn(vi), med(vi),
                fmt(med([r["rate_wcu_per_s"] for r in rs])), 100 * mn(th), 100 * med(th), 100 * mx(th),
                100 * med([r["refused_item_share"] for r in rs]),
                med([r["background_cpu_s"] / r["wall_s"] for r in rs]))
            log(cfg, row)
            rows.append({"scenario": s, "who": who, "runs": len(rs), "projected": proj, "load_s_min": mn(lt),
                         "load_s_median": med(lt), "vs_ideal_min": mn(vi), "vs_ideal_median": med(vi),
                         "throttled_share_min": mn(th), "throttled_share_median": med(th),
                         "throttled_share_max": mx(th), "failed": fails})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ddbload")
    ap.add_argument("--ddbsim")
    ap.add_argument("--node", default="node")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="a,b,c", help="scenarios: a (ceiling), b (peers), c (capacity)")
    ap.add_argument("--quick", action="store_true", help="tiny loads, one run each: a smoke test of the harness")
    ap.add_argument("--items-100b", type=int, default=1_000_000)
    ap.add_argument("--items-1kb", type=int, default=400_000)
    ap.add_argument("--peer-seconds", type=float, default=20, help="time limit of a peer's unlimited-capacity run")
    ap.add_argument("--capacity-seconds", type=float, default=30, help="load size in seconds of the table's WCU")
    ap.add_argument("--peer-limit-factor", type=float, default=1.25,
                    help="a peer's capacity run stops at this × ideal + 2 s, and its time is projected")
    ap.add_argument("--wcus", default="1000,5000,20000")
    ap.add_argument("--js-concurrency", type=int, default=16)
    ap.add_argument("--summarize", action="store_true",
                    help="only print the summary of the runs.json already in --out")
    cfg = ap.parse_args()
    if cfg.summarize:
        with open(os.path.join(cfg.out, "runs.json")) as f:
            results = json.load(f)
        cfg.peer_seconds = next((r["time_limit"] for r in results if r["scenario"].startswith("ceiling")
                                 and r["who"] != "ddbload"), cfg.peer_seconds)
        cfg.out = os.path.join(cfg.out, "resummarized")
        os.makedirs(cfg.out, exist_ok=True)
        summarize(cfg, results)
        return
    if not cfg.ddbload or not cfg.ddbsim:
        ap.error("--ddbload and --ddbsim are required")
    only = set(cfg.only.split(","))
    cfg.who = {"ddbload"} | ({"boto3", "js"} if "b" in only else set())
    cfg.wcus = [int(x) for x in cfg.wcus.split(",")]
    cfg.runs_short, cfg.runs_peer, cfg.runs_long = 5, 3, 3
    if cfg.quick:
        cfg.items_100b, cfg.items_1kb = 50_000, 20_000
        cfg.peer_seconds, cfg.capacity_seconds = 3, 5
        cfg.runs_short = cfg.runs_peer = cfg.runs_long = 1
    os.makedirs(cfg.out, exist_ok=True)
    log(cfg, "pump benchmark: %s, %d cores, load average %s; output in %s" % (
        time.strftime("%Y-%m-%d %H:%M:%S"), os.cpu_count(), " ".join("%.2f" % x for x in loadavg()), cfg.out))
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import boto3
    vers = subprocess.run([cfg.node, "-p", "process.version + ' SDK ' + require('%s/package.json').version" %
                           os.path.join(HERE, "js", "node_modules", "@aws-sdk", "client-dynamodb")],
                          capture_output=True, text=True).stdout.strip()
    log(cfg, "cpu: %s; python %s, boto3 %s; node %s" % (model, sys.version.split()[0], boto3.__version__, vers))
    results = []
    t0 = time.monotonic()
    if "a" in only or "b" in only:
        ceiling(cfg, results)
    if "c" in only:
        cfg.who = {"ddbload", "boto3", "js"}
        capacity(cfg, results)
    with open(os.path.join(cfg.out, "runs.json"), "w") as f:
        json.dump(results, f, indent=1)
    rows = summarize(cfg, results)
    with open(os.path.join(cfg.out, "summary.json"), "w") as f:
        json.dump({"rows": rows, "loadavg_end": loadavg(), "minutes": (time.monotonic() - t0) / 60}, f, indent=1)
    log(cfg, "\nbenchmark took %.1f min; load average at the end %s" %
        ((time.monotonic() - t0) / 60, " ".join("%.2f" % x for x in loadavg())))


if __name__ == "__main__":
    main()
