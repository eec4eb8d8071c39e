"""Throughput of libclarifai's codec against the official Python runtime, on the same transformation.

  JSON -> binary   libclarifai: clarifai_json_to_proto(type, json) + clarifai_free(out)
                   official:    json_format.Parse(json, Message()).SerializeToString()
  binary -> JSON   libclarifai: clarifai_proto_to_json(type, binary) + clarifai_free(out)
                   official:    MessageToJson(Message.FromString(binary), preserving_proto_field_name=True,
                                              use_integers_for_enums=True, indent=None)
Both sides get the same input bytes (the JSON is the official runtime's compact REST form). MB/s is
input bytes (10^6) per second: JSON bytes for JSON -> binary, binary bytes for binary -> JSON, so the
two columns of a row share a denominator and the ratio is a ratio of times. libclarifai's output is
not copied into a Python object (the official side builds its bytes/str; that copy is a memcpy).
The garbage collector is off while timing (as timeit does), which favours the Python side a little.
libclarifai is called through ctypes; the script measures the per-call overhead and prints it (a
few microseconds against milliseconds per call). Rounds alternate which side goes first; each
figure is the median over rounds. Before timing, each output is checked against the official
runtime (lib binary parsed by protobuf == message, lib JSON parsed by json_format == message).

Usage: codec_bench.py [--lib PATH] [--rounds N] [--budget SECONDS] [--out FILE] [--python-only]
"""
import argparse
import ctypes
import datetime
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import google.protobuf  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from google.protobuf.internal import api_implementation  # noqa: E402

import codec_data  # noqa: E402

DEFAULT_LIB = ROOT / "build/lib/libclarifai.so.1"


class Codec:
    """ctypes access to the three codec functions of clarifai.h."""

    def __init__(self, path):
        self.path = path
        lib = ctypes.CDLL(str(path))
        self.lib = lib
        p, s, z = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
        lib.clarifai_json_to_proto.restype = ctypes.c_int
        lib.clarifai_json_to_proto.argtypes = [s, s, ctypes.POINTER(p), ctypes.POINTER(z)]
        lib.clarifai_proto_to_json.restype = ctypes.c_int
        lib.clarifai_proto_to_json.argtypes = [s, s, z, ctypes.POINTER(p)]
        lib.clarifai_free.restype = None
        lib.clarifai_free.argtypes = [p]
        lib.clarifai_last_error.restype = s
        lib.clarifai_last_error.argtypes = []
        self._out, self._len = ctypes.c_void_p(), ctypes.c_size_t()
        self._out_ref, self._len_ref = ctypes.byref(self._out), ctypes.byref(self._len)
        lib.clarifai_version.restype = s
        self.version = lib.clarifai_version().decode()

    def _check(self, code, what):
        if code != 0:
            raise RuntimeError(f"{what} failed with {code}: {self.lib.clarifai_last_error().decode()}")

    # The timed calls: one conversion, then the library's buffer is freed.
    def json_to_proto(self, type_name, json_bytes):
        self._check(self.lib.clarifai_json_to_proto(type_name, json_bytes, self._out_ref, self._len_ref),
                    "clarifai_json_to_proto")
        self.lib.clarifai_free(self._out)

    def proto_to_json(self, type_name, binary):
        self._check(self.lib.clarifai_proto_to_json(type_name, binary, len(binary), self._out_ref),
                    "clarifai_proto_to_json")
        self.lib.clarifai_free(self._out)

    # Untimed: the outputs as Python objects, for the correctness check.
    def json_to_proto_bytes(self, type_name, json_bytes):
        self._check(self.lib.clarifai_json_to_proto(type_name, json_bytes, self._out_ref, self._len_ref),
                    "clarifai_json_to_proto")
        try:
            return ctypes.string_at(self._out, self._len.value)
        finally:
            self.lib.clarifai_free(self._out)

    def proto_to_json_text(self, type_name, binary):
        self._check(self.lib.clarifai_proto_to_json(type_name, binary, len(binary), self._out_ref),
                    "clarifai_proto_to_json")
        try:
            return ctypes.string_at(self._out).decode()
        finally:
            self.lib.clarifai_free(self._out)


