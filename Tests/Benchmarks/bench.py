"""`make bench`: libclarifai against the official clients and raw libcurl, on local canned responders.

Starts nginx (REST, HTTP/1.1 keep-alive) and grpc_responder (gRPC h2c, libnghttp2) on loopback,
measures the responders' own CPU per call (their capacity), then runs every scenario for every
client in the same invocation, several rounds, alternating the order of the clients. Each client is
a separate process that measures itself (bench_common.h / bench_py.py). Writes
Tests/Benchmarks/RESULTS.md, Tests/Benchmarks/RESULTS.png and build/bench/results.json.
Callgrind instruction counts per call (scenario a) of the C client and of raw libcurl, and the
C client's profile, follow unless --no-profile.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "build", "bench")
DATA = os.path.join(BENCH, "data")
HERE = os.path.join(ROOT, "Tests", "Benchmarks")
sys.path.insert(0, os.path.join(ROOT, "Tests", "Server"))
from testserver import make_self_signed_cert  # noqa: E402
PY = os.path.join(ROOT, ".venv", "bin", "python")
REST, GRPC, GRPC_BATCH = "http://127.0.0.1:18431", "127.0.0.1:18432", "127.0.0.1:18433"
GRPCS, GRPCS_BATCH = "127.0.0.1:18434", "127.0.0.1:18435"
# slow_responder.c: REST answers after SLOW_ANSWER_US, as a server that runs a model takes time.
REST_SLOW, SLOW_ANSWER_US = "http://127.0.0.1:18439", 500
TLS_DIR = os.path.join(BENCH, "tls")

SCENARIOS = {  # name: (description, calls, warmup per thread, threads)
    "a": ("1 thread, sequential unary predict by URL", 2000, 20, 1),
    "b": ("8 threads, unary predict by URL", 800, 5, 8),
    "c": ("1 MB image by bytes", 200, 3, 1),
    "d": ("32-input batch (32 outputs x 20 concepts)", 200, 3, 1),
    "e": ("GenerateModelOutputs, 1,000 streamed messages (per stream)", 8, 1, 1),
}
PARSED_URL_FLOOR = "raw libcurl, URL parsed once"
# (label, channel, command prefix); the official client has one channel kind per process.
CLIENTS = [
    ("libclarifai C (struct API)", "rest", [os.path.join(BENCH, "bench_clarifai"), "--api", "struct"]),
    ("libclarifai C (struct API)", "grpc", [os.path.join(BENCH, "bench_clarifai"), "--api", "struct"]),
    ("libclarifai C (JSON API)", "rest", [os.path.join(BENCH, "bench_clarifai"), "--api", "json"]),
    ("libclarifai C (JSON API)", "grpc", [os.path.join(BENCH, "bench_clarifai"), "--api", "json"]),
    ("libclarifai Python binding", "rest", [PY, os.path.join(HERE, "bench_py.py"), "--client", "binding"]),
    ("libclarifai Python binding", "grpc", [PY, os.path.join(HERE, "bench_py.py"), "--client", "binding"]),
    ("official Python, gRPC (grpcio)", "grpc", [PY, os.path.join(HERE, "bench_py.py"), "--client", "official"]),
    ("official Python, JSON (requests)", "rest", [PY, os.path.join(HERE, "bench_py.py"), "--client", "official"]),
    ("raw libcurl (floor)", "rest", [os.path.join(BENCH, "bench_curl")]),
    ("raw libcurl (floor)", "grpc", [os.path.join(BENCH, "bench_curl")]),
    # gRPC over TLS, as api.clarifai.com is reached: connections kept (and multiplexed) by all.
    ("libclarifai C (struct API)", "grpcs", [os.path.join(BENCH, "bench_clarifai"), "--api", "struct"]),
    ("libclarifai Python binding", "grpcs", [PY, os.path.join(HERE, "bench_py.py"), "--client", "binding"]),
    ("official Python, gRPC (grpcio)", "grpcs", [PY, os.path.join(HERE, "bench_py.py"), "--client", "official"]),
    ("raw libcurl (floor)", "grpcs", [os.path.join(BENCH, "bench_curl")]),
    # REST against a server that takes 0.5 ms per answer (scenario (a) only).
    ("libclarifai C (struct API)", "rest-slow", [os.path.join(BENCH, "bench_clarifai"), "--api", "struct"]),
    ("libclarifai C (JSON API)", "rest-slow", [os.path.join(BENCH, "bench_clarifai"), "--api", "json"]),
    ("libclarifai Python binding", "rest-slow", [PY, os.path.join(HERE, "bench_py.py"), "--client", "binding"]),
    ("official Python, JSON (requests)", "rest-slow", [PY, os.path.join(HERE, "bench_py.py"), "--client", "official"]),
    ("raw libcurl (floor)", "rest-slow", [os.path.join(BENCH, "bench_curl")]),
    # The floor handing libcurl its URL parsed once (CURLOPT_CURLU), as libclarifai does (scenario (a)
    # only): libcurl's own work per call without parsing and writing back out the URL's text.
    (PARSED_URL_FLOOR, "rest-slow", [os.path.join(BENCH, "bench_curl"), "--api", "parsed-url"]),
    (PARSED_URL_FLOOR, "grpcs", [os.path.join(BENCH, "bench_curl"), "--api", "parsed-url"]),
]
BASELINE = ("official Python, gRPC (grpcio)", "grpc")


def target(channel, scenario):
    if channel == "rest":
        return REST
    if channel == "rest-slow":
        return REST_SLOW
    if channel == "grpcs":
        return GRPCS_BATCH if scenario == "d" else GRPCS
    return GRPC_BATCH if scenario == "d" else GRPC


def baseline(channel):
    """The official gRPC client on the same kind of connection: TLS rows against its TLS runs."""
    return (BASELINE[0], "grpcs" if channel == "grpcs" else BASELINE[1])


def applies(label, channel, scenario):
    if channel == "rest-slow" or label == PARSED_URL_FLOOR:
        return scenario == "a"
    if scenario == "e":  # streaming: gRPC only; the C client's stream path is one (clarifai_call_stream)
        return channel != "rest" and "JSON API" not in label
    return True


def run_client(cmd, channel, scenario, calls=None, threads=None, warmup=None):
    _, c, w, t = SCENARIOS[scenario]
    transport = "rest" if channel == "rest-slow" else channel
    args = cmd + ["--transport", transport, "--scenario", scenario, "--target", target(channel, scenario),
                  "--data", DATA, "--calls", str(calls or c), "--warmup", str(w if warmup is None else warmup),
                  "--threads", str(threads or t)]
    env = dict(os.environ, LIBCLARIFAI_PATH=os.path.join(ROOT, "build", "lib", "libclarifai.so.1"),
               CLARIFAI_ROOT_CERTIFICATES_PATH=os.path.join(TLS_DIR, "cert.pem"))
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def wait_port(port, what):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start on port {port}")


def start_responders():
    shutil.copy(os.path.join(HERE, "nginx.conf"), os.path.join(BENCH, "nginx.conf"))
    os.makedirs(os.path.join(BENCH, "tmp"), exist_ok=True)
    nginx = subprocess.Popen(["nginx", "-p", BENCH + "/", "-c", "nginx.conf"])
    os.makedirs(TLS_DIR, exist_ok=True)
    cert, key = make_self_signed_cert(TLS_DIR)
    grpc = subprocess.Popen([os.path.join(BENCH, "grpc_responder"), "--tls", str(cert), str(key),
                             f"18432:{DATA}/predict1.pb:{DATA}/stream.pb", f"18433:{DATA}/predict32.pb",
                             f"s18434:{DATA}/predict1.pb:{DATA}/stream.pb", f"s18435:{DATA}/predict32.pb"],
                            stderr=subprocess.DEVNULL)
    slow = subprocess.Popen([os.path.join(BENCH, "slow_responder"), REST_SLOW.rsplit(":", 1)[1], f"{DATA}/predict1.json",
                             str(SLOW_ANSWER_US)])
    wait_port(18431, "nginx")
    wait_port(18432, "grpc_responder")
    wait_port(18433, "grpc_responder")
    wait_port(18434, "grpc_responder")
    wait_port(18435, "grpc_responder")
    wait_port(int(REST_SLOW.rsplit(":", 1)[1]), "slow_responder")
    return nginx, grpc, slow


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def capacity(nginx, grpc):
    """Responder CPU per call while the floor client drives it with 8 connections."""
    rows = []
    floor = [os.path.join(BENCH, "bench_curl")]
    for channel, scenario, calls, pid in [("rest", "a", 8000, nginx.pid), ("grpc", "a", 4000, grpc.pid),
                                          ("rest", "d", 1600, nginx.pid), ("grpc", "d", 1600, grpc.pid),
                                          ("grpc", "e", 160, grpc.pid)]:
        c0 = proc_cpu(pid)
        r = run_client(floor, channel, scenario, calls=calls, threads=8, warmup=2)
        server = (proc_cpu(pid) - c0) / r["calls"]
        rows.append({"channel": channel, "scenario": scenario, "server_cpu_us": server * 1e6,
                     "server_capacity": 1 / server if server > 0 else float("inf"),
                     "client_calls_s": r["calls"] / r["wall_s"]})
    return rows


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def aggregate(runs):
    calls = sum(r["calls"] for r in runs)
    lat = [x for r in runs for x in r["lat_us"]]
    return {"calls": calls, "cpu_us": sum(r["cpu_s"] for r in runs) / calls * 1e6,
            "cpu_us_rounds": [r["cpu_s"] / r["calls"] * 1e6 for r in runs],
            "p50_ms": pct(lat, 0.5) / 1e3, "p99_ms": pct(lat, 0.99) / 1e3,
            "calls_s": calls / sum(r["wall_s"] for r in runs), "rss_mb": max(r["maxrss_kb"] for r in runs) / 1024}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa
        return f"? ({e})"


def machine():
    model = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
    return {
        "CPU": model.group(1) if model else platform.processor(),
        "cores (online)": str(os.cpu_count()),
        "kernel": platform.release(),
        "OS": sh(". /etc/os-release; echo $PRETTY_NAME"),
        "libclarifai": sh(f"cd {ROOT} && git rev-parse --short HEAD") + " (library built "
                      + time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(os.path.join(ROOT, "build/lib/libclarifai.so.1")))) + ")",
        "libcurl": sh("curl-config --version"),
        "nghttp2": sh("dpkg-query -W -f='${Version}' libnghttp2-14"),
        "nginx": sh("nginx -v 2>&1").replace("nginx version: ", ""),
        "Python": platform.python_version(),
        "Python packages": sh(f"{PY} -m pip list 2>/dev/null | grep -iE '^(clarifai-grpc|grpcio|protobuf|requests) '").replace("\n", ", "),
        "gcc": sh("gcc -dumpfullversion"),
    }


PROFILED_OURS, PROFILED_FLOOR = "libclarifai C (struct API)", "raw libcurl (floor)"
PROFILED = {PROFILED_OURS: "bench_clarifai", PROFILED_FLOOR: "bench_curl"}


def profile(binary, channel, scenario="a", api=None):
    """callgrind on a C client, every thread of the process counted (the caller's, libcurl's and
    libclarifai's own): two runs of different lengths, whose difference is the cost of the extra
    calls alone (no start-up, no warm-up). Per function: self cost (exclusive) of the extra calls.
    Swift's hashing is seeded the same in both runs: with a random seed, the schema's dictionaries
    cost both start-ups different amounts, thousands of instructions per call of the difference."""
    runs = []
    transport = "rest" if channel == "rest-slow" else channel
    for calls in (100, 300):
        out = os.path.join(BENCH, f"callgrind.{binary}.{api or 'default'}.{channel}.{scenario}.{calls}.out")
        p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", os.path.join(BENCH, binary),
                            "--transport", transport, "--scenario", scenario, "--target", target(channel, scenario),
                            "--data", DATA, "--calls", str(calls), "--warmup", "20"] + (["--api", api] if api else []),
                           capture_output=True, text=True, timeout=900,
                           env=dict(os.environ, CLARIFAI_ROOT_CERTIFICATES_PATH=os.path.join(TLS_DIR, "cert.pem"),
                                    SWIFT_DETERMINISTIC_HASHING="1"))
        if p.returncode != 0:
            raise RuntimeError(f"callgrind failed: {p.stderr[-1500:]}")
        functions, total = {}, None
        annotated = subprocess.run(["callgrind_annotate", "--inclusive=no", "--auto=no", "--threshold=100", out], capture_output=True, text=True).stdout
        for line in annotated.splitlines():
            m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)", line)
            if "PROGRAM TOTALS" in line:
                total = int(line.split()[0].replace(",", ""))
            elif m and total is not None:
                name = demangle(m.group(2))
                functions[name] = functions.get(name, 0) + int(m.group(1).replace(",", ""))
        runs.append((calls, total, functions))
    (calls1, total1, functions1), (calls2, total2, functions2) = runs
    extra = calls2 - calls1
    rows = sorted(((count - functions1.get(name, 0), name) for name, count in functions2.items()), reverse=True)[:15]
    return {"calls": extra, "total": total2 - total1, "rows": rows}


def demangle(name):
    lib = re.search(r"\[([^\]]+)\]\s*$", name)
    lib = os.path.basename(lib.group(1)) if lib else ""
    fn = re.sub(r"\s*\[[^\]]+\]\s*$", "", name)
    fn = fn.split(":", 1)[1] if ":" in fn and not fn.startswith("$") else fn
    if fn.startswith("$s") and shutil.which("swift-demangle"):
        fn = sh(f"swift-demangle --simplified '{fn.split(chr(39))[0]}'").split(" ---> ")[-1] or fn
    fn = fn.replace("|", "\\|")
    if len(fn) > 110:
        fn = fn[:107] + "..."
    return f"`{fn}` ({lib})" if lib else f"`{fn}`"


def ratio(a, b):
    x = a / b
    return f"{x:.2f}x" if x >= 0.1 else f"{x:.2g}x"


SCALING_THREADS = (1, 2, 4, 8)
ONE_CONNECTION = "libclarifai, 1 connection"  # clarifai_channel_set_connections(channel, 1), TLS gRPC: as 1.0


def scaling(rounds):
    """Scenario (a) on one client with 1, 2, 4 and 8 threads: calls/s and CPU per call, for
    libclarifai (connections opened as needed) and the floor, on REST and TLS gRPC (and libclarifai
    over one connection, as 1.0 had it)."""
    rows = {}
    for _ in range(rounds):
        for transport in ("rest", "grpcs"):
            for threads in SCALING_THREADS:
                clients = [(label, [os.path.join(BENCH, binary)]) for label, binary in PROFILED.items()]
                if transport == "grpcs":
                    clients.append((ONE_CONNECTION, [os.path.join(BENCH, PROFILED[PROFILED_OURS]), "--connections", "1"]))
                for label, command in clients:
                    r = run_client(command, transport, "a", calls=400 * threads, threads=threads, warmup=5)
                    rows.setdefault((transport, threads, label), []).append(r)
    return {key: aggregate(runs) for key, runs in rows.items()}


def allocations(binary, transport):
    """Heap blocks allocated per call (valgrind's heap summary), every thread counted: the
    difference between a run of 300 calls and one of 100."""
    counts = []
    for calls in (100, 300):
        p = subprocess.run(["valgrind", "--tool=memcheck", "--leak-check=no", os.path.join(BENCH, binary), "--transport", transport,
                            "--scenario", "a", "--target", target(transport, "a"), "--data", DATA, "--calls", str(calls),
                            "--warmup", "20"], capture_output=True, text=True, timeout=900,
                           env=dict(os.environ, CLARIFAI_ROOT_CERTIFICATES_PATH=os.path.join(TLS_DIR, "cert.pem")))
        m = re.search(r"total heap usage: ([\d,]+) allocs, [\d,]+ frees, ([\d,]+) bytes allocated", p.stderr)
        if p.returncode != 0 or not m:
            raise RuntimeError(f"valgrind failed: {p.stderr[-1500:]}")
        counts.append((calls, int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))))
    (calls1, allocs1, bytes1), (calls2, allocs2, bytes2) = counts
    return {"allocs": (allocs2 - allocs1) / (calls2 - calls1), "bytes": (bytes2 - bytes1) / (calls2 - calls1)}


MEMORY_CALLS = 20_000


def memory(binary, transport):
    """Resident set size after the warm-up and after MEMORY_CALLS calls of scenario (a) on one
    thread: flat when nothing accumulates per call."""
    r = run_client([os.path.join(BENCH, binary)], transport, "a", calls=MEMORY_CALLS, threads=1, warmup=100)
    return {"start_kb": r["rss_after_warmup_kb"], "end_kb": r["rss_end_kb"]}


def write_results(results, cap, prof, info, rounds, seconds, scaled=None, allocated=None, resident=None):
    lines = ["# Client benchmarks: libclarifai vs the official clients and raw libcurl", "",
             "Written by `make bench` (Tests/Benchmarks/bench.py); numbers measured in one run on the machine below.",
             "Do not edit by hand: rerun `make bench`.", "", "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += ["", "## Method", "",
              "- Responders on loopback, canned answers generated once with the official Python classes "
              "(make_responses.py): REST by nginx (`return 200`, HTTP/1.1 keep-alive), gRPC (h2c, and TLS for the "
              "grpcs rows) by grpc_responder.c (libnghttp2, OpenSSL; answer framed + trailers `grpc-status: 0`).",
              f"- {rounds} rounds; in each, every scenario runs every client as its own process, the order of the "
              "clients rotating and reversing from round to round. Per process: warm-up calls first (not "
              "measured), then N calls; CPU = user+sys of the whole client process (getrusage, all its "
              "threads) over the measured calls / N; latency p50/p99 over all measured calls of all rounds; "
              "calls/s = calls / wall time; peak RSS = ru_maxrss (largest over rounds).",
              "- Every call's answer is checked (status, 20 concepts per output, 32 outputs, 1,000 stream "
              "messages); the C and Python clients read every concept's name and value.",
              "- \"vs official gRPC\": client CPU per call / that of the official Python client on gRPC in the "
              "same scenario (< 1 is cheaper); for the grpcs rows, on gRPC over TLS. \"vs floor\": / raw libcurl "
              "on the same channel.",
              "- grpcs: the gRPC responder over TLS (OpenSSL, ALPN h2, a self-signed certificate made for the run), "
              "as api.clarifai.com is reached; every client keeps its connections there, libclarifai's calls run on "
              "the channel's multi handles (one per connection). The responder lifts nghttp2's rapid-reset guard: libcurl 7.88 resets "
              "every finished stream, and with the guard the floor's connection would be closed after ~1,000 calls "
              "(libclarifai moves to a new connection every 500 calls).",
              f"- rest-slow: REST against slow_responder.c, which answers each request (HTTP/1.1 keep-alive) "
              f"after sleeping {SLOW_ANSWER_US} µs, as a server running a model takes time: the client's cost "
              "per call beside a server that is not instantaneous (nginx's `return 200` answers in ~10 µs).",
              f"- libcurl here is {info['libcurl']}: before 8.0 it breaks an h2c (cleartext HTTP/2) connection that "
              "a request with prior knowledge reuses (curl #10634), so libclarifai's gRPC channel (and the floor, "
              "to do the same exchange) asks for prior knowledge only on the request that opens a connection and "
              "plain HTTP/2 on the next ones, which reuse it; every client keeps its connections.",
              f"- Total run time: {seconds:.0f} s.", ""]
    lines += ["## Responder capacity", "",
              "The floor client (raw libcurl, 8 threads/connections) drives each responder; the responder's own "
              "CPU time (/proc/PID/stat) per call gives the calls/s one core of it can serve. The client and the "
              "responder share the machine's cores, so the achieved rate is bounded by both.", "",
              "| channel | scenario | responder CPU/call (µs) | responder capacity (calls/s per core) | floor reached (calls/s, 8 conns) | best client in the table (calls/s) |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in cap:
        best = max((v["calls_s"] for (s, lab, ch), v in results.items() if s == r["scenario"] and ch == r["channel"]), default=0)
        lines.append(f"| {r['channel']} | {r['scenario']} | {r['server_cpu_us']:.1f} | {r['server_capacity']:,.0f} | "
                     f"{r['client_calls_s']:,.0f} | {best:,.0f} |")
    lines += [""]
    for s, (desc, calls, warm, threads) in SCENARIOS.items():
        unit = "stream" if s == "e" else "call"
        lines += [f"## ({s}) {desc}", "",
                  f"{calls} calls x {rounds} rounds per client, {threads} thread(s), {warm} warm-up call(s) per thread.", "",
                  f"| client | channel | CPU/{unit} (µs) | vs official gRPC | vs floor | p50 (ms) | p99 (ms) | {unit}s/s | peak RSS (MB) |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for label, channel, _ in CLIENTS:
            v = results.get((s, label, channel))
            if not v:
                continue
            floor = results.get((s, "raw libcurl (floor)", channel))
            base = results.get((s,) + baseline(channel))
            vs = ratio(v['cpu_us'], base['cpu_us']) if base else "n/a"
            vf = ratio(v['cpu_us'], floor['cpu_us']) if floor else "n/a"
            lines.append(f"| {label} | {channel} | {v['cpu_us']:,.0f} | {vs} | {vf} | {v['p50_ms']:.3f} | {v['p99_ms']:.3f} | "
                         f"{v['calls_s']:,.0f} | {v['rss_mb']:.1f} |")
        if s == "e":
            lines += ["", "CPU per message = CPU per stream / 1,000."]
        lines += [""]
    if prof:
        lines += ["## Instructions per call, scenario (a)", "",
                  "`valgrind --tool=callgrind` on the C clients: instructions of every thread of the process per call "
                  "(the difference between a run of 300 calls and one of 100, so neither start-up nor warm-up counts), "
                  "the same exchange for all. Unlike CPU times they do not move with the machine's load. "
                  "libclarifai hands libcurl each URL parsed once (CURLOPT_CURLU); the floor, as most libcurl programs, "
                  "gives it as text (CURLOPT_URL), which libcurl parses and writes back out for every transfer. The last "
                  "columns compare with the floor doing as libclarifai does: what is left is libclarifai's own work.", "",
                  f"| channel | libclarifai C (struct API) | raw libcurl (floor) | vs floor | {PARSED_URL_FLOOR} | vs that |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for transport in dict.fromkeys(t for _, t in prof):
            ours, floor, parsed = (prof.get((label, transport)) for label in (PROFILED_OURS, PROFILED_FLOOR, PARSED_URL_FLOOR))
            if ours and floor and parsed:
                a, b, c = (p["total"] / p["calls"] for p in (ours, floor, parsed))
                lines.append(f"| {transport} | {a:,.0f} | {b:,.0f} | {a / b:.2f}x | {c:,.0f} | {a / c:.2f}x |")
        lines += ["", "### Where libclarifai's instructions go", "",
                  "Self cost (exclusive) per function; `???:0x...` are stripped system libraries' internal functions, "
                  "named by their library.", ""]
        for (label, transport), p in prof.items():
            if label != PROFILED_OURS or transport == "rest-slow":
                continue
            lines += [f"#### {transport}: {p['total'] / p['calls']:,.0f} instructions per call", "",
                      "| instructions/call | share | function |", "| ---: | ---: | --- |"]
            for ir, fn in p["rows"]:
                lines.append(f"| {ir / p['calls']:,.0f} | {ir / p['total'] * 100:.1f}% | {fn} |")
            lines += [""]
    if scaled:
        lines += ["## Thread scaling, scenario (a)", "",
                  "One client process, N threads calling at once (400 calls per thread, 5 warm-up calls each), "
                  f"{rounds} rounds; calls/s of the whole process and CPU per call. On TLS gRPC libclarifai opens connections "
                  "as its threads need them (a connection is driven by one thread at a time; a call that finds every one "
                  "busy opens another, up to 8), and runs also with `clarifai_channel_set_connections(channel, 1)`: every "
                  "call on one connection, as 1.0 had it; the floor opens a connection per thread.", "",
                  "| channel | threads | libclarifai calls/s | libclarifai CPU/call (µs) | 1 connection: calls/s | CPU/call (µs) "
                  "| floor calls/s | floor CPU/call (µs) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for transport in ("rest", "grpcs"):
            for threads in SCALING_THREADS:
                ours, floor = scaled[(transport, threads, PROFILED_OURS)], scaled[(transport, threads, PROFILED_FLOOR)]
                one = scaled.get((transport, threads, ONE_CONNECTION))
                one_cells = f"{one['calls_s']:,.0f} | {one['cpu_us']:,.0f}" if one else "– | –"
                lines.append(f"| {transport} | {threads} | {ours['calls_s']:,.0f} | {ours['cpu_us']:,.0f} | {one_cells} | "
                             f"{floor['calls_s']:,.0f} | {floor['cpu_us']:,.0f} |")
        lines += [""]
    if allocated:
        lines += ["## Heap allocations per call, scenario (a)", "",
                  "valgrind's heap summary (every thread), the difference between a run of 300 calls and one of 100.", "",
                  "| channel | libclarifai allocations/call | bytes/call | floor allocations/call | bytes/call |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for transport in dict.fromkeys(t for _, t in allocated):
            ours, floor = allocated[(PROFILED_OURS, transport)], allocated[(PROFILED_FLOOR, transport)]
            lines.append(f"| {transport} | {ours['allocs']:,.0f} | {ours['bytes']:,.0f} | {floor['allocs']:,.0f} | {floor['bytes']:,.0f} |")
        lines += [""]
    if resident:
        lines += [f"## Resident memory over {MEMORY_CALLS:,} calls, scenario (a)", "",
                  f"RSS of the client process after 100 warm-up calls and after {MEMORY_CALLS:,} more (one thread, /proc/self/statm).", "",
                  "| channel | libclarifai after warm-up (kB) | after the calls (kB) | growth (kB) | floor after warm-up (kB) | after (kB) | growth (kB) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for transport in dict.fromkeys(t for _, t in resident):
            ours, floor = resident[(PROFILED_OURS, transport)], resident[(PROFILED_FLOOR, transport)]
            lines.append(f"| {transport} | {ours['start_kb']:,} | {ours['end_kb']:,} | {ours['end_kb'] - ours['start_kb']:+,} | "
                         f"{floor['start_kb']:,} | {floor['end_kb']:,} | {floor['end_kb'] - floor['start_kb']:+,} |")
        lines += [""]
    lines += ["![client CPU per call](RESULTS.png)", ""]
    path = os.path.join(HERE, "RESULTS.md")
    kept = ""  # the section `make bench-bulk` (bulk_bench.py) writes stays
    if os.path.exists(path):
        old = open(path).read()
        start = old.find("\n## Bulk prediction")
        if start >= 0:
            end = old.find("\n## ", start + 1)
            kept = "\n" + old[start + 1:end + 1 if end >= 0 else len(old)].rstrip("\n") + "\n"
    with open(path, "w") as f:
        f.write("\n".join(lines) + kept)


def chart(results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(SCENARIOS), figsize=(22, 7))
    colors = {"libclarifai C (struct API)": "#1f77b4", "libclarifai C (JSON API)": "#6baed6",
              "libclarifai Python binding": "#9467bd", "official Python, gRPC (grpcio)": "#d62728",
              "official Python, JSON (requests)": "#ff9896", "raw libcurl (floor)": "#2ca02c", PARSED_URL_FLOOR: "#98df8a"}
    for ax, (s, (desc, *_)) in zip(axes, SCENARIOS.items()):
        names, vals, cols = [], [], []
        for label, channel, _ in CLIENTS:
            v = results.get((s, label, channel))
            if v:
                names.append(f"{label} [{channel}]")
                vals.append(v["cpu_us"])
                cols.append(colors[label])
        ax.bar(range(len(vals)), vals, color=cols, hatch=None)
        ax.set_xticks(range(len(vals)))
        ax.set_xticklabels(names, rotation=75, ha="right", fontsize=7)
        ax.set_yscale("log")
        ax.set_title(f"({s}) {desc}", fontsize=8)
        ax.set_ylabel("client CPU per " + ("stream" if s == "e" else "call") + " (µs, log)")
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=6)
    fig.suptitle("Client CPU (user+sys) per call, lower is better")
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "RESULTS.png"), dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--scenarios", default="abcde")
    a = ap.parse_args()
    t0 = time.time()
    subprocess.run([PY, os.path.join(HERE, "make_responses.py"), DATA], check=True)
    nginx, grpc, slow = start_responders()
    try:
        cap = capacity(nginx, grpc)
        print("responder capacity:", json.dumps(cap), flush=True)
        runs = {}
        for rnd in range(a.rounds):
            for s in a.scenarios:
                order = [c for c in CLIENTS if applies(c[0], c[1], s)]
                k = rnd % len(order)
                order = order[k:] + order[:k]
                if rnd % 2:
                    order.reverse()
                for label, channel, cmd in order:
                    r = run_client(cmd, channel, s)
                    runs.setdefault((s, label, channel), []).append(r)
                    print(f"round {rnd + 1} ({s}) {label} [{channel}]: {r['cpu_s'] / r['calls'] * 1e6:,.0f} µs CPU/call, "
                          f"{r['calls'] / r['wall_s']:,.0f} calls/s", flush=True)
        results = {k: aggregate(v) for k, v in runs.items()}
        scaled = scaling(a.rounds)
        resident = {(label, transport): memory(binary, transport) for transport in ("rest", "grpcs") for label, binary in PROFILED.items()}
        prof, allocated = {}, {}
        if not a.no_profile:
            for transport in ("rest", "rest-slow", "grpc", "grpcs"):
                for label, binary in PROFILED.items():
                    prof[(label, transport)] = profile(binary, transport)
                    if transport != "rest-slow":
                        allocated[(label, transport)] = allocations(binary, transport)
                prof[(PARSED_URL_FLOOR, transport)] = profile(PROFILED[PROFILED_FLOOR], transport, api="parsed-url")
    finally:
        for p in (nginx, grpc, slow):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    seconds = time.time() - t0
    with open(os.path.join(BENCH, "results.json"), "w") as f:
        json.dump({"capacity": cap, "results": [dict(scenario=k[0], client=k[1], channel=k[2], **v) for k, v in results.items()],
                   "profile": [dict(client=k[0], channel=k[1], **v) for k, v in prof.items()]}, f, indent=1)
    write_results(results, cap, prof, machine(), a.rounds, seconds, scaled, allocated, resident)
    chart(results)
    print(f"wrote Tests/Benchmarks/RESULTS.md and RESULTS.png in {seconds:.0f} s")


if __name__ == "__main__":
    main()
