"""`make bench-bulk`: bulk prediction of 10,000 inputs by URL, libclarifai against the official clients.

Throughput: every client predicts the same 10,000 image URLs (input i is
https://samples.clarifai.com/bulk/<i>.jpg) in batches of 32 and of 128, 10 requests in flight, against
grpc_responder (canned PostModelOutputs answers, libnghttp2) over h2c and over TLS. The responder runs
with --per-input: each answer has exactly one output per input of its request (a copy of
build/bench/data/predict1.pb's output: 20 concepts), as a real server answers, so that predict_many
can hand each input its own output (it splits an answer by position) and the short last batch
(10,000 = 312 x 32 + 16 = 78 x 128 + 16) is answered right. Clients, each its own process:

  libclarifai C predict_many       clarifai_predict_many(client, model, NULL, B, 10, 0, ...)   (bulk_clarifai.c)
  libclarifai C async, one thread  clarifai_predict_async (B inputs per call) + clarifai_queue_next, 10 in flight
  libclarifai Python predict_many  Client.predict_many(model, urls, batch_size=B, concurrency=10)
  official, ThreadPoolExecutor(10) V2Stub(ClarifaiChannel.get_[insecure_]grpc_channel).PostModelOutputs per batch,
                                   every batch submitted at once, results taken with as_completed: the
                                   official SDK's uploader (Inputs._bulk_upload; it takes min(10, cpu_count())
                                   workers, 2 on this machine: here 10, the same concurrency as the others)
  official, grpc.aio (10 tasks)    V2Stub(ClarifaiChannel.get_aio_[insecure_]grpc_channel), 10 tasks taking
                                   batches from one shared iterator, awaiting PostModelOutputs

Each reads every input's 20 concepts (name and value) and counts its outcomes; a run must report
exactly 10,000 distinct inputs, all successful. One warm-up batch (other URLs) first, not measured.
The process measures itself around the 10,000 inputs: user+sys CPU of all its threads (getrusage),
wall time; peak RSS is its ru_maxrss. Rounds alternate the order of the clients.

Rate limit: the test server (Tests/Server/server.py, gRPC over TLS) with model rate-limited-15
(CONN_THROTTLED above 15 requests in any sliding second); its per-model counters
(/_test/predict-stats) give the requests it admitted, those it throttled, the inputs it predicted and
the repeats among them, so lost = 10,000 - distinct inputs predicted. libclarifai predict_many
(C and Python) runs with rate=15 (the limit known) and rate=0 (unknown: found from the throttling),
batches of 32, concurrency 10; the official ThreadPoolExecutor way runs once for contrast (no rate
control; a throttled batch is a failed batch).

Writes the "## Bulk prediction (10,000 inputs by URL)" section of Tests/Benchmarks/RESULTS.md (the
rest of the file is kept) and build/bench/bulk.json.

  bulk_bench.py [--rounds N] [--lib FILE] [--driver FILE] [--responder FILE] [--binding DIR] [--no-write]
  bulk_bench.py client --client py-many|official-pool|official-aio --transport grpc|grpcs --target T ...
"""
import argparse
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BENCH = os.path.join(ROOT, "build", "bench")
DATA = os.path.join(BENCH, "data")
TLS_DIR = os.path.join(BENCH, "tls")
PY = os.path.join(ROOT, ".venv", "bin", "python")
GRPC_PORT, GRPCS_PORT = 18436, 18437
TARGETS = {"grpc": f"127.0.0.1:{GRPC_PORT}", "grpcs": f"127.0.0.1:{GRPCS_PORT}"}
USER, APP, TOKEN = "bench-user", "bench-app", "bench-token"
MODEL = "general-image-recognition"
SECTION = "## Bulk prediction (10,000 inputs by URL)"
CONCEPTS = 20

sys.path.insert(0, HERE)
from bench import wait_port  # noqa: E402  (make bench's responders start the same way)


def url(prefix, i):
    return f"https://samples.clarifai.com/{prefix}/{i}.jpg"


