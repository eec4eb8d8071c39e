"""The Python binding's C accelerator (libclarifai/_speedups.c) against the pure-Python way it
replaces: the same concepts from the same block of text, the same predictions from the test
server, and a clear error (not a crash) for a block that does not hold what its counts say."""
import copy
import ctypes
import gc
import json
import math
import os
import pickle
import random
import struct
import subprocess
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
    """A block as clarifai_response_outputs_text writes it, with its counts: their addresses (as
    the binding passes them on), and the ctypes objects that hold them."""
    written = b"".join(field + b"\0" for output in concepts_per_output for concept in output for field in concept)
    text = ctypes.create_string_buffer(written, len(written) or 1)
    counts = (ctypes.c_size_t * max(1, len(concepts_per_output)))(*map(len, concepts_per_output))
    return ctypes.addressof(text), len(written), ctypes.addressof(counts), len(concepts_per_output), (text, counts)


def accelerated(text, length, counts, outputs):
    return libclarifai._speedups.concepts(text, length, counts, outputs)


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


def test_repeated_ids_and_names_are_made_once_and_read_right_past_the_slots():
    """Ids and names are kept by their bytes (2,048 sets of two strings of up to 64 bytes): the same
    bytes give the same str (UTF-8 beyond ASCII too), sets taken over by other bytes (5,000 names),
    longer names and bytes that are not UTF-8 (never kept: their str has other bytes) still read right."""
    names = [b"concept %d" % i for i in range(5000)] + [b"x" * 64, b"x" * 63 + b"y", b"x" * 65, b"x" * 300, b"", b"\xff\xfe"]
    outputs = [[(name, name, b"0.5", b"main") for name in names[start:start + 500]] for start in range(0, len(names), 500)]
    for _ in range(2):
        text, length, counts, count, _keep = block(outputs)
        same(accelerated(text, length, counts, count), _client._split_concepts(text, length, counts, count))
    text, length, counts, count, _keep = block([[(b"dog", b"Dog", b"0.5", b"main")], [(b"dog", b"Dog", b"0.25", b"main")]])
    first, second = accelerated(text, length, counts, count)
    assert first[0].name is second[0].name and first[0].id is second[0].id and first[0].app_id is second[0].app_id
    text, length, counts, count, _keep = block([[("été".encode(), b"bad\xff", b"0.5", b"main")]] * 2)
    first, second = accelerated(text, length, counts, count)
    assert first[0].id is second[0].id and first[0].id == "été"
    assert first[0].name == second[0].name == "bad\ufffd" and first[0].name is not second[0].name


def test_names_that_differ_in_their_last_bytes_are_kept_apart():
    """The set of a name comes from its hash's top bits, which every byte reaches: a thousand
    names that differ only in their last digits are mostly kept (940: sets of two, and a set that
    three of them share keeps none of them when they come in turn)."""
    names = [b"concept %d" % i for i in range(1000, 2000)]
    text, length, counts, count, _keep = block([[(name, name, b"0.5", b"main") for name in names]])
    [first] = accelerated(text, length, counts, count)
    [second] = accelerated(text, length, counts, count)
    assert sum(a.id is b.id for a, b in zip(first, second)) >= 900


def value_texts():
    """Values as the library writes them (the shortest decimal of a float32: up to 9 digits, a
    short exponent) and as it does not (longer, odd forms, past the one-rounding fast path)."""
    rnd = random.Random(19)
    texts = [b"0", b"-0", b"0.0", b"1", b"0.87", b"0.99999994", b"1e-45", b"3.4028235e+38", b"1.5e+20", b"1e22",
             b"1e23", b"1e-22", b"1e-23", b"123456789012345", b"1234567890123456", b"9007199254740993", b"0.000123",
             b".5", b"5.", b"-.5", b"1E5", b"1e+05", b"1e-05", b"00012", b"0e0", b"1e00022", b"4.9e-324"]
    for _ in range(2000):
        f = struct.unpack("f", struct.pack("I", rnd.getrandbits(32)))[0]
        if not math.isfinite(f):
            continue
        texts += [b"%.*g" % (digits, f) for digits in (1, 3, 6, 8, 9)] + [repr(f).encode()]
        x = rnd.random()
        texts += [b"%.8f" % x, b"%.*g" % (rnd.randint(1, 17), x * 10 ** rnd.randint(-30, 30))]
    return texts


def test_values_read_as_float_reads_them():
    """The accelerator reads most values itself (Clinger's fast path): bit for bit as float()."""
    texts = value_texts()
    text, length, counts, count, _keep = block([[(b"i", b"n", value, b"main") for value in texts]])
    [made] = accelerated(text, length, counts, count)
    assert [struct.pack("d", c.value) for c in made] == [struct.pack("d", float(value)) for value in texts]


