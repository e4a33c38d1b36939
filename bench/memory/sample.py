#!/usr/bin/env python3
"""Sample a process's memory every --interval seconds until it exits (bench/memory/run.sh).

usage: sample.py PID OUT_PREFIX [--comm ddbload] [--sim URL] [--interval 0.5]

The sampled process is PID or its first descendant named --comm (run.sh passes the pid of
`timeout`, whose child is /usr/bin/time, whose child is ddbload). Writes
  OUT_PREFIX.csv      t_s (since the process started), rss_kb, hwm_kb, anon_kb, file_kb, shmem_kb, threads, spill_files,
                      spill_bytes (size of the open unlinked ddbload-spill-* temp files, each once),
                      items_written (the simulator's counter, if --sim), spill_sizes (each
                      open spill file's size, largest first, ';'-separated)
  OUT_PREFIX.peak.txt /proc/PID/smaps_rollup and the largest mappings (from /proc/PID/smaps) at
                      the highest RSS seen (re-taken whenever RSS grows by 4 MB past the last one)
Reads only /proc and the simulator's GET /_sim/stats; never signals anything.
"""
import argparse
import json
import os
import time
import urllib.request


def find_target(pid, comm, timeout=10.0):
    """pid itself or its first descendant (depth-first, first children) named comm."""
    end = time.time() + timeout
    while time.time() < end:
        p = pid
        for _ in range(6):
            try:
                with open("/proc/%d/comm" % p) as f:
                    if f.read().strip() == comm:
                        return p
                with open("/proc/%d/task/%d/children" % (p, p)) as f:
                    kids = f.read().split()
            except OSError:
                return None
            if not kids:
                break
            p = int(kids[0])
        time.sleep(0.02)
    return None


def status(pid):
    v = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, rest = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                v[k] = int(rest.split()[0])
            elif k == "Threads":
                v[k] = int(rest)
    return v


def spills(pid):
    """Open ddbload-spill-* files, each counted once (a file open on two descriptors, e.g. a
    mapped view and a dup() for reading, is one file)."""
    n, total, sizes, seen = 0, 0, [], set()
    d = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(d)
    except OSError:
        return 0, 0, []
    for fd in fds:
        try:
            target = os.readlink(os.path.join(d, fd))
            if "ddbload-spill-" in target:
                st = os.stat(os.path.join(d, fd))
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                size = st.st_size
                n += 1
                total += size
                sizes.append(size)
        except OSError:
            pass
    return n, total, sorted(sizes, reverse=True)


def top_mappings(pid, k=12):
    """The k mappings with the most resident memory: (rss_kb, anon_kb, header line)."""
    out = []
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            first = line.split(None, 1)[0]
            if not first.endswith(":") or "-" in first:
                if cur:
                    out.append(cur)
                cur = [0, 0, line.rstrip()]
            elif first == "Rss:":
                cur[0] = int(line.split()[1])
            elif first == "Anonymous:":
                cur[1] = int(line.split()[1])
    if cur:
        out.append(cur)
    out.sort(key=lambda m: -m[0])
    return out[:k]


def sim_items(url):
    try:
        with urllib.request.urlopen(url + "/_sim/stats", timeout=2) as r:
            return json.load(r).get("items_written", "")
    except Exception:
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pid", type=int)
    ap.add_argument("--comm", default="ddbload")
    ap.add_argument("out")
    ap.add_argument("--sim")
    ap.add_argument("--interval", type=float, default=0.5)
    a = ap.parse_args()
    pid = find_target(a.pid, a.comm)
    if pid is None:
        return
    # t = seconds since the sampled process started (its start time in /proc/PID/stat)
    try:
        with open("/proc/%d/stat" % pid) as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            up = float(f.read().split()[0])
        t0 = time.time() - (up - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        t0 = time.time()
    best = 0
    with open(a.out + ".csv", "w") as csv:
        csv.write("t_s,rss_kb,hwm_kb,anon_kb,file_kb,shmem_kb,threads,spill_files,spill_bytes,items_written,spill_sizes\n")
        while True:
            try:
                st = status(pid)
                if "VmRSS" not in st:
                    break  # exited (a zombie has no memory lines)
                nsp, bsp, ssz = spills(pid)
                if st.get("VmRSS", 0) > best + 4096:
                    best = st["VmRSS"]
                    with open("/proc/%d/smaps_rollup" % pid) as f:
                        roll = f.read()
                    tops = top_mappings(pid)
                    with open(a.out + ".peak.txt", "w") as p:
                        p.write("t_s %.1f  VmRSS %d kB  RssAnon %d kB  RssFile %d kB  spill files %d (%d bytes)\n\n"
                                % (time.time() - t0, st["VmRSS"], st.get("RssAnon", 0), st.get("RssFile", 0),
                                   nsp, bsp))
                        p.write(roll)
                        p.write("\nlargest mappings (Rss kB, Anonymous kB, mapping):\n")
                        for r, an, h in tops:
                            p.write("%9d %9d  %s\n" % (r, an, h))
            except (OSError, ValueError, KeyError):
                break  # gone
            items = sim_items(a.sim) if a.sim else ""
            csv.write("%.2f,%d,%d,%d,%d,%d,%d,%d,%d,%s,%s\n" % (
                time.time() - t0, st.get("VmRSS", 0), st.get("VmHWM", 0), st.get("RssAnon", 0),
                st.get("RssFile", 0), st.get("RssShmem", 0), st.get("Threads", 0), nsp, bsp, items,
                ";".join(str(x) for x in ssz)))
            csv.flush()
            time.sleep(a.interval)


if __name__ == "__main__":
    main()