# ------------------------------------------------------------------------------------------------
# Python clients (one per process)

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Tally:
    def __init__(self, n):
        self.n = n
        self.seen = bytearray(n)
        self.ok = self.failed = self.duplicates = self.bad_answers = self.requests = 0
        self.errors = {}
        self.first_error = ""

    def outcome(self, index, error=None):
        if not 0 <= index < self.n:
            self.bad_answers += 1
            return
        if self.seen[index]:
            self.duplicates += 1
        self.seen[index] = 1
        if error is None:
            self.ok += 1
        else:
            self.failed += 1
            self.errors[error] = self.errors.get(error, 0) + 1
            self.first_error = self.first_error or error

    def result(self, cpu_s, wall_s):
        return {"inputs": self.n, "ok": self.ok, "failed": self.failed, "missing": self.n - sum(self.seen),
                "duplicates": self.duplicates, "bad_answers": self.bad_answers, "requests": self.requests,
                "cpu_s": cpu_s, "wall_s": wall_s, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "errors": self.errors, "first_error": self.first_error[:500]}


def official_request(a, urls):
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2
    return service_pb2.PostModelOutputsRequest(
        user_app_id=resources_pb2.UserAppIDSet(user_id=USER, app_id=APP), model_id=a.model,
        inputs=[resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(url=u))) for u in urls])


def official_read(tally, start, count, response):
    """Every output of a batch's answer: success and 20 concepts (names and values read)."""
    from clarifai_grpc.grpc.api.status import status_code_pb2
    if response.status.code != status_code_pb2.SUCCESS or len(response.outputs) != count:
        error = f"status {response.status.code} {response.status.description}, {len(response.outputs)} outputs"
        for i in range(count):
            tally.outcome(start + i, error)
        return
    for i, output in enumerate(response.outputs):
        concepts = [(c.name, c.value) for c in output.data.concepts]
        tally.outcome(start + i, None if len(concepts) == CONCEPTS else "output without 20 concepts")


def client_official_pool(a, tally, metadata):
    from concurrent.futures import ThreadPoolExecutor, as_completed
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import service_pb2_grpc
    if a.transport == "grpcs":
        channel = ClarifaiChannel.get_grpc_channel(base=a.target,
                                                   root_certificates_path=os.environ["CLARIFAI_ROOT_CERTIFICATES_PATH"])
    else:
        host, port = a.target.rsplit(":", 1)
        channel = ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port))
    stub = service_pb2_grpc.V2Stub(channel)

    def upload(urls):
        return stub.PostModelOutputs(official_request(a, urls), metadata=metadata)

    def run(prefix, n, tally):
        urls = [url(prefix, i) for i in range(n)]
        with ThreadPoolExecutor(max_workers=a.concurrency) as executor:
            futures = {executor.submit(upload, urls[s:s + a.batch]): s for s in range(0, n, a.batch)}
            tally.requests += len(futures)
            for job in as_completed(futures):
                start = futures[job]
                count = min(a.batch, n - start)
                try:
                    response = job.result()
                except Exception as e:  # grpc.RpcError
                    for i in range(count):
                        tally.outcome(start + i, f"{type(e).__name__}: {getattr(e, 'code', lambda: '')()}")
                    continue
                official_read(tally, start, count, response)

    if a.warmup:
        run("warmup", a.batch, Tally(a.batch))
    c0, w0 = cpu(), time.perf_counter()
    run("bulk", a.inputs, tally)
    return cpu() - c0, time.perf_counter() - w0


def client_official_aio(a, tally, metadata):
    import asyncio
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import service_pb2_grpc

    async def main():
        if a.transport == "grpcs":
            channel = ClarifaiChannel.get_aio_grpc_channel(
                base=a.target, root_certificates_path=os.environ["CLARIFAI_ROOT_CERTIFICATES_PATH"])
        else:
            host, port = a.target.rsplit(":", 1)
            channel = ClarifaiChannel.get_aio_insecure_grpc_channel(base=host, port=int(port))
        stub = service_pb2_grpc.V2Stub(channel)

        async def run(prefix, n, tally):
            starts = iter(range(0, n, a.batch))

            async def worker():
                for start in starts:  # one iterator shared by the tasks
                    count = min(a.batch, n - start)
                    tally.requests += 1
                    try:
                        response = await stub.PostModelOutputs(
                            official_request(a, [url(prefix, start + i) for i in range(count)]), metadata=metadata)
                    except Exception as e:  # grpc.aio.AioRpcError
                        for i in range(count):
                            tally.outcome(start + i, f"{type(e).__name__}: {getattr(e, 'code', lambda: '')()}")
                        continue
                    official_read(tally, start, count, response)
            await asyncio.gather(*(worker() for _ in range(a.concurrency)))

        if a.warmup:
            await run("warmup", a.batch, Tally(a.batch))
        c0, w0 = cpu(), time.perf_counter()
        await run("bulk", a.inputs, tally)
        measured = cpu() - c0, time.perf_counter() - w0
        await channel.close()
        return measured
    return asyncio.run(main())


