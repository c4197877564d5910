#!/usr/bin/env python3
"""bench/flash.py: the flash tier's yardstick (issue 20): hardcached (reading
through io_uring and through its pread threads) and memcached 1.6.45 with
extstore, same data, same RAM (1/8 of the data), same load.

Each run starts one server with -m RAM_MB and ext_path=DIR/f:SIZE, loads
ITEMS values of VLEN bytes (keys "key:%012d", hcbench's; pipelined noreply
sets, PACE seconds between batches of 1 MiB: memcached's extstore flushes
in the background and evicts what it has not written when the load outruns
it), then
  - reads SAMPLE uniform random keys in multi-gets of 50 and compares every
    value byte for byte (hit rate, wrong values);
  - runs hcbench open loop at RATE gets/s (uniform keys, CONNS connections)
    in WINDOWS windows of SECS seconds per server, the servers (all loaded
    and running at once) taking turns, so a burst of load on the shared
    machine falls on all alike; the same offered load for every server:
    p50/p99 of get
    latency (from each request's due time, so a stall is not hidden),
    gets per second of server CPU (utime+stime of the whole process, every
    thread, from /proc/PID/stat, around the get phase) and context switches
    per get (every thread's, /proc/PID/task/*/status: less noisy than CPU
    time on a shared machine);
and reads write amplification (extstore_bytes_written / bytes of values
flashed), RSS and an upper bound of RAM per flashed item: (RSS - the bytes
of the items still whole in RAM) / items on flash.

All of this ROUNDS times (the order rotates each round); the summary gives
each number's range over the rounds, p50/p99 as the median of a round's
windows and the quietest window's p99: the machine is shared, wall-clock
and CPU numbers move with its load.

Usage: flash.py [--items N] [--vlen B] [--ram-mb M] [--rounds R] [--rate G]
                [--windows W] [--secs S] [--conns C] [--sample K]
                [--servers LIST] [--instructions N1,N2]
                [--full]   (the issue's size: 2 GiB of 4 KiB values, -m 256)
Environment: HC_BIN, MEMCACHED_REF, HCBENCH (binaries), FLASH_DIR (a
directory on disk, default /var/tmp).
"""
import argparse
import os
import random
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MEMCACHED = os.environ.get("MEMCACHED_REF", os.path.expanduser(
    "~/.cache/hardcache-ref/memcached-1.6.45/memcached"))
HARDCACHED = os.environ.get("HC_BIN", os.path.join(HERE, "..", "build", "release",
                                                   "hardcached"))
HCBENCH = os.environ.get("HCBENCH", os.path.join(HERE, "..", "build", "release", "hcbench"))
SERVERS = {   # name: (binary, extra ext_ options)
    "hardcached-uring": (HARDCACHED, ",ext_io_backend=uring"),
    "hardcached-pool": (HARDCACHED, ",ext_io_backend=pool"),
    "memcached": (MEMCACHED, ""),
}
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(s, token):
    buf = b""
    while not buf.endswith(token):
        d = s.recv(1 << 20)
        if not d:
            sys.exit("server closed the connection")
        buf += d
    return buf


def stats(s):
    s.sendall(b"stats\r\n")
    return {k.decode(): v.decode() for k, v in
            re.findall(rb"STAT (\S+) (\S+)", until(s, b"END\r\n"))}


