"""8 threads over TLS gRPC (scenario a, 400 calls per thread, as the thread-scaling table): this
build's library against another build of it (an earlier commit's, see `make bench-against`) and
the raw-libcurl floor, in alternating rounds on the same responder. The same bench_clarifai
binary runs both libraries (LD_LIBRARY_PATH picks one, checked with ldd); it binds symbols
lazily, so an older library without the functions it does not call here (as
clarifai_channel_set_connections, left alone without --connections) runs it too. Writes Tests/Benchmarks/AGAINST_RESULTS.md."""
import argparse
import os
import statistics
import time

import bench

THREADS, CALLS_PER_THREAD = 8, 400


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-lib", required=True, help="directory holding the other build's libclarifai.so.1")
    ap.add_argument("--baseline-label", required=True, help="what the other build is, e.g. its commit")
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    bench.subprocess.run([bench.PY, os.path.join(bench.HERE, "make_responses.py"), bench.DATA], check=True)
    clarifai = [os.path.join(bench.BENCH, "bench_clarifai"), "--api", "struct"]
    clients = [(f"libclarifai {a.baseline_label}", os.path.abspath(a.baseline_lib), clarifai),
               ("libclarifai (this build)", os.path.join(bench.ROOT, "build", "lib"), clarifai),
               (bench.PROFILED_FLOOR, None, [os.path.join(bench.BENCH, "bench_curl")])]
    for label, library, command in clients[:2]:
        # LD_LIBRARY_PATH decides only where the binary's RUNPATH (not an RPATH) lets it.
        loaded = bench.subprocess.run(["ldd", command[0]], capture_output=True, text=True,
                                      env=dict(os.environ, LD_LIBRARY_PATH=library)).stdout
        if f"{library}/libclarifai.so.1 " not in loaded:
            raise SystemExit(f"{label}: {command[0]} does not load {library}/libclarifai.so.1:\n{loaded}")
    rows = {label: [] for label, _, _ in clients}
    started = time.time()
    responders = bench.start_responders()
    try:
        for round_ in range(a.rounds):
            for label, library, command in clients[round_ % 3:] + clients[:round_ % 3]:
                if library:
                    os.environ["LD_LIBRARY_PATH"] = library
                else:
                    os.environ.pop("LD_LIBRARY_PATH", None)
                r = bench.run_client(command, "grpcs", "a", calls=THREADS * CALLS_PER_THREAD, threads=THREADS, warmup=5)
                rows[label].append((r["calls"] / r["wall_s"], r["cpu_s"] / r["calls"] * 1e6))
                print(f"round {round_ + 1} {label}: {rows[label][-1][0]:,.0f} calls/s, {rows[label][-1][1]:.0f} µs CPU/call", flush=True)
    finally:
        for p in responders:
            p.terminate()
    median = {label: statistics.median(rate for rate, _ in runs) for label, runs in rows.items()}
    baseline, ours = clients[0][0], clients[1][0]
    lines = ["# libclarifai against an earlier build: 8 threads over TLS gRPC", "",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {a.rounds} rounds, the clients in turn "
             f"(the first one moving each round); {time.time() - started:.0f} s.",
             f"- Each run: one process, {THREADS} threads, {CALLS_PER_THREAD} calls per thread (5 warm-up calls each), "
             "`clarifai_predict_url` with the struct API (bench_clarifai), against grpc_responder over TLS.",
             f"- This build: {bench.machine()['libclarifai']}; machine: {bench.machine()['CPU']}, {os.cpu_count()} cores, "
             "shared with the responder.", "",
             "| client | calls/s, median (min-max) | CPU/call (µs), median |", "|---|---:|---:|"]
    for label, runs in rows.items():
        rates = [rate for rate, _ in runs]
        lines.append(f"| {label} | {median[label]:,.0f} ({min(rates):,.0f}-{max(rates):,.0f}) | "
                     f"{statistics.median(cpu for _, cpu in runs):.0f} |")
    lines += ["", f"This build / {a.baseline_label}: **{median[ours] / median[baseline]:.2f}x** the calls per second; "
              f"{median[ours] / median[bench.PROFILED_FLOOR]:.2f}x the floor's.", ""]
    with open(os.path.join(bench.HERE, "AGAINST_RESULTS.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