def test_concepts_are_left_out_of_the_garbage_collectors_watch():
    """A concept holds a str or float in each field (made so): no cycle can go through it, so the
    collector is not told of it (hundreds per call set it off), and no subclass can hold more."""
    text, length, counts, count, _keep = block([[(b"i", b"n", b"0.5", b"main")] * 3])
    made = accelerated(text, length, counts, count)[0]
    assert type(made[0]) is Concept is libclarifai._speedups.Concept
    assert not any(gc.is_tracked(c) for c in made) and not gc.is_tracked(Concept("a", "b", 1, "c"))
    with pytest.raises(TypeError):
        type("Annotated", (Concept,), {})


CONCEPT_TYPES = [pytest.param(libclarifai._speedups.Concept, id="C"), pytest.param(_client._PythonConcept, id="Python")]


class Text(str):
    def __str__(self):
        return "not the characters"


@pytest.mark.parametrize("concept_type", CONCEPT_TYPES)
def test_both_concept_types_behave_alike(concept_type):
    """The C type and the Python class used without the accelerator: one behaviour."""
    c = concept_type("ai_1", "dog", 0.5, "main")
    assert (c.id, c.name, c.value, c.app_id) == ("ai_1", "dog", 0.5, "main") == tuple(c)
    assert c == ("ai_1", "dog", 0.5, "main") == c and ("ai_1", "dog", 0.5, "main") == c and c != ("ai_1", "dog", 0.5)
    assert c == concept_type(id="ai_1", name="dog", value=0.5, app_id="main") and c != concept_type("ai_1", "dog", 0.25, "main")
    assert c < concept_type("ai_2", "a", 0.0, "") and sorted([concept_type("b", "", 0, ""), c])[0] is c
    assert (c == 3) is False and c != "ai_1"
    assert hash(c) == hash(("ai_1", "dog", 0.5, "main")) and len({c, concept_type("ai_1", "dog", 0.5, "main")}) == 1
    assert len(c) == 4 and c[0] == "ai_1" and c[-1] == "main" and c[1:3] == ("dog", 0.5) and "dog" in c and "cat" not in c
    with pytest.raises(IndexError):
        c[4]
    identifier, name, value, app_id = c
    assert (identifier, name, value, app_id) == tuple(c)
    assert repr(c) == "Concept(id='ai_1', name='dog', value=0.5, app_id='main')"
    assert concept_type._fields == concept_type.__match_args__ == ("id", "name", "value", "app_id")
    assert c._asdict() == {"id": "ai_1", "name": "dog", "value": 0.5, "app_id": "main"}
    assert c._replace(value=1) == ("ai_1", "dog", 1.0, "main") and c._replace() == c
    with pytest.raises(ValueError):
        c._replace(score=1)
    with pytest.raises(AttributeError):
        c.id = "other"
    with pytest.raises(AttributeError):
        c.extra = 1
    # Fields kept as exact str and float; anything else refused.
    made = concept_type(Text("x"), "n", 1, "a")
    assert type(made.id) is str and made.id == "x" and type(made.value) is float and made.value == 1.0
    for wrong in [(1, "n", 0.5, "a"), ("i", None, 0.5, "a"), ("i", "n", "0.5", "a"), ("i", "n", 0.5, b"a")]:
        with pytest.raises(TypeError):
            concept_type(*wrong)
    with pytest.raises(TypeError):
        concept_type("i", "n", 0.5)


@pytest.mark.parametrize("concept_type", CONCEPT_TYPES)
def test_concepts_pickle_and_copy_as_the_binding_s_concept(concept_type):
    c = concept_type("ai_1", "dog", 0.5, "main")
    for copied in (pickle.loads(pickle.dumps(c)), copy.copy(c), copy.deepcopy(c)):
        assert tuple(copied) == tuple(c) and type(copied) is Concept  # the one the binding uses


def test_without_the_accelerator_the_python_class_is_the_concept():
    """A binding built without a C compiler: Concept is the Python class, and its concepts read
    and pickle as the C type's do, leaving nothing for the garbage collector."""
    code = ("import sys; sys.modules['libclarifai._speedups'] = None\n"
            "import gc, pickle, struct, libclarifai\n"
            "from libclarifai import _client\n"
            "assert _client._speedups is None and libclarifai.Concept is _client._PythonConcept\n"
            "text, counts = b'ai_1\\0dog\\x000.5\\0main\\0', struct.pack('N', 1)\n"
            "address = lambda data: _client._address(_client.ctypes.c_char_p(data))\n"
            "gc.collect(); gc.disable()\n"
            "[[c]] = _client._output_concepts(address(text), len(text), address(counts), 1)\n"
            "assert gc.collect() == 0  # no ctypes array type made per call\n"
            "assert type(c) is libclarifai.Concept and c == ('ai_1', 'dog', 0.5, 'main') == pickle.loads(pickle.dumps(c))\n")
    package = os.path.dirname(os.path.dirname(libclarifai.__file__))
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PYTHONPATH=package))


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
        accelerated(text, length, ctypes.addressof(counted), len(counts))
    with pytest.raises(ValueError):  # a block cut inside a concept
        accelerated(text, length - 2, ctypes.addressof(counted), len(counts))