def cpu_s(pid):
    """utime + stime of the whole process (all its threads), seconds."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def switches(pid):
    """Context switches of every thread of the process (the kernel's I/O
    workers of its rings are threads of it too): each is a thread that
    slept or was put off the CPU; fewer per get means less waking up."""
    n = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            st = open("/proc/%d/task/%s/status" % (pid, t)).read()
        except OSError:
            continue   # a thread that ended meanwhile
        n += sum(int(v) for v in re.findall(r"ctxt_switches:\s+(\d+)", st))
    return n


def rss_bytes(pid):
    return int(open("/proc/%d/statm" % pid).read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def key(i):
    return b"key:%012d" % i


def value(i, vlen):
    return (b"%015d|" % i) * (vlen // 16) + b"#" * (vlen % 16)


def load(s, a):
    per_batch = max(1, (1 << 20) // a.vlen)
    t0 = time.time()
    for base in range(0, a.items, per_batch):
        s.sendall(b"".join(b"set %s 0 0 %d noreply\r\n%s\r\n" % (key(i), a.vlen, value(i, a.vlen))
                           for i in range(base, min(a.items, base + per_batch))))
        time.sleep(a.pace)
    s.sendall(b"mn\r\n")
    until(s, b"MN\r\n")
    return time.time() - t0


def verify(s, a, seed):
    """Hits and wrong values among a.sample uniform random keys."""
    rnd = random.Random(seed)
    keys = [rnd.randrange(a.items) for _ in range(a.sample)]
    hits = wrong = 0
    for base in range(0, len(keys), 50):
        ks = keys[base:base + 50]
        s.sendall(b"get " + b" ".join(key(k) for k in ks) + b"\r\n")
        got = until(s, b"END\r\n")
        for k in ks:
            head = b"VALUE %s 0 %d\r\n" % (key(k), a.vlen)
            j = got.find(head)
            if j >= 0:
                ok = got[j + len(head):j + len(head) + a.vlen] == value(k, a.vlen)
                hits += ok
                wrong += not ok
    return hits, wrong


def hcbench(port, a, seed):
    out = subprocess.run([HCBENCH, "-s", "127.0.0.1:%d" % port, "-r", "1", "-k", str(a.items),
                          "-v", str(a.vlen), "-c", str(a.conns), "-R", str(a.rate),
                          "-d", str(a.secs), "--seed", str(seed)],
                         capture_output=True, text=True, timeout=a.secs + 120).stdout
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if not m:
        sys.exit("hcbench: no RESULT line:\n" + out)
    return dict(kv.split("=", 1) for kv in m.group(1).split())


class Server:
    """One server with its flash file, running until stop()."""

    def __init__(self, name, a):
        binary, ext = SERVERS[name]
        flash_mb = a.items * (a.vlen + 64) // (1 << 20) * 5 // 4 + 64
        self.name = name
        self.dir = tempfile.mkdtemp(dir=os.environ.get("FLASH_DIR", "/var/tmp"))
        os.chmod(self.dir, 0o777)   # the servers run as nobody
        self.port = free_port()
        argv = [binary, "-u", "nobody", "-p", str(self.port), "-l", "127.0.0.1", "-U", "0",
                "-m", str(a.ram_mb), "-o", "ext_path=%s/f:%dm%s" % (self.dir, flash_mb, ext)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        for _ in range(100):
            try:
                self.s = socket.create_connection(("127.0.0.1", self.port))
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("%s did not start" % name)

    def window(self, a, seed):
        """One get window of hcbench open loop, with the server's CPU and
        context switches around it."""
        c0, x0 = cpu_s(self.proc.pid), switches(self.proc.pid)
        r = hcbench(self.port, a, seed)
        return {"gets": int(r["gets"]), "hits": int(r["hits"]), "errors": int(r["errors"]),
                "cpu": cpu_s(self.proc.pid) - c0, "switches": switches(self.proc.pid) - x0,
                "achieved": float(r["ops_per_sec"]),
                "p50_us": float(r["p50_us"]), "p99_us": float(r["p99_us"])}

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)


def median(xs):
    xs = sorted(xs)
    return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2


def run_round(names, a, rnd_no):
    """Every server loaded and running at once, so that the get windows of
    the servers can take turns: a burst of load on the machine then falls
    on all of them alike, not on whichever ran at the time."""
    servers = []
    results = []
    try:
        for name in names:
            servers.append(Server(name, a))
        for sv in servers:
            sv.load_s = load(sv.s, a)
        time.sleep(3)   # memcached's flusher's last pages
        for sv in servers:
            sv.st = stats(sv.s)
            sv.hits, sv.wrong = verify(sv.s, a, rnd_no)
            sv.windows = []
        for w in range(a.windows):
            for sv in servers[w % len(servers):] + servers[:w % len(servers)]:
                sv.windows.append(sv.window(a, 1000 * rnd_no + w))
        for sv in servers:
            st, ws = sv.st, sv.windows
            st2 = stats(sv.s)
            rss = rss_bytes(sv.proc.pid)
            flashed = int(st["extstore_objects_written"]) * a.vlen
            on_flash = int(st2["extstore_objects_used"])
            in_ram = int(st2["curr_items"]) - on_flash
            gets = sum(x["gets"] for x in ws)
            cpu = sum(x["cpu"] for x in ws)
            res = {
                "server": sv.name, "round": rnd_no, "load_s": sv.load_s,
                "hit": sv.hits / a.sample, "wrong": sv.wrong,
                "bench_hit": sum(x["hits"] for x in ws) / max(gets, 1),
                "gets_per_cpu_s": gets / max(cpu, 1.0 / TICK), "cpu_s": cpu,
                "switches_per_get": sum(x["switches"] for x in ws) / max(gets, 1),
                "offered": a.rate, "achieved": min(x["achieved"] for x in ws),
                "p50_us": median([x["p50_us"] for x in ws]),
                "p99_us": median([x["p99_us"] for x in ws]),
                "p99_min_us": min(x["p99_us"] for x in ws),
                "errors": sum(x["errors"] for x in ws),
                "write_amp": int(st["extstore_bytes_written"]) / max(flashed, 1),
                "rss_mib": rss / (1 << 20),
                "ram_per_flashed": (rss - in_ram * (a.vlen + 16 + 50)) / max(on_flash, 1),
                "items": int(st2["curr_items"]), "on_flash": on_flash,
            }
            print("%(server)s round %(round)d: load %(load_s).0f s, hit %(hit).4f "
                  "(%(wrong)d wrong; hcbench %(bench_hit).4f), %(gets_per_cpu_s).0f gets/CPU-s "
                  "(%(cpu_s).2f s), %(switches_per_get).2f context switches/get, "
                  ">= %(achieved).0f/%(offered)d gets/s, median of windows p50 %(p50_us).0f us "
                  "p99 %(p99_us).0f us (quietest %(p99_min_us).0f us), errors %(errors)d, "
                  "WA %(write_amp).3f, RSS %(rss_mib).0f MiB, <= %(ram_per_flashed).0f B RAM "
                  "per flashed item (%(on_flash)d of %(items)d on flash)" % res, flush=True)
            print("  windows p99 us: " + " ".join("%.0f" % x["p99_us"] for x in ws), flush=True)
            results.append(res)
    finally:
        for sv in servers:
            sv.stop()
    return results


def callgrind_total(name, a, n):
    """Instructions (callgrind, user space only) of one server run: start,
    paced load, n single-key gets one at a time (hcbench -c 1 -p 1), stop;
    returns (instructions, hits)."""
    binary, ext = SERVERS[name]
    d = tempfile.mkdtemp(dir=os.environ.get("FLASH_DIR", "/var/tmp"))
    out = os.path.join(d, "cg.out")
    port = free_port()
    opts = "ext_path=%s/f:%dm%s" % (d, a.items * (a.vlen + 64) // (1 << 20) * 5 // 4 + 64, ext)
    # the crawler runs by the clock, 50x slower under valgrind than the rest
    opts += ",no_lru_crawler"
    extra = []
    if binary == HARDCACHED:
        opts += ",no_sandbox"   # callgrind writes its file at exit
    else:
        extra = ["-c", "1088"]   # memcached's fd limit is -c; valgrind keeps 12 back
    # as root, staying root: callgrind's file was opened before a drop
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary,
            "-u", "root", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-t", "1",
            "-m", str(a.ram_mb), "-o", opts] + extra
    srv = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                 (1100, 1100)))
    try:
        for _ in range(600):
            try:
                s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("%s did not start under valgrind" % name)
        load(s, a)
        time.sleep(3)
        r = subprocess.run([HCBENCH, "-s", "127.0.0.1:%d" % port, "-r", "1", "-k", str(a.items),
                            "-v", str(a.vlen), "-c", "1", "-p", "1", "-n", str(n)],
                           capture_output=True, text=True, timeout=3600).stdout
        hits = int(re.search(r" hits=(\d+)", r).group(1))
        s.close()
        srv.terminate()
        srv.wait()
        with open(out) as f:
            total = int(re.search(r"^totals: (\d+)", f.read(), re.M).group(1))
        return total, hits
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)


def instructions(a):
    """User-space instructions per get, the difference of two runs (n1 and
    n2 gets) divided by n2 - n1: start-up and load cancel out. The same on
    every run whatever the machine does; blind to the kernel (system
    calls, context switches), where the backends differ most."""
    n1, n2 = a.instructions
    print("callgrind: %d x %d B, -m %d, -t 1, %d vs %d single gets" %
          (a.items, a.vlen, a.ram_mb, n1, n2))
    for name in a.servers:
        t1, h1 = callgrind_total(name, a, n1)
        t2, h2 = callgrind_total(name, a, n2)
        print("  %-17s %8.0f instructions per get (hits %d/%d, %d/%d)" %
              (name, (t2 - t1) / (n2 - n1), h1, n1, h2, n2), flush=True)


def span(rows, k, fmt):
    lo, hi = min(r[k] for r in rows), max(r[k] for r in rows)
    return fmt % lo if fmt % lo == fmt % hi else (fmt + "-" + fmt) % (lo, hi)


def summary(results, a):
    print("\n%d x %d B (%.2f GiB), -m %d, %d rounds, open loop %d gets/s over %d "
          "connections in %d windows of %d s per server, the servers taking turns; p50/p99: "
          "median of the windows; ranges over the rounds" %
          (a.items, a.vlen, a.items * a.vlen / (1 << 30), a.ram_mb, a.rounds, a.rate, a.conns,
           a.windows, a.secs))
    print("| server | hit rate | gets/CPU-s | switches/get | p50 us | p99 us | quietest p99 us "
          "| write amp. | RAM/flashed item (bound) | RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in a.servers:
        rows = [r for r in results if r["server"] == name]
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, span(rows, "hit", "%.4f"), span(rows, "gets_per_cpu_s", "%.0f"),
            span(rows, "switches_per_get", "%.2f"),
            span(rows, "p50_us", "%.0f"), span(rows, "p99_us", "%.0f"),
            span(rows, "p99_min_us", "%.0f"),
            span(rows, "write_amp", "%.3f"), span(rows, "ram_per_flashed", "%.0f"),
            span(rows, "rss_mib", "%.0f")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=65536)
    ap.add_argument("--vlen", type=int, default=4096)
    ap.add_argument("--ram-mb", type=int, default=32)
    ap.add_argument("--pace", type=float, default=0.02)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--secs", type=int, default=4)
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--sample", type=int, default=5000)
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--instructions", metavar="N1,N2",
                    type=lambda v: tuple(int(x) for x in v.split(",")),
                    help="only count callgrind instructions per get (N2 - N1 gets)")
    ap.add_argument("--full", action="store_true",
                    help="the issue's size: 2 GiB of 4 KiB values, -m 256, 2 rounds")
    a = ap.parse_args()
    if a.full:
        a.items, a.vlen, a.ram_mb, a.rounds = 524288, 4096, 256, max(a.rounds, 2)
    a.servers = a.servers.split(",")
    for name in a.servers:
        if name not in SERVERS:
            sys.exit("unknown server %s (one of %s)" % (name, ", ".join(SERVERS)))
    if a.instructions:
        instructions(a)
        return
    results = []
    for rnd_no in range(a.rounds):
        order = a.servers[rnd_no % len(a.servers):] + a.servers[:rnd_no % len(a.servers)]
        results += run_round(order, a, rnd_no)
    summary(results, a)


if __name__ == "__main__":
    main()