def machine():
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores available ({os.cpu_count()} online), {platform.system()} {platform.release()}"


def timed(function, repeat):
    """Seconds per call over `repeat` calls, GC off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        return (time.perf_counter() - start) / repeat
    finally:
        if enabled:
            gc.enable()


def repeats_for(function, target=0.05):
    """How many calls make one sample of about `target` seconds (at least 1); also warms up."""
    once = timed(function, 1)
    return max(1, min(200, int(target / max(once, 1e-9))))


def ctypes_overhead(codec):
    """Per-call cost of the smallest call (an empty google.protobuf.Struct, both directions): an
    upper bound of ctypes' overhead, library work included."""
    empty_json, type_name = b"{}", b"google.protobuf.Struct"
    try:
        codec.json_to_proto(type_name, empty_json)
        codec.proto_to_json(type_name, b"")
    except RuntimeError:
        return None
    n = 20000
    return min(timed(lambda: codec.json_to_proto(type_name, empty_json), n),
               timed(lambda: codec.proto_to_json(type_name, b""), n))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lib", default=os.environ.get("LIBCLARIFAI_PATH") or str(DEFAULT_LIB))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=80.0,
                        help="stop adding rounds after this many seconds (at least 3 rounds)")
    parser.add_argument("--out", default=str(HERE / "CODEC_RESULTS.md"))
    parser.add_argument("--python-only", action="store_true",
                        help="time only the official runtime (while the library lacks the codec)")
    args = parser.parse_args()
    started = time.monotonic()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())

    codec = None
    if not args.python_only:
        try:
            codec = Codec(args.lib)  # AttributeError when the library lacks the codec functions
        except (OSError, AttributeError) as error:
            sys.exit(f"codec_bench: {args.lib} has no codec ({error}); build it or pass --python-only")

    # Payloads and their reference forms, built by the official runtime.
    cases = []
    for label, (type_name, cls, build) in codec_data.CASES.items():
        message = build()
        binary = message.SerializeToString()
        text = codec_data.to_json(message)
        cases.append(dict(label=label, type=type_name.encode(), cls=cls, message=message,
                          binary=binary, text=text, json=text.encode()))

    # Correctness first (untimed): both directions give the same message as the official runtime.
    notes = []
    for case in cases:
        if codec is None:
            break
        lib_binary = codec.json_to_proto_bytes(case["type"], case["json"])
        if case["cls"].FromString(lib_binary) != case["message"]:
            sys.exit(f"codec_bench: {case['label']}: clarifai_json_to_proto gives a different message")
        lib_text = codec.proto_to_json_text(case["type"], case["binary"])
        if json_format.Parse(lib_text, case["cls"]()) != case["message"]:
            sys.exit(f"codec_bench: {case['label']}: clarifai_proto_to_json gives a different message")
        same_bytes = "byte-identical" if lib_binary == case["binary"] else "same message, other bytes"
        notes.append(f"{case['label']}: JSON -> binary output {same_bytes} to SerializeToString "
                     f"({len(lib_binary):,} B); binary -> JSON output {len(lib_text.encode()):,} B "
                     f"vs MessageToJson {len(case['json']):,} B, both parse back to the message.")

    # The four transformations per payload, as (direction, input size, lib call, official call).
    rows = []
    for case in cases:
        cls, type_name, binary, text, json_bytes = case["cls"], case["type"], case["binary"], case["text"], case["json"]
        official_j2b = (lambda cls=cls, text=text: json_format.Parse(text, cls()).SerializeToString())
        official_b2j = (lambda cls=cls, binary=binary: json_format.MessageToJson(
            cls.FromString(binary), preserving_proto_field_name=True, use_integers_for_enums=True, indent=None))
        lib_j2b = lib_b2j = None
        if codec is not None:
            lib_j2b = (lambda t=type_name, j=json_bytes: codec.json_to_proto(t, j))
            lib_b2j = (lambda t=type_name, b=binary: codec.proto_to_json(t, b))
        rows.append(dict(label=case["label"], direction="JSON → binary", size=len(json_bytes), unit="JSON",
                         lib=lib_j2b, official=official_j2b, lib_s=[], official_s=[]))
        rows.append(dict(label=case["label"], direction="binary → JSON", size=len(binary), unit="binary",
                         lib=lib_b2j, official=official_b2j, lib_s=[], official_s=[]))

    for row in rows:  # warm-up and calibration of calls per sample
        row["official_n"] = repeats_for(row["official"])
        row["lib_n"] = repeats_for(row["lib"]) if row["lib"] else 0

    rounds_done = 0
    for round_index in range(args.rounds):
        if rounds_done >= 3 and time.monotonic() - started > args.budget:
            break
        for row in rows:
            sides = [("lib", row["lib"]), ("official", row["official"])]
            if round_index % 2:
                sides.reverse()
            for side, function in sides:
                if function is not None:
                    row[f"{side}_s"].append(timed(function, row[f"{side}_n"]))
        rounds_done += 1

    overhead = ctypes_overhead(codec) if codec else None

    def mbps(size, seconds):
        return size / seconds / 1e6

    lines = [
        "# libclarifai codec throughput vs the official Python runtime",
        "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}; load average before the run {load_before} (other work on the machine "
        "slows both sides)",
        f"- libclarifai: {args.lib}" + (f" (version {codec.version})" if codec else " (not measured)"),
        f"- Official runtime: Python {platform.python_version()}, protobuf {google.protobuf.__version__} "
        f"({api_implementation.Type()} backend), clarifai-grpc message classes",
        f"- {rounds_done} rounds, alternating which side runs first; each figure is the median of the rounds; "
        "a sample is one or more back-to-back calls (~50 ms), GC off.",
        "- MB/s = input bytes (10^6) per second: JSON bytes for JSON → binary, binary bytes for binary → JSON.",
        "- JSON → binary: libclarifai `clarifai_json_to_proto` + `clarifai_free`; official "
        "`json_format.Parse(json, Message()).SerializeToString()`.",
        "- binary → JSON: libclarifai `clarifai_proto_to_json` + `clarifai_free`; official "
        "`MessageToJson(Message.FromString(binary), preserving_proto_field_name=True, "
        "use_integers_for_enums=True, indent=None)`.",
    ]
    if overhead is not None:
        lines.append(f"- ctypes call overhead: ≤ {overhead * 1e6:.1f} µs per call (smallest call, "
                     "an empty google.protobuf.Struct, library work included), negligible against the times below.")
    lines += [f"- Check: {note}" for note in notes]
    lines += ["", "| Payload | Direction | Input | libclarifai MB/s | official Python MB/s | speed-up (lib ÷ official) |",
              "|---|---|---:|---:|---:|---:|"]
    for row in rows:
        official = statistics.median(row["official_s"])
        official_rate = mbps(row["size"], official)
        if row["lib_s"]:
            lib = statistics.median(row["lib_s"])
            lib_rate = f"{mbps(row['size'], lib):,.1f} ({lib * 1e3:,.2f} ms)"
            ratio = f"{official / lib:,.1f}×"
        else:
            lib_rate, ratio = "n/a", "n/a"
        lines.append(f"| {row['label']} | {row['direction']} | {row['size'] / 1e6:,.2f} MB {row['unit']} | "
                     f"{lib_rate} | {official_rate:,.1f} ({official * 1e3:,.2f} ms) | {ratio} |")
    lines += ["", f"Total benchmark time: {time.monotonic() - started:.0f} s.", ""]
    report = "\n".join(lines)
    print(report)
    if codec is not None:
        Path(args.out).write_text(report)
        print(f"written to {args.out}")
    else:
        print("(--python-only: results not written)")


if __name__ == "__main__":
    main()
