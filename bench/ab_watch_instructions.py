#!/usr/bin/env python3
"""bench/ab_watch_instructions.py OLD_BIN NEW_BIN [N1 N2]: what a `watch`
client costs the worker next to K idle connections, in callgrind
instructions, for two hardcached builds (as bench/ab_instructions.sh, whose
fixed load and N1/N2 difference it follows: one worker, 10 clients of
hcbench at pipeline 16, 90% sets of 32 bytes).

Each row: K idle connections and W watchers (`watch mutations`, read as
fast as they come). Columns: instructions per request; how often the
worker fed its watchers (conn_set_feed_watchers, once per wake-up) and the
instructions of that walk itself per call (without the lines it sends,
which the watchers' own conn_feed counts). The walk over every connection
shows as instructions per call growing with K.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HCBENCH = os.path.join(ROOT, "build", "release", "hcbench")
PORT = int(os.environ.get("AB_PORT", "21611"))
ROWS = [(0, 1), (1000, 1), (3000, 1), (3000, 0)]   # (idle K, watchers W)
FEED = "conn_set_feed_watchers"


def wait_up():
    for _ in range(300):
        if subprocess.run([HCBENCH, "--stats", "-s", "127.0.0.1:%d" % PORT],
                          capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    sys.exit("ab_watch_instructions: server did not start")


def self_cost(out):
    """conn_set_feed_watchers' own instructions (not its callees')."""
    ann = subprocess.run(["callgrind_annotate", "--threshold=100", out],
                         capture_output=True, text=True).stdout
    for line in ann.splitlines():
        if FEED in line and ":" in line:
            return int(line.split()[0].replace(",", ""))
    return 0


def calls(text):
    fid = re.search(r"\((\d+)\) %s\b" % FEED, text)
    if fid is None:
        return 0
    pat = re.compile(r"^cfn=\(%s\)(?: %s)?\ncalls=(\d+)" % (fid.group(1), FEED), re.M)
    return sum(int(c) for c in pat.findall(text))


def run(binary, k, nw, n, tmp):
    """(total instructions, feed calls, feed's own instructions)"""
    out = os.path.join(tmp, "cg.out")
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
            binary, "-p", str(PORT), "-U", "0", "-t", "1", "-m", "256",
            "-c", str(k + 100), "-o", "no_sandbox"]
    if os.getuid() == 0:
        argv += ["-u", "root"]   # see ab_instructions.sh
    srv = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = threading.Event()
    socks = []
    try:
        wait_up()
        socks = [socket.create_connection(("127.0.0.1", PORT)) for _ in range(k)]
        watchers = []
        for _ in range(nw):
            w = socket.create_connection(("127.0.0.1", PORT))
            w.sendall(b"watch mutations\r\n")
            w.settimeout(0.2)
            watchers.append(w)
        socks += watchers

        def drain(w):
            while not done.is_set():
                try:
                    if not w.recv(1 << 20):
                        return
                except socket.timeout:
                    pass
        readers = [threading.Thread(target=drain, args=(w,)) for w in watchers]
        for t in readers:
            t.start()
        time.sleep(0.5)
        subprocess.run([HCBENCH, "-s", "127.0.0.1:%d" % PORT, "-c", "10", "-k", "10000",
                        "-p", "16", "-r", "0.1", "-v", "32", "-n", str(n)],
                       stdout=subprocess.DEVNULL, check=True)
    finally:
        done.set()
        srv.terminate()
        srv.wait()
        for s in socks:
            s.close()
    with open(out) as f:
        text = f.read()
    total = int(re.search(r"^totals: (\d+)", text, re.M).group(1))
    return total, calls(text), self_cost(out)


def main(argv):
    if len(argv) not in (3, 5):
        sys.exit(__doc__)
    bins = argv[1:3]
    n1, n2 = (int(a) for a in argv[3:5]) if len(argv) == 5 else (20000, 60000)
    print("%-6s %5s %2s %14s %12s %16s" % ("build", "idle", "W", "instr/req",
                                           "feed calls", "walk instr/call"))
    with tempfile.TemporaryDirectory() as tmp:
        for k, nw in ROWS:
            for label, b in zip(("old", "new"), bins):
                t1, _, _ = run(b, k, nw, n1, tmp)
                t2, c2, s2 = run(b, k, nw, n2, tmp)
                print("%-6s %5d %2d %14.0f %12d %16.0f" % (
                    label, k, nw, (t2 - t1) / (n2 - n1), c2, s2 / c2 if c2 else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