def client_py_many(a, tally, metadata):
    from libclarifai import Channel, Client, Prediction
    channel = (Channel.grpc if a.transport == "grpcs" else Channel.grpc_insecure)(a.target)
    client = Client(channel, pat=a.token, user_id=USER, app_id=APP)

    def run(prefix, n, tally):
        urls = (url(prefix, i) for i in range(n))
        for index, result in client.predict_many(a.model, urls, batch_size=a.batch, concurrency=a.concurrency,
                                                 rate=a.rate or None):
            if isinstance(result, Prediction):
                concepts = [(c.name, c.value) for c in result.concepts]
                tally.outcome(index, None if len(concepts) == CONCEPTS else "output without 20 concepts")
            else:
                tally.outcome(index, f"{type(result).__name__}: {result}")

    if a.warmup:
        run("warmup", a.batch, Tally(a.batch))
    tally.requests = -(-a.inputs // a.batch)
    c0, w0 = cpu(), time.perf_counter()
    run("bulk", a.inputs, tally)
    return cpu() - c0, time.perf_counter() - w0


def client_main(argv):
    p = argparse.ArgumentParser(prog="bulk_bench.py client")
    p.add_argument("--client", required=True, choices=["py-many", "official-pool", "official-aio"])
    p.add_argument("--transport", default="grpc", choices=["grpc", "grpcs"])
    p.add_argument("--target", required=True)
    p.add_argument("--model", default=MODEL)
    p.add_argument("--inputs", type=int, default=10000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--token", default=TOKEN)
    a = p.parse_args(argv)
    tally = Tally(a.inputs)
    metadata = (("authorization", "Key " + a.token),)
    run = {"py-many": client_py_many, "official-pool": client_official_pool, "official-aio": client_official_aio}[a.client]
    cpu_s, wall_s = run(a, tally, metadata)
    print(json.dumps(tally.result(cpu_s, wall_s)))
    sys.stdout.flush()
    os._exit(0)  # no slow interpreter/grpc teardown


# ------------------------------------------------------------------------------------------------
# Orchestration

CLIENTS = [  # (key, label, official?)
    ("c-many", "libclarifai C `clarifai_predict_many`", False),
    ("c-async", "libclarifai C async, one thread (`clarifai_predict_async` + `clarifai_queue_next`)", False),
    ("py-many", "libclarifai Python `Client.predict_many`", False),
    ("official-pool", "official: V2Stub in ThreadPoolExecutor(10) (the SDK's uploader)", True),
    ("official-aio", "official: grpc.aio (`get_aio_*grpc_channel`), 10 tasks", True),
]
LABELS = {k: label for k, label, _ in CLIENTS}


def command(o, key, transport, target, batch, model=MODEL, rate=0.0, warmup=1, inputs=None, token=TOKEN):
    inputs = inputs or o.inputs
    common = ["--transport", transport, "--target", target, "--model", model, "--inputs", str(inputs),
              "--batch", str(batch), "--concurrency", str(o.concurrency), "--rate", str(rate),
              "--warmup", str(warmup), "--token", token]
    if key in ("c-many", "c-async"):
        return [o.driver, "--mode", key[2:]] + common
    return [PY, os.path.abspath(__file__), "client", "--client", key] + common


def environment(o):
    env = dict(os.environ, LIBCLARIFAI_PATH=o.lib, CLARIFAI_ROOT_CERTIFICATES_PATH=os.path.join(TLS_DIR, "cert.pem"))
    if o.binding:
        env["PYTHONPATH"] = o.binding + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_client(o, args, timeout=300):
    p = subprocess.run(args, capture_output=True, text=True, env=environment(o), timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def responder_cpu(responder):
    """The responder's CPU time so far (s): SIGUSR1 makes it print its getrusage."""
    responder.send_signal(signal.SIGUSR1)
    line = responder.stdout.readline()
    if not line.startswith("cpu_us "):
        raise RuntimeError(f"grpc_responder answered {line!r} to SIGUSR1")
    return int(line.split()[1]) / 1e6


def complete(r, n):
    """A run counts only when every input came back once, successfully."""
    return r["ok"] == n and r["failed"] == 0 and r["missing"] == 0 and r["duplicates"] == 0 and r["bad_answers"] == 0


def throughput(o):
    cert, key = os.path.join(TLS_DIR, "cert.pem"), os.path.join(TLS_DIR, "key.pem")
    responder = subprocess.Popen([o.responder, "--tls", cert, key, "--per-input",
                                  f"{GRPC_PORT}:{DATA}/predict1.pb", f"s{GRPCS_PORT}:{DATA}/predict1.pb"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    runs = []
    try:
        wait_port(GRPC_PORT, "grpc_responder")
        wait_port(GRPCS_PORT, "grpc_responder")
        for rnd in range(o.rounds):
            for transport in o.channels:
                for batch in o.batches:
                    order = [k for k, _, _ in CLIENTS]
                    k = rnd % len(order)
                    order = order[k:] + order[:k]
                    if rnd % 2:
                        order.reverse()
                    for key in order:
                        o.load_max = max(o.load_max, os.getloadavg()[0])
                        c0 = responder_cpu(responder)
                        r = run_client(o, command(o, key, transport, TARGETS[transport], batch))
                        r["responder_cpu_s"] = responder_cpu(responder) - c0
                        r.update(client=key, channel=transport, batch=batch, round=rnd + 1, complete=complete(r, o.inputs))
                        runs.append(r)
                        print(f"round {rnd + 1} [{transport}] batch {batch} {key}: {r['inputs'] / r['wall_s']:,.0f} inputs/s, "
                              f"{r['cpu_s'] / r['inputs'] * 1e6:.1f} µs CPU/input, {r['maxrss_kb'] / 1024:.1f} MB, "
                              f"ok {r['ok']}" + ("" if r["complete"] else f" INCOMPLETE {r}"), flush=True)
    finally:
        responder.send_signal(signal.SIGTERM)
        try:
            responder.wait(5)
        except subprocess.TimeoutExpired:
            responder.kill()
    return runs


def aggregate(runs):
    table = {}
    for r in runs:
        table.setdefault((r["channel"], r["batch"], r["client"]), []).append(r)
    out = {}
    for key, rs in table.items():
        rates = [r["inputs"] / r["wall_s"] for r in rs]
        cpus = [r["cpu_s"] / r["inputs"] * 1e6 for r in rs]
        out[key] = {"inputs_s": statistics.median(rates), "inputs_s_min": min(rates), "inputs_s_max": max(rates),
                    "cpu_us": statistics.median(cpus), "cpu_us_min": min(cpus), "cpu_us_max": max(cpus),
                    "responder_cpu_us": statistics.median(r["responder_cpu_s"] / r["inputs"] * 1e6 for r in rs),
                    "rss_mb": max(r["maxrss_kb"] for r in rs) / 1024, "runs": len(rs),
                    "complete": all(r["complete"] for r in rs), "ok": [r["ok"] for r in rs]}
    return out


RATE_RUNS = [  # (client, rate given to the client)
    ("c-many", 15.0), ("c-many", 0.0), ("py-many", 15.0), ("py-many", 0.0), ("official-pool", 0.0)]


def rate_limited(o):
    sys.path.insert(0, os.path.join(ROOT, "Tests", "Server"))
    from testserver import start_server, predict_stats, clear_predict_stats
    model = f"rate-limited-{o.limit}"
    rows = []
    log = open(os.path.join(BENCH, "bulk-server.log"), "w")
    with start_server(token=TOKEN, tls=(os.path.join(TLS_DIR, "cert.pem"), os.path.join(TLS_DIR, "key.pem")),
                      stderr=log) as srv:
        for key, rate in RATE_RUNS:
            time.sleep(1.2)  # the model's one-second window empties
            clear_predict_stats(srv.rest_url)
            t0 = time.perf_counter()
            r = run_client(o, command(o, key, "grpcs", srv.grpcs_target, o.rate_batch, model=model, rate=rate, warmup=0),
                           timeout=600)
            elapsed = time.perf_counter() - t0
            s = predict_stats(srv.rest_url).get(model, {})
            distinct = s.get("inputs", 0) - s.get("duplicates", 0)
            row = dict(client=key, rate=rate, batch=o.rate_batch, limit=o.limit, elapsed_s=r["wall_s"], process_s=elapsed,
                       server=s, distinct=distinct, lost=o.inputs - distinct, client_result=r,
                       admitted_per_s=s.get("requests", 0) / r["wall_s"])
            rows.append(row)
            print(f"rate-limited-{o.limit} {key} rate={rate:g}: {r['wall_s']:.1f} s, server {s}, client ok {r['ok']} "
                  f"failed {r['failed']} missing {r['missing']} dup {r['duplicates']} {r['first_error'][:200]}", flush=True)
    log.close()
    return rows


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa
        return f"? ({e})"


def machine(o):
    model = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
    lib = os.path.realpath(o.lib)
    return {
        "CPU": (model.group(1) if model else platform.processor()) + f", {os.cpu_count()} cores",
        "OS": sh(". /etc/os-release; echo $PRETTY_NAME") + ", kernel " + platform.release(),
        "libclarifai": (os.path.relpath(lib, ROOT) if lib.startswith(ROOT + os.sep) else f"a copy of the build's library at {lib}")
                       + ", built "
                      + time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(lib))) + ", sha256 "
                      + sh(f"sha256sum {lib}")[:12] + "; repository HEAD " + sh(f"cd {ROOT} && git rev-parse --short HEAD"),
        "libcurl": sh("curl-config --version"),
        "Python": platform.python_version() + ", " + re.sub(r"\s+", " ", sh(
            f"{PY} -m pip list 2>/dev/null | grep -iE '^(clarifai-grpc|grpcio|protobuf) '").replace("\n", ", ")),
        "load average (1 min)": f"{o.load_start:.2f} at the start, {o.load_max:.2f} at most between the throughput runs"
                                + (" (other work was running: throughput figures are noisy)" if max(o.load_start, o.load_max) > 1.5 else ""),
    }


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def section(o, agg, rate_rows, info, seconds):
    L = [SECTION, "",
         "Written by `make bench-bulk` (Tests/Benchmarks/bulk_bench.py, bulk_clarifai.c); numbers from one run "
         "on the machine below. Do not edit by hand: rerun `make bench-bulk`.", ""]
    L += [f"- {k}: {v}" for k, v in info.items()]
    L += ["", "### Method", "",
          f"- {o.inputs:,} image URLs (distinct), batches of {' and '.join(map(str, o.batches))} inputs, "
          f"**{o.concurrency} requests in flight** for every client (the thread pool's 10 workers, 10 asyncio "
          f"tasks, concurrency={o.concurrency}).",
          "- Throughput against grpc_responder (libnghttp2; h2c and TLS with a self-signed certificate), "
          "started with `--per-input`: every answer has one output (20 concepts) per input of its request, "
          "so predict_many can split it by position and the short last batch is answered right.",
          "- Clients: libclarifai C `clarifai_predict_many(client, model, NULL, B, 10, 0, ...)`; libclarifai C "
          "async from one thread (`clarifai_predict_async` with B inputs per call, 10 in flight, "
          "`clarifai_queue_next` waiting); libclarifai Python `Client.predict_many(model, urls, batch_size=B, "
          "concurrency=10)`; the official SDK's way: the raw `V2Stub` (`ClarifaiChannel.get_[insecure_]grpc_channel`) "
          "in a `ThreadPoolExecutor(10)`, every batch submitted at once and taken with `as_completed`, as the "
          "SDK's `Inputs._bulk_upload` does (it takes `min(10, cpu_count())` workers: 2 here; 10 used, as for the "
          "others); the official grpc.aio client (`ClarifaiChannel.get_aio_[insecure_]grpc_channel`, which "
          "clarifai-grpc has) with `V2Stub` and 10 tasks sharing one iterator of batches.",
          "- Every client reads every input's 20 concepts (name and value) and counts each input's outcome; "
          "a run is complete when all inputs came back once and successful (all were, unless the table says "
          "otherwise). One warm-up batch (other URLs) first, not measured.",
          f"- {o.rounds} rounds, the clients' order rotating and reversing; each client a process of its own. "
          "inputs/s = inputs / wall time; CPU/input = user+sys of the whole client process (getrusage, all its "
          "threads) over the measured inputs; both the median of the rounds (min-max in brackets); peak RSS = "
          "ru_maxrss (largest over rounds). Responder CPU/input (its getrusage over the client's whole "
          "process, warm-up batch included) shows what the server side took of the machine's 2 cores.",
          f"- libcurl here is {info['libcurl']}: before 8.0 it breaks an h2c connection that a request with prior "
          "knowledge reuses (curl #10634); libclarifai's h2c channel asks for prior knowledge only on the "
          "request that opens a connection, and every client keeps its connections.",
          f"- Total run time: {seconds:.0f} s.", ""]
    official = [k for k, _, off in CLIENTS if off]
    ours = [k for k, _, off in CLIENTS if not off]

    def best_official(transport, batch):
        return max(official, key=lambda k: agg[(transport, batch, k)]["inputs_s"])

    L += ["### Goal: ≥ 2x the best official way's inputs/s at ≤ 0.5x its CPU per input", "",
          "Each cell: inputs/s and CPU/input as multiples of the best official way's (by inputs/s) on the same "
          "channel and batch size.", "",
          "| channel, batch | best official way: inputs/s, CPU/input (µs) | "
          + " | ".join(LABELS[k].split(" (")[0] for k in ours) + " |",
          "| --- | --- | " + " | ".join("---" for _ in ours) + " |"]
    for transport in o.channels:
        for batch in o.batches:
            b = agg[(transport, batch, best_official(transport, batch))]
            cells = []
            for k in ours:
                v = agg[(transport, batch, k)]
                speed, cost = v["inputs_s"] / b["inputs_s"], v["cpu_us"] / b["cpu_us"]
                cells.append(f"{speed:.2f}x, {cost:.2f}x: " + ("**met**" if speed >= 2 and cost <= 0.5 else "not met"))
            L.append(f"| {transport}, {batch} | {b['inputs_s']:,.0f}, {b['cpu_us']:.1f} | " + " | ".join(cells) + " |")
    L.append("")
    for transport in o.channels:
        for batch in o.batches:
            best_key = best_official(transport, batch)
            best = agg[(transport, batch, best_key)]
            L += [f"### {'gRPC over TLS' if transport == 'grpcs' else 'gRPC h2c'}, batches of {batch}", "",
                  f"Best official way by inputs/s: {LABELS[best_key].split(' (')[0]}.", "",
                  "| client | inputs/s | client CPU/input (µs) | peak RSS (MB) | inputs/s vs best official | CPU/input vs best official | goal (≥ 2x inputs/s, ≤ 0.5x CPU) | responder CPU/input (µs) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
            for key, label, off in CLIENTS:
                v = agg[(transport, batch, key)]
                speed, cost = v["inputs_s"] / best["inputs_s"], v["cpu_us"] / best["cpu_us"]
                goal = "" if off else ("met" if speed >= 2 and cost <= 0.5 else "not met")
                note = "" if v["complete"] else f" (INCOMPLETE: ok {v['ok']})"
                L.append(f"| {label}{note} | {v['inputs_s']:,.0f} ({v['inputs_s_min']:,.0f}-{v['inputs_s_max']:,.0f}) | "
                         f"{v['cpu_us']:.1f} ({v['cpu_us_min']:.1f}-{v['cpu_us_max']:.1f}) | {v['rss_mb']:.1f} | {speed:.2f}x | {cost:.2f}x | {goal} | {v['responder_cpu_us']:.1f} |")
            L.append("")
    if rate_rows:
        L += [f"### Server limit of {o.limit} requests/s (test server, gRPC over TLS, batches of {o.rate_batch})", "",
              f"The test server's model `rate-limited-{o.limit}` admits at most {o.limit} requests in any sliding second "
              "and refuses the others with CONN_THROTTLED (11005). Its counters (`/_test/predict-stats`, cleared "
              "before each run) give the requests admitted and throttled, the inputs predicted and the repeats "
              f"among them: lost = {o.inputs:,} - (inputs - repeats). No warm-up. concurrency {o.concurrency}. The "
              "official way has no rate control: a throttled batch is a failed batch (shown for contrast).", "",
              "| client | rate given | elapsed (s) | admitted requests/s | requests admitted | throttled | inputs predicted | repeats | lost | inputs reported ok / failed | max in flight | client CPU/input (µs) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
        for row in rate_rows:
            s, r = row["server"], row["client_result"]
            rate = f"{row['rate']:g}" if row["rate"] else ("0 (no limit: adapts)" if row["client"] != "official-pool" else "none")
            L.append(f"| {LABELS[row['client']].split(' (')[0]} | {rate} | {row['elapsed_s']:.1f} | {row['admitted_per_s']:.1f} | "
                     f"{s.get('requests', 0)} | {s.get('throttled', 0)} | {s.get('inputs', 0):,} | {s.get('duplicates', 0)} | "
                     f"{row['lost']:,} | {r['ok']:,} / {r['failed']:,} | {s.get('max_in_flight', 0)} | "
                     f"{r['cpu_s'] / r['inputs'] * 1e6:.0f} |")
        L.append("")
    return L


def write_section(lines):
    path = os.path.join(HERE, "RESULTS.md")
    text = open(path).read() if os.path.exists(path) else ""
    body = "\n".join(lines).rstrip("\n") + "\n"
    start = text.find("\n" + SECTION + "\n")
    if start < 0 and text.startswith(SECTION + "\n"):
        start = -1
        before, rest = "", text
    elif start < 0:
        before, rest = text, ""
    else:
        before, rest = text[:start + 1], text[start + 1:]
    if rest:  # the section runs to the next second-level heading
        m = re.search(r"^## (?!#)", rest[len(SECTION):], re.M)
        after = rest[len(SECTION) + m.start():] if m else ""
    else:
        after = ""
    before = before.rstrip("\n") + "\n\n" if before.strip() else ""
    with open(path, "w") as f:
        f.write(before + body + ("\n" + after if after else ""))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        return client_main(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--inputs", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--channels", default="grpc,grpcs")
    ap.add_argument("--limit", type=int, default=15, help="requests/s of the test server's rate-limited model")
    ap.add_argument("--rate-batch", type=int, default=32)
    ap.add_argument("--no-rate", action="store_true", help="skip the rate-limited runs")
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "lib", "libclarifai.so.1"))
    ap.add_argument("--driver", default=os.path.join(BENCH, "bulk_clarifai"))
    ap.add_argument("--responder", default=os.path.join(BENCH, "grpc_responder"))
    ap.add_argument("--binding", default="", help="directory to put first on PYTHONPATH (a copy of the binding)")
    ap.add_argument("--no-write", action="store_true", help="print, write neither RESULTS.md nor bulk.json")
    o = ap.parse_args()
    o.batches = [int(b) for b in o.batches.split(",")]
    o.channels = o.channels.split(",")
    o.lib = os.path.abspath(o.lib)
    t0 = time.time()
    o.load_start, o.load_max = os.getloadavg()[0], 0.0
    if o.load_start > 1.0:
        print(f"warning: load average {o.load_start:.2f}: the machine is not quiet, throughput will be noisy", flush=True)
    os.makedirs(BENCH, exist_ok=True)
    subprocess.run([PY, os.path.join(HERE, "make_responses.py"), DATA], check=True)
    sys.path.insert(0, os.path.join(ROOT, "Tests", "Server"))
    from testserver import make_self_signed_cert
    os.makedirs(TLS_DIR, exist_ok=True)
    make_self_signed_cert(TLS_DIR)
    runs = throughput(o)
    agg = aggregate(runs)
    rate_rows = [] if o.no_rate else rate_limited(o)
    seconds = time.time() - t0
    lines = section(o, agg, rate_rows, machine(o), seconds)
    print("\n".join(lines))
    if not o.no_write:
        with open(os.path.join(BENCH, "bulk.json"), "w") as f:
            json.dump({"options": {k: v for k, v in vars(o).items()}, "runs": runs,
                       "results": [dict(channel=k[0], batch=k[1], client=k[2], **v) for k, v in agg.items()],
                       "rate_limited": rate_rows, "seconds": seconds}, f, indent=1)
        write_section(lines)
        print(f"wrote the bulk section of Tests/Benchmarks/RESULTS.md and build/bench/bulk.json in {seconds:.0f} s")
    incomplete = [r for r in runs if not r["complete"]]
    if incomplete:
        print(f"{len(incomplete)} throughput run(s) did not report every input once and successfully", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
