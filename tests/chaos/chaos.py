#!/usr/bin/env python3
"""Chaos, load and soak scenarios against the real triaged binary, on loopback only.

Each scenario starts its own triaged and upstream processes (ports chosen by the kernel),
bounds every wait, stops every process it started by PID, prints its figures, and fails when
the behaviour it asserts does not hold:

  restart     the upstream is SIGKILLed and restarted every 1-2 s under keep-alive load: the
              daemon lives; every response is complete with the right bytes (the fake's
              pattern body, checked byte for byte) or a proxy-made 5xx naming its cause;
              /metrics counts what the clients saw, code by code; no 503 no_healthy_endpoint
              while the only endpoint restarts (it is tried anyway)
  sigterm     SIGTERM with requests in flight: /readyz 503 at once, every request completes,
              exit 0
  slowloris   hundreds of connections trickling a head while a normal client is served: its
              p99 is reported, every slow connection gets 408 at client_header_timeout
  descriptors a low RLIMIT_NOFILE and more connections than it allows, first under the derived
              max_client_connections, then with a cap set above the limit (EMFILE): no crash,
              no busy loop, pauses counted and logged rate-limited, the admin listener answers,
              service is back once they close
  soak        mixed traffic (200s, upstream 500s, a refused endpoint): RSS and descriptors
              stay flat, reported
  fuzz        tens of thousands of mutated requests (from the conformance corpus) over many
              connections: the daemon lives, every answer starts with a valid status line
  config      hundreds of mutated configuration files through --check-config: no crash or
              hang, every rejection is FILE:LINE: KEY: reason

  tests/chaos/chaos.py --build build [--short | --long] [--seed N] [SCENARIO...]

--short is the CI form (ctest label chaos, about a minute and a half), the default is a few
minutes, --long the soak and fuzzing at length.
"""

import argparse
import http.client
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATTERN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
STATUS_LINE = re.compile(rb"^HTTP/1\.[01] [1-5][0-9][0-9] [^\r\n]*\r\n")
PROBLEM_LINE = re.compile(r"^(.+):(\d+): (\S+): (.+)$")


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def pattern(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


class Proc:
    """A child process whose output goes to a file; killed by PID when the scenario ends."""

    def __init__(self, argv, name, workdir, rlimit_nofile=None):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        pre = None
        if rlimit_nofile is not None:
            def pre():
                resource.setrlimit(resource.RLIMIT_NOFILE, (rlimit_nofile, rlimit_nofile))
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  preexec_fn=pre)

    def wait_line(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                for line in f:
                    if predicate(line):
                        return line
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise Failed("%s: no expected line in %ss; output:\n%s" % (self.name, timeout, self.output()))

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode

    def rss_kb(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.p.pid))

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Env:
    """The processes of one scenario."""

    def __init__(self, build, workdir):
        self.build = build
        self.workdir = workdir
        self.procs = []

    def fake(self, port=0, name="fake"):
        p = Proc([os.path.join(self.build, "triaged_fake_upstream"), "--listen",
                  "127.0.0.1:%d" % port], name, self.workdir)
        self.procs.append(p)
        line = p.wait_line(lambda l: l.startswith(b"LISTENING "))
        p.port = int(line.split(b":")[-1])
        return p

    def triaged(self, upstreams, server_keys="", extra="", rlimit_nofile=None, name="triaged"):
        cfg = '[server]\nlisten = "127.0.0.1:0"\nadmin_listen = "127.0.0.1:0"\n' + server_keys
        cfg += '\n[log]\nlevel = "info"\n'
        for uname, endpoints, keys, prefix in upstreams:
            cfg += '\n[[upstream]]\nname = "%s"\nendpoints = [%s]\n%s\n' % (
                uname, ", ".join('"%s"' % e for e in endpoints), keys)
        for uname, endpoints, keys, prefix in upstreams:
            cfg += '\n[[route]]\nprefix = "%s"\nupstream = "%s"\n' % (prefix, uname)
        cfg += extra
        path = os.path.join(self.workdir, name + ".toml")
        with open(path, "w") as f:
            f.write(cfg)
        p = Proc([os.path.join(self.build, "triaged"), "--config", path], name, self.workdir,
                 rlimit_nofile)
        self.procs.append(p)
        line = json.loads(p.wait_line(lambda l: b'"event":"listening"' in l))
        p.port = int(line["listen"].rsplit(":", 1)[1])
        p.admin = int(line["admin"].rsplit(":", 1)[1])
        return p

    def close(self):
        for p in reversed(self.procs):
            p.stop(signal.SIGKILL)


