"""The Python binding's C accelerator (libclarifai/_speedups.c) against the pure-Python way it
replaces: the same concepts from the same block of text, the same predictions from the test
server, and a clear error (not a crash) for a block that does not hold what its counts say."""
import ctypes
import math
import os
import struct
import sys

import pytest

import capi

os.environ.setdefault("LIBCLARIFAI_PATH", str(capi.ROOT / "build" / "lib" / "libclarifai.so.1"))
try:
    import libclarifai
except ImportError:
    sys.path.insert(0, str(capi.ROOT / "Bindings" / "python"))
    import libclarifai
from libclarifai import Channel, Client, Concept, Input, _client  # noqa: E402

USER = "test-user"


def block(concepts_per_output):
    """A block as clarifai_response_outputs_text writes it, with its counts, as ctypes objects."""
    written = b"".join(field + b"\0" for output in concepts_per_output for concept in output for field in concept)
    text = ctypes.create_string_buffer(written, len(written) or 1)
    counts = (ctypes.c_size_t * max(1, len(concepts_per_output)))(*map(len, concepts_per_output))
    return (ctypes.cast(text, ctypes.c_char_p), len(written),
            ctypes.cast(counts, ctypes.POINTER(ctypes.c_size_t)), len(concepts_per_output), (text, counts))


def accelerated(text, length, counts, outputs):
    return libclarifai._speedups.concepts(ctypes.cast(text, ctypes.c_void_p).value or 0, length,
                                          ctypes.cast(counts, ctypes.c_void_p).value or 0, outputs, Concept)


def same(a, b):
    """Equal, floats by their bits (NaN included), and of the same types."""
    assert [list(map(type, output)) for output in a] == [list(map(type, output)) for output in b]
    assert [[(c.id, c.name, struct.pack("d", c.value), c.app_id) for c in output] for output in a] == \
           [[(c.id, c.name, struct.pack("d", c.value), c.app_id) for c in output] for output in b]


def test_the_accelerator_is_built_where_the_tests_run():
    """make test installs a compiler and Python's headers: a silent fall back would leave it untested."""
    assert _client._speedups is not None


@pytest.mark.parametrize("outputs", [
    [],
    [[]],
    [[], [], []],
    [[(b"dog", b"dog", b"0.87", b"main")]],
    [[(b"ai_1", b"train", b"0.99999994", b"main"), (b"ai_2", b"", b"1e-45", b"")],
     [],
     [(b"\xc3\xa9t\xc3\xa9", b"\xf0\x9f\x90\x95", b"-0", b"main"), (b"bad\xff\xfe", b"\xed\xa0\x80", b"3.4028235e+38", b"x")]],
    [[(b"n", b"n", b"nan", b"main"), (b"i", b"i", b"inf", b"main"), (b"j", b"j", b"-inf", b"other")]],
    [[(b"id%d" % i, b"name %d" % i, b"%r" % (i / 7), b"main") for i in range(20)] for _ in range(32)],
], ids=["no outputs", "no concepts", "three empty", "one", "utf8 and empty", "nan inf", "32x20"])
def test_the_accelerator_makes_what_the_split_makes(outputs):
    text, length, counts, count, _keep = block(outputs)
    made = accelerated(text, length, counts, count)
    same(made, _client._split_concepts(text, length, counts, count))
    assert all(type(c) is Concept for output in made for c in output)
    assert [len(output) for output in made] == [len(output) for output in outputs]


def test_nan_reads_as_nan():
    text, length, counts, count, _keep = block([[(b"n", b"n", b"nan", b"main")]])
    [[concept]] = accelerated(text, length, counts, count)
    assert math.isnan(concept.value) and concept == ("n", "n", concept.value, "main")


@pytest.mark.parametrize("concepts, counts, error", [
    ([(b"a", b"b", b"0.5", b"main")], [2], ValueError),         # more concepts counted than written
    ([(b"a", b"b", b"0.5", b"main")], [10 ** 9], ValueError),   # a count past any text
    ([(b"a", b"b", b"half", b"main")], [1], ValueError),        # a value that is no number
    ([(b"a", b"b", b"0.5 ", b"main")], [1], ValueError),        # trailing text after the number
])
def test_a_block_that_does_not_hold_its_counts_is_a_value_error(concepts, counts, error):
    text, length, _, _, keep = block([concepts])
    counted = (ctypes.c_size_t * len(counts))(*counts)
    with pytest.raises(error):
        accelerated(text, length, counted, len(counts))
    with pytest.raises(ValueError):  # a block cut inside a concept
        accelerated(text, length - 2, counted, len(counts))


def test_wrong_arguments_are_errors_not_crashes():
    with pytest.raises(TypeError):
        libclarifai._speedups.concepts(0, 0, 0, 0, dict)
    with pytest.raises(ValueError):
        libclarifai._speedups.concepts(0, 10, 0, 0, Concept)
    with pytest.raises(ValueError):
        libclarifai._speedups.concepts(0, 0, 0, 1, Concept)
    with pytest.raises(ValueError):
        libclarifai._speedups.concepts(0, -1, 0, 0, Concept)


@pytest.mark.parametrize("kind", ["rest", "grpc"])
def test_predictions_are_the_same_with_and_without_the_accelerator(server, monkeypatch, kind):
    channel = Channel.json(server.rest_url) if kind == "rest" else Channel.grpc_insecure(server.grpc_target)
    with channel, Client(channel, server.token, USER, "speedups-app") as client:
        inputs = [Input(url=f"https://samples.clarifai.com/{i}.jpg") for i in range(5)]
        fast = client.predict("general-image-recognition", inputs=inputs)
        monkeypatch.setattr(_client, "_speedups", None)
        plain = client.predict("general-image-recognition", inputs=inputs)
    assert len(fast.outputs) == 5 and all(len(output.concepts) == 20 for output in fast.outputs)
    same([o.concepts for o in fast.outputs], [o.concepts for o in plain.outputs])
    assert fast.outputs == plain.outputs