def test_wrong_arguments_are_errors_not_crashes():
    with pytest.raises(TypeError):
        libclarifai._speedups.concepts(0, 0, 0)
    with pytest.raises(ValueError):
        libclarifai._speedups.concepts(0, 10, 0, 0)
    with pytest.raises(ValueError):
        libclarifai._speedups.concepts(0, 0, 0, 1)
    with pytest.raises(ValueError):
        libclarifai._speedups.concepts(0, -1, 0, 0)


def input_fields(first, count):
    """What the library reads of each clarifai_input of an array (given as its first item)."""
    array = (type(first) * count).from_address(ctypes.addressof(first)) if count else []
    return [(item.kind, item.url, item.text, item.id, ctypes.string_at(item.data, item.data_len) if item.data else None)
            for item in array]


def test_the_accelerator_makes_the_input_array_the_binding_makes(monkeypatch):
    inputs = [Input(url="https://x/a.jpg"), Input(text="héllo 🐕"), Input(data=b"\x00\xffbytes", id="mine"),
              Input(text="t", kind=libclarifai.InputKind.IMAGE), Input(url="u", kind=3), Input(data=b""), Input(url="")]
    array, count, _keep = _client._input_array(inputs)
    assert isinstance(_keep[0], bytearray)  # made by the accelerator
    assert all(any(value is held for held in _keep[1]) for i in inputs for value in (i.url, i.text, i.id, i.data)
               if value is not None)  # what the array points into, held
    monkeypatch.setattr(_client, "_speedups", None)
    plain, plain_count, _plain_keep = _client._input_array(inputs)
    assert input_fields(array, count) == input_fields(plain, plain_count)
    assert [kind for kind, *_ in input_fields(array, count)] == [0, 1, 0, 0, 3, 0, 0]


@pytest.mark.parametrize("item", [Input(url="u", kind="video"), Input(url="u", kind=7), Input(url="a\0b"),
                                  Input(data=bytearray(b"x")), Input(text="\ud800")],
                         ids=["kind by name", "kind out of range", "NUL in text", "bytearray", "lone surrogate"])
def test_inputs_the_accelerator_leaves_to_the_binding(item):
    """What the binding handles its own way (names, errors, copies) is not made in C."""
    assert libclarifai._speedups.input_array([Input(url="first"), item], ctypes.sizeof(_client.InputStruct)) is None


def test_input_array_refuses_a_struct_of_another_size_and_what_is_no_input():
    assert libclarifai._speedups.input_array([Input(url="u")], ctypes.sizeof(_client.InputStruct) + 8) is None
    assert libclarifai._speedups.input_array([], ctypes.sizeof(_client.InputStruct)) is not None
    with pytest.raises(AttributeError):
        libclarifai._speedups.input_array([object()], ctypes.sizeof(_client.InputStruct))
    with pytest.raises(TypeError):
        libclarifai._speedups.input_array((Input(url="u"),), ctypes.sizeof(_client.InputStruct))


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


@pytest.mark.parametrize("kind", ["rest", "grpc"])
def test_a_binding_without_the_accelerator_predicts_the_same(server, kind):
    """A whole prediction in a process where the accelerator cannot be imported: the Python
    Concept class, the inputs' array and the concepts made in Python, the same values."""
    inputs = [Input(url=f"https://samples.clarifai.com/{i}.jpg") for i in range(3)]
    channel = Channel.json(server.rest_url) if kind == "rest" else Channel.grpc_insecure(server.grpc_target)
    with channel, Client(channel, server.token, USER, "speedups-app") as client:
        fast = [[list(c) for c in output.concepts] for output in client.predict("general-image-recognition", inputs=inputs).outputs]
    code = ("import sys, json; sys.modules['libclarifai._speedups'] = None\n"
            "from libclarifai import Channel, Client, Concept, Input, _client\n"
            "assert Concept is _client._PythonConcept\n"
            f"channel = Channel.json({server.rest_url!r}) if {kind!r} == 'rest' else Channel.grpc_insecure({server.grpc_target!r})\n"
            f"client = Client(channel, {server.token!r}, {USER!r}, 'speedups-app')\n"
            "inputs = [Input(url=f'https://samples.clarifai.com/{i}.jpg') for i in range(3)]\n"
            "outputs = client.predict('general-image-recognition', inputs=inputs).outputs\n"
            "assert all(type(c) is Concept for o in outputs for c in o.concepts)\n"
            "print(json.dumps([[list(c) for c in o.concepts] for o in outputs]))\n")
    package = os.path.dirname(os.path.dirname(libclarifai.__file__))
    made = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=package)).stdout
    assert json.loads(made) == fast and len(fast) == 3 and all(len(output) == 20 for output in fast)