def get(port, path, timeout=5, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    finally:
        c.close()


def metrics(admin_port):
    _, body, _ = get(admin_port, "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_labels, value = line.rsplit(" ", 1)
        out[name_labels] = float(value)
    return out


def requests_by_code(m, upstream):
    counts = {}
    for key, value in m.items():
        if not key.startswith("triaged_requests_total{") or 'upstream="%s"' % upstream not in key:
            continue
        code = re.search(r'code="(\d+)"', key).group(1)
        origin = re.search(r'origin="(\w+)"', key).group(1)
        counts[(int(code), origin)] = counts.get((int(code), origin), 0) + int(value)
    return counts


# --- scenarios -------------------------------------------------------------------------------

def scenario_restart(env, args):
    seconds = {"short": 12, "default": 20, "long": 60}[args.form]
    fake = env.fake()
    port = fake.port
    d = env.triaged([("app", ["127.0.0.1:%d" % port], "", "/")], "workers = 1\n")
    stop = threading.Event()
    lock = threading.Lock()
    seen = {}  # (status, origin) -> count
    causes = {}
    problems = []
    latencies = []
    restarts = [0]

    def client(seed):
        rnd = random.Random(seed)
        conn = None
        while not stop.is_set():
            size = rnd.choice([0, 100, 4096, 20000, 70000])
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
                t0 = time.monotonic()
                conn.request("GET", "/load?size=%d" % size)
                r = conn.getresponse()
                body = r.read()
                latencies.append(time.monotonic() - t0)
                cause = r.getheader("X-Triaged-Cause")
                origin = "proxy" if cause else "upstream"
                with lock:
                    seen[(r.status, origin)] = seen.get((r.status, origin), 0) + 1
                    if cause:
                        causes[cause] = causes.get(cause, 0) + 1
                if cause:
                    if r.status < 500:
                        problems.append("proxy-made %d (%s)" % (r.status, cause))
                elif r.status != 200 or body != pattern(size):
                    problems.append("status %d with a wrong body of %d bytes (want %d)" %
                                    (r.status, len(body), size))
                if r.will_close:
                    conn.close()
                    conn = None
            except (http.client.IncompleteRead, http.client.RemoteDisconnected,
                    ConnectionError, socket.timeout) as e:
                # A response cut after its head (the upstream died mid-body) is the only
                # acceptable loss: it must never look complete.
                with lock:
                    seen[("cut", type(e).__name__)] = seen.get(("cut", type(e).__name__), 0) + 1
                conn.close()
                conn = None

    def killer():
        nonlocal fake
        rnd = random.Random(args.seed)
        while not stop.is_set():
            time.sleep(rnd.uniform(1.0, 2.0))
            if stop.is_set():
                break
            fake.stop(signal.SIGKILL)
            env.procs.remove(fake)
            time.sleep(rnd.uniform(0.05, 0.3))
            fake = env.fake(port, "fake-%d" % restarts[0])
            restarts[0] += 1

    base = requests_by_code(metrics(d.admin), "app")
    threads = [threading.Thread(target=client, args=(args.seed + i,)) for i in range(4)]
    threads.append(threading.Thread(target=killer))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(30)
    check(d.p.poll() is None, "triaged died: " + d.output())
    after = requests_by_code(metrics(d.admin), "app")
    delta = {k: after.get(k, 0) - base.get(k, 0) for k in set(after) | set(base)}
    delta = {k: v for k, v in delta.items() if v}
    total = sum(v for k, v in seen.items())
    cut = sum(v for k, v in seen.items() if k[0] == "cut")
    print("  %d requests in %ds over 4 keep-alive clients, upstream killed %d times; "
          "p50 %.1f ms, p99 %.1f ms" % (total, seconds, restarts[0],
                                        1000 * percentile(latencies, 0.5),
                                        1000 * percentile(latencies, 0.99)))
    print("  clients saw: %s" % sorted((str(k), v) for k, v in seen.items()))
    print("  proxy-made causes: %s" % sorted(causes.items()))
    print("  /metrics delta (code, origin): %s" % sorted((str(k), v) for k, v in delta.items()))
    check(not problems, "bad responses: %s" % problems[:5])
    check(restarts[0] >= 3, "the upstream was restarted only %d times" % restarts[0])
    answered = {k: v for k, v in seen.items() if k[0] != "cut"}
    # A cut response was counted by triaged under the status it had begun with.
    for (code, origin), n in answered.items():
        check(delta.get((code, origin), 0) >= n,
              "/metrics has %d of %s, the clients saw %d" % (delta.get((code, origin), 0),
                                                             (code, origin), n))
    check(sum(delta.values()) == total,
          "/metrics counts %d requests, the clients made %d" % (sum(delta.values()), total))
    # With its only endpoint restarting, triaged tries it anyway: no 503 no_healthy_endpoint
    # for the seconds passive health keeps it marked down (on main before issue 20: 80% of the
    # requests).
    check(causes.get("no_healthy_endpoint", 0) == 0,
          "%d requests got 503 no_healthy_endpoint while the endpoint was restarting" %
          causes.get("no_healthy_endpoint", 0))


def scenario_sigterm(env, args):
    fake = env.fake()
    d = env.triaged([("app", ["127.0.0.1:%d" % fake.port], "", "/")],
                    'workers = 1\ndrain_timeout = "10s"\n')
    n = 8
    results = [None] * n

    def slow(i):
        try:
            results[i] = get(d.port, "/slow?delay_headers=1500&size=5000", timeout=15)
        except Exception as e:  # noqa: BLE001 -- any failure is the finding
            results[i] = e

    threads = [threading.Thread(target=slow, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    # All eight are at the upstream before the signal.
    get(fake.port, "/__stats?wait_requests=%d&timeout_ms=5000" % n)
    t0 = time.monotonic()
    d.p.send_signal(signal.SIGTERM)
    ready = None
    while time.monotonic() - t0 < 2:
        try:
            ready = get(d.admin, "/readyz", timeout=2)[0]
            if ready == 503:
                break
        except ConnectionError:
            time.sleep(0.01)
    readyz_ms = 1000 * (time.monotonic() - t0)
    for t in threads:
        t.join(20)
    rc = d.p.wait(15)
    env.procs.remove(d)
    d.log.close()
    ok = sum(1 for r in results if isinstance(r, tuple) and r[0] == 200 and r[1] == pattern(5000))
    print("  %d requests in flight at SIGTERM: %d completed with their full body; /readyz %s "
          "%.0f ms after the signal; exit %s" % (n, ok, ready, readyz_ms, rc))
    check(ready == 503, "/readyz did not turn 503 after SIGTERM (got %s)" % ready)
    check(ok == n, "requests in flight were lost: %s" % [str(r)[:80] for r in results])
    check(rc == 0, "exit code %s" % rc)


def scenario_slowloris(env, args):
    n_slow = {"short": 200, "default": 400, "long": 800}[args.form]
    fake = env.fake()
    d = env.triaged([("app", ["127.0.0.1:%d" % fake.port], "", "/")],
                    'workers = 1\nclient_header_timeout = "2s"\n')
    slow = []
    for _ in range(n_slow):
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: app\r\nX-Slow: ")
        s.setblocking(False)
        slow.append(s)
    latencies = []
    statuses = {}
    stop = threading.Event()

    def normal():
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
        while not stop.is_set():
            t0 = time.monotonic()
            conn.request("GET", "/ok?size=1000")
            r = conn.getresponse()
            r.read()
            latencies.append(time.monotonic() - t0)
            statuses[r.status] = statuses.get(r.status, 0) + 1

    t = threading.Thread(target=normal)
    t.start()
    answers = {}
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and len(answers) < n_slow:
        for i, s in enumerate(slow):
            if i in answers:
                continue
            try:
                data = s.recv(4096)
                answers[i] = data[:12] if data else b"closed"
            except BlockingIOError:
                try:
                    s.send(b"a")  # one byte more of a header that never ends
                except OSError:
                    answers[i] = b"reset"
            except OSError:
                answers[i] = b"reset"
        time.sleep(0.25)
    stop.set()
    t.join(10)
    for s in slow:
        s.close()
    got408 = sum(1 for a in answers.values() if a.startswith(b"HTTP/1.1 408"))
    print("  %d connections trickling a head, one byte per 250 ms; normal client: %d requests, "
          "p50 %.2f ms, p99 %.2f ms, statuses %s; slow ones answered 408: %d of %d" % (
              n_slow, len(latencies), 1000 * percentile(latencies, 0.5),
              1000 * percentile(latencies, 0.99), statuses, got408, n_slow))
    check(d.p.poll() is None, "triaged died")
    check(statuses and set(statuses) == {200}, "the normal client was not served: %s" % statuses)
    check(got408 == n_slow, "slow connections not answered 408: %s" %
          sorted(set(answers.values()) - {b"HTTP/1.1 408"})[:5])


def accept_pauses(admin_port, reason):
    return sum(v for k, v in metrics(admin_port).items()
               if k.startswith("triaged_accept_pauses_total{") and 'reason="%s"' % reason in k)


def hold_connections(d, n):
    """Opens n client connections (the kernel completes them into the backlog when triaged does
    not accept), measures triaged's CPU over 2 s with them open, and returns them with it."""
    held = []
    for _ in range(n):
        try:
            held.append(socket.create_connection(("127.0.0.1", d.port), timeout=2))
        except OSError:
            break
    time.sleep(0.5)
    cpu0 = d.cpu_seconds()
    time.sleep(2)
    return held, d.cpu_seconds() - cpu0


def served_again_ms(d):
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        try:
            if get(d.port, "/ok", timeout=1)[0] == 200:
                return 1000 * (time.monotonic() - t0)
        except OSError:
            time.sleep(0.05)
    return None


def scenario_descriptors(env, args):
    limit = 64
    fake = env.fake()
    upstream = [("app", ["127.0.0.1:%d" % fake.port], "", "/")]
    # The derived connection cap: (limit - reserve) / 2 client connections, the rest wait in
    # the backlog; the admin listener keeps its descriptors.
    d = env.triaged(upstream, "workers = 1\n", rlimit_nofile=limit, name="capped")
    held, cpu = hold_connections(d, limit * 2)
    health = get(d.admin, "/healthz", timeout=3)[0]
    capped = accept_pauses(d.admin, "max_client_connections")
    for s in held:
        s.close()
    back = served_again_ms(d)
    print("  RLIMIT_NOFILE %d, %d connections: CPU %.2f s over 2 s, /healthz %s, accept pauses "
          "at the connection cap %d, served again %s ms after they closed" % (
              limit, len(held), cpu, health, capped, "%.0f" % back if back is not None else "never"))
    check(d.p.poll() is None, "triaged died")
    check(cpu < 0.5, "busy at the connection cap: %.2f s of CPU in 2 s" % cpu)
    check(health == 200, "the admin listener did not answer at the cap: %s" % health)
    check(capped > 0, "the connection cap was never reached or not counted")
    check(back is not None, "not serving within 5 s of the connections closing")

    # A cap set above what the descriptors allow: accept() fails with EMFILE; the listener
    # pauses (no busy loop), the pauses are counted and logged a few times, not per failure.
    if os.environ.get("TRIAGED_TEST_SANITIZED") == "1":
        # UBSan's vptr check tests whether memory is readable through a pipe(), which fails at
        # EMFILE, and it then stops the process with a false "invalid vptr" report.
        print("  EMFILE phase skipped under the sanitizers (their runtime needs descriptors)")
        return
    e = env.triaged(upstream, "workers = 1\nmax_client_connections = 1000\n",
                    rlimit_nofile=limit, name="emfile")
    held, cpu = hold_connections(e, limit * 2)
    alive = e.p.poll() is None
    for s in held:
        s.close()
    back = served_again_ms(e)
    emfile = accept_pauses(e.admin, "EMFILE")
    with open(e.log_path, "rb") as f:
        lines = sum(1 for line in f if b'"accept_paused"' in line)
    print("  max_client_connections 1000 over RLIMIT_NOFILE %d, %d connections: CPU %.2f s over "
          "2 s, EMFILE pauses %d, accept_paused lines %d, served again %s ms after they closed" % (
              limit, len(held), cpu, emfile, lines,
              "%.0f" % back if back is not None else "never"))
    check(alive, "triaged died at EMFILE")
    check(cpu < 0.5, "busy at EMFILE: %.2f s of CPU in 2 s" % cpu)
    check(emfile > 0, "EMFILE pauses not counted")
    check(0 < lines <= 5, "accept_paused logged %d times, not rate-limited" % lines)
    check(back is not None, "not serving within 5 s of the connections closing")


def scenario_soak(env, args):
    seconds = {"short": 20, "default": 120, "long": 600}[args.form]
    fake = env.fake()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    d = env.triaged([("app", ["127.0.0.1:%d" % fake.port], "", "/"),
                     ("gone", ["127.0.0.1:%d" % dead_port], "retries = 0", "/gone")],
                    "workers = 1\n")
    stop = threading.Event()
    counts = {}
    lock = threading.Lock()

    def client(seed):
        rnd = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        while not stop.is_set():
            x = rnd.random()
            path = ("/gone" if x < 0.1 else "/?status=500" if x < 0.2 else
                    "/ok?size=%d" % rnd.choice([10, 1000, 30000]))
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            with lock:
                counts[r.status] = counts.get(r.status, 0) + 1
            if r.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        conn.close()

    base_fds = d.fds()
    threads = [threading.Thread(target=client, args=(args.seed + i,)) for i in range(4)]
    for t in threads:
        t.start()
    samples = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(1)
        samples.append((time.monotonic() - t0, d.rss_kb(), d.fds()))
    stop.set()
    for t in threads:
        t.join(20)
    time.sleep(0.5)
    end_fds = d.fds()
    warm = [s for s in samples if s[0] >= seconds * 0.25]
    rss_first, rss_last = warm[0][1], warm[-1][1]
    total = sum(counts.values())
    print("  %d requests in %ds (%s); RSS after warm-up %d KiB, at the end %d KiB (%+d), max %d; "
          "descriptors at start %d, max under load %d, after the clients left %d" % (
              total, seconds, sorted(counts.items()), rss_first, rss_last, rss_last - rss_first,
              max(s[1] for s in samples), base_fds, max(s[2] for s in samples), end_fds))
    check(d.p.poll() is None, "triaged died")
    # /gone is refused: 502 connect_refused, or 503 no_healthy_endpoint once passive health
    # marked it down.
    check(set(counts) <= {200, 500, 502, 503}, "unexpected statuses: %s" % counts)
    # ASan holds freed memory in quarantine, so RSS under it says nothing about leaks.
    if os.environ.get("TRIAGED_TEST_SANITIZED") != "1":
        check(rss_last - rss_first < 4096,
              "RSS grew by %d KiB after warm-up" % (rss_last - rss_first))
    # What stays open beyond the start: the pooled idle upstream connections, nothing else.
    idle = sum(v for k, v in metrics(d.admin).items()
               if k.startswith("triaged_upstream_connections{") and 'state="idle"' in k)
    print("  idle pooled upstream connections at the end: %d" % idle)
    check(end_fds <= base_fds + idle, "descriptors %d at the end: %d at start + %d pooled" % (
        end_fds, base_fds, idle))


def corpus_requests():
    """Every request section of the conformance corpus, as bytes."""
    out = []
    d = os.path.join(ROOT, "tests", "conformance", "requests")
    for name in sorted(os.listdir(d)):
        section = None
        data = bytearray()
        with open(os.path.join(d, name), encoding="latin-1") as f:
            for line in f.read().split("\n"):
                if line.startswith("---- "):
                    section = line[5:].strip()
                    continue
                if section != "request":
                    continue
                i = 0
                while i < len(line):
                    c = line[i]
                    if c == "\\":
                        e = line[i + 1]
                        i += 2
                        if e == "x":
                            data.append(int(line[i:i + 2], 16))
                            i += 2
                        else:
                            data += {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0",
                                     "\\": b"\\"}[e]
                        continue
                    data.append(ord(c))
                    i += 1
        out.append(bytes(data))
    return out


def mutate(rnd, seed, seeds):
    data = bytearray(seed)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(7)
        at = rnd.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:
            data[at:at] = bytes([rnd.choice(b"\r\n\0 \t:,;\"\x7f\x80\xff0fF")])
        elif op == 2 and data:
            del data[at:at + rnd.randint(1, 8)]
        elif op == 3:
            lines = bytes(data).split(b"\r\n")
            i = rnd.randrange(len(lines))
            lines.insert(i, lines[rnd.randrange(len(lines))])
            data = bytearray(b"\r\n".join(lines))
        elif op == 4:
            data[at:at] = rnd.choice([b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n",
                                      b"Host: x\r\n", b"Connection: close\r\n", b"0\r\n\r\n",
                                      b"\r\n\r\n", b"Expect: 100-continue\r\n"])
        elif op == 5:
            other = rnd.choice(seeds)
            cut = rnd.randrange(len(other) + 1)
            data = data[:at] + bytearray(other[cut:])
        else:
            data[at:at] = str(rnd.randint(0, 1 << 64)).encode()
    return bytes(data)


def scenario_fuzz(env, args):
    total = {"short": 20000, "default": 50000, "long": 200000}[args.form]
    fake = env.fake()
    d = env.triaged([("app", ["127.0.0.1:%d" % fake.port], "", "/")],
                    'workers = 1\nclient_header_timeout = "1s"\n',
                    extra="")
    seeds = corpus_requests()
    lock = threading.Lock()
    done = [0]
    statuses = {}
    bad = []
    silent = [0]
    tail = b"GET /tail HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n"

    def worker(seed):
        rnd = random.Random(seed)
        while True:
            with lock:
                if done[0] >= total:
                    return
                done[0] += 1
            data = mutate(rnd, rnd.choice(seeds), seeds)
            got = b""
            s = None
            try:
                s = socket.create_connection(("127.0.0.1", d.port), timeout=3)
                s.settimeout(1.5)
                s.sendall(data + tail)
                while len(got) < 65536:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except (socket.timeout, ConnectionError):
                pass
            finally:
                if s is not None:
                    s.close()
            with lock:
                if not got:
                    silent[0] += 1
                elif not STATUS_LINE.match(got):
                    bad.append((data, got[:80]))
                else:
                    code = int(got[9:12])
                    statuses[code] = statuses.get(code, 0) + 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(args.seed + i,)) for i in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    took = time.monotonic() - t0
    print("  %d mutated requests from %d corpus seeds over %d connections in %.0f s: first "
          "answers %s, %d closed or timed out without an answer" % (
              total, len(seeds), total, took, sorted(statuses.items()), silent[0]))
    check(d.p.poll() is None, "triaged died: " + d.output())
    check(get(d.admin, "/healthz")[0] == 200, "admin not answering after the fuzzing")
    check(get(d.port, "/ok")[0] == 200, "not serving after the fuzzing")
    check(not bad, "answers without a valid status line: %s" % bad[:3])


def scenario_config(env, args):
    total = {"short": 300, "default": 600, "long": 3000}[args.form]
    rnd = random.Random(args.seed)
    seeds = []
    for path in [os.path.join(ROOT, "config", "triaged.example.toml"),
                 os.path.join(ROOT, "config", "triaged.toml")]:
        with open(path, "rb") as f:
            seeds.append(f.read())
    corpus = os.path.join(ROOT, "tests", "fuzz", "corpus", "config_fuzz")
    for name in sorted(os.listdir(corpus)):
        with open(os.path.join(corpus, name), "rb") as f:
            seeds.append(f.read())
    values = [b'""', b"-1", b"1e99", b'"x"', b"[]", b"{}", b"true", b'"999999999h"',
              b'"127.0.0.1:99999"', b'"[::1"', b"0", b'"\\u0000"', b"'''\n'''", b'"1.5.5s"']
    results = {0: 0, 1: 0}
    problems_seen = 0
    path = os.path.join(env.workdir, "mutated.toml")
    for i in range(total):
        lines = rnd.choice(seeds).split(b"\n")
        for _ in range(rnd.randint(1, 3)):
            if not lines:
                lines = [b""]
            op = rnd.randrange(5)
            at = rnd.randrange(len(lines))
            if op == 0:
                del lines[at]
            elif op == 1:
                lines.insert(at, lines[rnd.randrange(len(lines))])
            elif op == 2 and b"=" in lines[at]:
                key = lines[at].split(b"=", 1)[0]
                lines[at] = key + b"= " + rnd.choice(values)
            elif op == 3 and lines[at]:
                b = bytearray(lines[at])
                b[rnd.randrange(len(b))] = rnd.randrange(256)
                lines[at] = bytes(b)
            else:
                lines.insert(at, rnd.choice([b"[server]", b"[[upstream]]", b"[[route]]", b"[log]",
                                             b"[hints.connect_refused]", b"x = 1"]))
        with open(path, "wb") as f:
            f.write(b"\n".join(lines))
        try:
            r = subprocess.run([os.path.join(env.build, "triaged"), "--check-config", "--config",
                                path], capture_output=True, timeout=5)
        except subprocess.TimeoutExpired:
            raise Failed("--check-config hung on:\n" + b"\n".join(lines).decode("latin-1"))
        check(r.returncode in (0, 1), "--check-config exited %d (%s) on:\n%s" % (
            r.returncode, r.stderr[-300:], b"\n".join(lines).decode("latin-1")[:2000]))
        results[r.returncode] += 1
        if r.returncode == 1:
            out = r.stderr.decode("utf-8", "replace").splitlines()
            check(out, "rejected without a word")
            for line in out:
                m = PROBLEM_LINE.match(line)
                check(m and m.group(1) == path, "not FILE:LINE: KEY: reason: %r" % line)
                problems_seen += 1
    print("  %d mutated configuration files: %d valid, %d rejected with %d FILE:LINE: KEY: "
          "reason lines, no crash, no hang" % (total, results[0], results[1], problems_seen))


SCENARIOS = {
    "restart": scenario_restart,
    "sigterm": scenario_sigterm,
    "slowloris": scenario_slowloris,
    "descriptors": scenario_descriptors,
    "soak": scenario_soak,
    "fuzz": scenario_fuzz,
    "config": scenario_config,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    form = ap.add_mutually_exclusive_group()
    form.add_argument("--short", dest="form", action="store_const", const="short")
    form.add_argument("--long", dest="form", action="store_const", const="long")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("scenarios", nargs="*")
    args = ap.parse_args()
    args.form = args.form or "default"
    names = args.scenarios or list(SCENARIOS)
    failed = []
    for name in names:
        print("== %s (%s)" % (name, args.form), flush=True)
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="triaged-chaos-") as workdir:
            env = Env(args.build, workdir)
            try:
                SCENARIOS[name](env, args)
                print("  ok (%.1f s)" % (time.monotonic() - t0), flush=True)
            except Failed as e:
                print("  FAILED: %s" % e, flush=True)
                failed.append(name)
            finally:
                env.close()
    print("%d passed, %d failed" % (len(names) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
