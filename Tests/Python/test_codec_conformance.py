"""Conformance of libclarifai's protobuf codec (clarifai_json_to_proto, clarifai_proto_to_json)
with the official protobuf runtime and the Clarifai REST API's JSON form.

Random part, per message type (every request and response type of the V2 service, plus the
well-known types as top-level messages), with messages from messagegen.py:
  test_binary_to_json      official bytes (half of them with the fields in reverse order and
                           unknown fields between) -> clarifai_proto_to_json -> json_format.Parse
                           == original
  test_json_to_binary      official JSON (several printing styles) -> clarifai_json_to_proto
                           -> FromString == original
  test_output_form         the library's JSON is the REST form: original names, enums as numbers,
                           64-bit integers as strings, defaults left out except cl_show_if_empty
                           fields, shortest floats for their width, standard base64, RFC 3339
  test_library_round_trip  bytes -> library JSON -> library bytes == original
Then targeted tests of input forms, output forms, wire-format corner cases and errors (with the
exact field path in clarifai_last_error()).

CLARIFAI_CONFORMANCE_COUNT (default 2000) is the number of random messages per direction
across all types; CLARIFAI_CONFORMANCE_SEED (default "1") changes them. A mismatch names the
type, the message's seed and index and the smallest difference; the message is rebuilt with
    messagegen.MessageGen(random.Random(seed)).message(messagegen.descriptor_for(type_name))
"""
import base64
import ctypes
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import textwrap
import time
from functools import lru_cache

import pytest
from google.protobuf import json_format, struct_pb2
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_pb2
from clarifai_grpc.grpc.api.utils import extensions_pb2

import capi
import messagegen as mg

FD = mg.FD
TOTAL = int(os.environ.get("CLARIFAI_CONFORMANCE_COUNT", "2000"))
SEED = os.environ.get("CLARIFAI_CONFORMANCE_SEED", "1")

# The well-known types are messages of their own too ("google.protobuf well-known types included");
# at the top level their JSON is not an object (a string, a number, null, an array).
TOP_LEVEL_WELL_KNOWN = sorted(mg.WELL_KNOWN)
TYPES = mg.service_types() + TOP_LEVEL_WELL_KNOWN
PER_TYPE = max(1, -(-TOTAL // len(TYPES)))

# Printing styles of the official JSON fed to clarifai_json_to_proto, by message index. Half
# print original names and enum numbers, half lowerCamel names and enum names; some escape all
# non-ASCII (surrogate pairs for emoji), some print every default value, some print int64 bare.
JSON_STYLES = [
    {},
    {"preserving_proto_field_name": True, "use_integers_for_enums": True, "indent": None},
    {"ensure_ascii": False, "indent": None},
    {"preserving_proto_field_name": True, "use_integers_for_enums": True, "ensure_ascii": False},
    {"always_print_fields_with_no_presence": True, "unquote_int64_if_possible": True, "indent": 0},
    {"preserving_proto_field_name": True, "use_integers_for_enums": True,
     "always_print_fields_with_no_presence": True, "ensure_ascii": False},
]

MAX_REPORTED = 3  # mismatches shown per test; the rest are counted


# ------------------------------------------------------------------------------------ the codec
class Codec:
    """ctypes declarations of the codec functions and calls that free what they are handed.
    lib[name] makes function objects of our own: the shared `lib` keeps capi's declarations."""

    def __init__(self, lib):
        self.lib = lib
        p, s, i, z = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
        self.json_to_proto = lib["clarifai_json_to_proto"]
        self.json_to_proto.restype = i
        self.json_to_proto.argtypes = [s, s, ctypes.POINTER(p), ctypes.POINTER(z)]
        self.proto_to_json = lib["clarifai_proto_to_json"]
        self.proto_to_json.restype = i
        self.proto_to_json.argtypes = [s, p, z, ctypes.POINTER(p)]
        self.free = lib["clarifai_free"]
        self.free.restype = None
        self.free.argtypes = [p]
        self.last_error = lib["clarifai_last_error"]
        self.last_error.restype = s
        self.last_error.argtypes = []

    def error(self):
        return (self.last_error() or b"").decode("utf-8", "replace")

    def to_json(self, type_name, data):
        """(code, text or None, last error) of clarifai_proto_to_json."""
        out = ctypes.c_void_p()
        # An exact-size copy: nothing after the last byte for a reader to lean on.
        buffer = ctypes.create_string_buffer(data, len(data)) if data else None
        code = self.proto_to_json(type_name.encode(), buffer, len(data), ctypes.byref(out))
        if code != 0:
            assert not out.value, "clarifai_proto_to_json failed but handed out memory"
            return code, None, self.error()
        assert out.value, "clarifai_proto_to_json succeeded with *out_json NULL"
        try:
            raw = ctypes.string_at(out.value)
        finally:
            self.free(out.value)
        return code, raw.decode("utf-8"), ""

    def to_proto(self, type_name, text):
        """(code, bytes or None, last error) of clarifai_json_to_proto."""
        out, size = ctypes.c_void_p(), ctypes.c_size_t(12345)
        raw = text.encode("utf-8") if isinstance(text, str) else text
        code = self.json_to_proto(type_name.encode(), raw, ctypes.byref(out), ctypes.byref(size))
        if code != 0:
            assert not out.value, "clarifai_json_to_proto failed but handed out memory"
            return code, None, self.error()
        assert out.value, "clarifai_json_to_proto succeeded with *out NULL (must not be, even when empty)"
        try:
            data = ctypes.string_at(out.value, size.value)
        finally:
            self.free(out.value)
        return code, data, ""


@pytest.fixture(scope="session")
def codec(lib):
    if not hasattr(lib, "clarifai_json_to_proto"):
        pytest.fail("the library has no clarifai_json_to_proto / clarifai_proto_to_json yet")
    return Codec(lib)


# ------------------------------------------------------------------------------------ samples
@lru_cache(maxsize=None)
def samples(type_name):
    """The random messages of one type: [(seed, message)]."""
    descriptor = mg.descriptor_for(type_name)
    out = []
    for index in range(PER_TYPE):
        seed = f"{SEED}:{type_name}:{index}"
        out.append((seed, mg.MessageGen(random.Random(seed)).message(descriptor)))
    return out


def cls_of(type_name):
    return mg.message_class(mg.descriptor_for(type_name))


def same(expected, actual):
    """upb's == compares floats by their bits (NaN equals NaN, -0.0 differs from 0.0); the
    deterministic bytes check that once more."""
    return expected == actual and (expected.SerializeToString(deterministic=True)
                                   == actual.SerializeToString(deterministic=True))


def as_dict(msg):
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def dict_diff(expected, actual, path=""):
    """The paths where two MessageToDict results differ, with both values."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in list(expected) + [k for k in actual if k not in expected]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{sub}: expected {short(expected[key])}, missing")
            elif key not in expected:
                out.append(f"{sub}: not expected, got {short(actual[key])}")
            else:
                out += dict_diff(expected[key], actual[key], sub)
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        out = []
        for index, (e, a) in enumerate(zip(expected, actual)):
            out += dict_diff(e, a, f"{path}[{index}]")
        return out
    if expected == actual and type(expected) is type(actual):
        if isinstance(expected, float) and math.copysign(1, expected) != math.copysign(1, actual):
            return [f"{path}: expected {expected!r}, got {actual!r} (sign of zero)"]
        return []
    return [f"{path or '<root>'}: expected {short(expected)}, got {short(actual)}"]


def message_diff(expected, actual):
    lines = dict_diff(as_dict(expected), as_dict(actual))
    if not lines:
        lines = ["no difference in MessageToDict; bytes: expected "
                 f"{expected.SerializeToString(deterministic=True).hex()[:400]}, got "
                 f"{actual.SerializeToString(deterministic=True).hex()[:400]}"]
    return lines


def short(value, limit=300):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class Mismatches:
    """Collects the failures of one parametrized test and fails it with the first few."""

    def __init__(self, type_name, direction):
        self.type_name, self.direction, self.reports, self.count = type_name, direction, [], 0

    def add(self, seed, index, lines):
        self.count += 1
        if len(self.reports) < MAX_REPORTED:
            body = "\n".join("    " + line for line in lines)
            self.reports.append(f"  #{index} (seed {seed!r}):\n{body}")

    def check(self):
        if self.count:
            pytest.fail(f"{self.type_name}: {self.count} of {PER_TYPE} messages fail {self.direction}\n"
                        + "\n".join(self.reports) + "\n  rebuild one with messagegen.MessageGen("
                        "random.Random(seed)).message(messagegen.descriptor_for(type_name))", pytrace=False)


# ------------------------------------------------------------------------------------ random tests
@pytest.mark.parametrize("type_name", TYPES)
def test_binary_to_json(codec, type_name):
    cls = cls_of(type_name)
    mismatches = Mismatches(type_name, "bytes -> clarifai_proto_to_json -> json_format.Parse")
    for index, (seed, msg) in enumerate(samples(type_name)):
        # Odd indexes: the fields in reverse order with unknown fields between them.
        data = msg.SerializeToString() if index % 2 == 0 else scrambled(msg, random.Random(seed))
        code, text, error = codec.to_json(type_name, data)
        if code != 0:
            mismatches.add(seed, index, [f"code {code}: {error}", f"input bytes: {data.hex()[:600]}",
                                         f"official JSON: {short(json_format.MessageToJson(msg, indent=None), 1000)}"])
            continue
        try:
            parsed = json_format.Parse(text, cls())
        except json_format.ParseError as e:
            mismatches.add(seed, index, [f"the official parser rejects the library's JSON: {e}",
                                         f"library JSON: {short(text, 1500)}"])
            continue
        if not same(msg, parsed):
            mismatches.add(seed, index, message_diff(msg, parsed) + [f"library JSON: {short(text, 1500)}"])
    mismatches.check()


@pytest.mark.parametrize("type_name", TYPES)
def test_binary_to_json_text_does_not_depend_on_wire_order(codec, type_name):
    """A message's fields in the order writers emit them are written as they come; in any other
    order they are gathered first. Both give the same text, byte for byte."""
    for seed, msg in samples(type_name):
        data = msg.SerializeToString()
        code, in_order, error = codec.to_json(type_name, data)
        assert code == 0, error
        code, reordered, error = codec.to_json(type_name, fields_reversed(data))
        assert code == 0, error
        assert in_order == reordered, f"seed {seed}"


def fields_reversed(data):
    """`data` with its top-level fields in reverse order, each field's records (a repeated field's
    elements, a map's entries) unchanged and in their order."""
    records = {}
    offset = 0
    while offset < len(data):
        start = offset
        tag, offset = read_varint(data, offset)
        wire_type = tag & 7
        if wire_type == 0:
            _, offset = read_varint(data, offset)
        elif wire_type == 2:
            length, offset = read_varint(data, offset)
            offset += length
        else:
            offset += 8 if wire_type == 1 else 4
        records.setdefault(tag >> 3, []).append(data[start:offset])
    return b"".join(b"".join(field) for field in reversed(list(records.values())))


def read_varint(data, offset):
    value = shift = 0
    while True:
        byte = data[offset]
        value |= (byte & 0x7F) << shift
        offset, shift = offset + 1, shift + 7
        if byte < 0x80:
            return value, offset


def scrambled(msg, rng):
    """The bytes of `msg` with its top-level fields in reverse order and unknown fields (every
    wire type) in between: the same message to any protobuf reader."""
    numbers = {field.number for field in msg.DESCRIPTOR.fields}
    unknown_numbers = [n for n in range(1, 600) if n not in numbers][:40] + [536870911]

    def unknown():
        number = rng.choice(unknown_numbers)
        kind = rng.randrange(4)
        if kind == 0:
            return wire_tag(number, 0) + wire_varint(rng.choice([0, 1, 2 ** 63, 2 ** 64 - 1]))
        if kind == 1:
            return wire_tag(number, 1) + rng.getrandbits(64).to_bytes(8, "little")
        if kind == 2:
            return wire_ld(number, bytes(rng.getrandbits(8) for _ in range(rng.randrange(6))))
        return wire_tag(number, 5) + rng.getrandbits(32).to_bytes(4, "little")

    parts = []
    for field, value in reversed(msg.ListFields()):
        single = type(msg)()
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            getattr(single, field.name).MergeFrom(value)
        elif field.is_repeated:
            getattr(single, field.name).extend(value)
        elif field.message_type is not None:
            getattr(single, field.name).CopyFrom(value)
        else:
            setattr(single, field.name, value)
        parts.append(unknown() if rng.random() < 0.5 else b"")
        parts.append(single.SerializeToString())
    parts.append(unknown())
    data = b"".join(parts)
    check = type(msg).FromString(data)
    check.DiscardUnknownFields()
    assert same(msg, check), "scrambled() changed the message"
    return data


@pytest.mark.parametrize("type_name", TYPES)
def test_json_to_binary(codec, type_name):
    cls = cls_of(type_name)
    mismatches = Mismatches(type_name, "official JSON -> clarifai_json_to_proto -> FromString")
    for index, (seed, msg) in enumerate(samples(type_name)):
        style = JSON_STYLES[index % len(JSON_STYLES)]
        text = json_format.MessageToJson(msg, **style)
        code, data, error = codec.to_proto(type_name, text)
        if code != 0:
            mismatches.add(seed, index, [f"code {code}: {error}", f"JSON style {style}",
                                         f"input JSON: {short(text, 1500)}"])
            continue
        try:
            parsed = cls.FromString(data)
        except Exception as e:  # noqa: BLE001 - any decode failure is the library's
            mismatches.add(seed, index, [f"the official runtime rejects the library's bytes: {e}",
                                         f"bytes: {data.hex()[:600]}", f"input JSON: {short(text, 1500)}"])
            continue
        if not same(msg, parsed):
            mismatches.add(seed, index, message_diff(msg, parsed)
                           + [f"JSON style {style}", f"input JSON: {short(text, 1500)}"])
    mismatches.check()


@pytest.mark.parametrize("type_name", TYPES)
def test_output_form(codec, type_name):
    mismatches = Mismatches(type_name, "the REST JSON form")
    for index, (seed, msg) in enumerate(samples(type_name)):
        code, text, error = codec.to_json(type_name, msg.SerializeToString())
        if code != 0:
            continue  # test_binary_to_json reports it
        try:
            value = load_raw(text)
        except ValueError as e:
            mismatches.add(seed, index, [f"not strict JSON: {e}", f"library JSON: {short(text, 1500)}"])
            continue
        problems = form_errors(msg, value, "")
        if problems:
            mismatches.add(seed, index, problems[:8] + [f"library JSON: {short(text, 1500)}"])
    mismatches.check()


@pytest.mark.parametrize("type_name", TYPES)
def test_library_round_trip(codec, type_name):
    cls = cls_of(type_name)
    mismatches = Mismatches(type_name, "bytes -> library JSON -> library bytes")
    for index, (seed, msg) in enumerate(samples(type_name)):
        code, text, _ = codec.to_json(type_name, msg.SerializeToString())
        if code != 0:
            continue  # test_binary_to_json reports it
        code, data, error = codec.to_proto(type_name, text)
        if code != 0:
            mismatches.add(seed, index, [f"the library rejects its own JSON: code {code}: {error}",
                                         f"library JSON: {short(text, 1500)}"])
            continue
        parsed = cls.FromString(data)
        if not same(msg, parsed):
            mismatches.add(seed, index, message_diff(msg, parsed) + [f"library JSON: {short(text, 1500)}"])
    mismatches.check()


def number_tokens(rng):
    """JSON numbers of every digit count up to 20 in their integer and fraction parts (leading
    zeros, exponents, signs), some at the very end of the text: the reader takes up to eight
    digits at a time from a word while the text has eight bytes left, one at a time after."""
    def digits(count):
        return "".join(rng.choice("0123456789") for _ in range(count))
    tokens = ["0", "-0", "0.0", "1e5", "12345678", "1234567", "123456789", "0.00000001", "0.000000012345678",
              "99999999.99999999", "123456789012345", "1234567890123456", "18446744073709551615", "0.99142045"]
    for integer_length in range(1, 21):
        for fraction_length in range(0, 21):
            integer = "0" if integer_length == 1 and rng.random() < 0.3 else str(rng.randrange(1, 10)) + digits(integer_length - 1)
            token = ("-" if rng.random() < 0.2 else "") + integer
            if fraction_length:
                token += "." + ("0" * rng.randrange(fraction_length) if rng.random() < 0.3 else "") + digits(fraction_length)
            if rng.random() < 0.2:
                token += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randrange(40))
            tokens.append(token)
    return tokens


def test_numbers_read_as_the_official_parser_reads_them(codec):
    """Numbers alone (a google.protobuf.Value, so the text ends where the number does), and in
    an object (float and double fields, as numbers and in strings), read to the official parser's
    bits: a token without fraction or exponent is an integer there ("-0" is 0; "-0" in a string
    is -0.0)."""
    mismatches = []
    rng = random.Random(19)
    for token in number_tokens(rng):
        official = json_format.Parse(token, struct_pb2.Value()).SerializeToString()
        code, data, error = codec.to_proto("google.protobuf.Value", token)
        if (code, data) != (0, official):
            mismatches.append(f"{token}: {code} {error} {data!r} != {official!r}")
        text = '{"concepts": [{"value": %s}, {"value": "%s"}], "metadata": {"x": %s}}' % (token, token, token)
        try:
            official = json_format.Parse(text, resources_pb2.Data()).SerializeToString()
        except json_format.ParseError:  # a float out of range
            continue
        code, data, error = codec.to_proto("clarifai.api.Data", text + " " * rng.randrange(10))
        if (code, data) != (0, official):
            mismatches.append(f"{text}: {code} {error}")
    assert not mismatches, "\n".join(mismatches[:20])


# ------------------------------------------------------------------------------------ the REST form
class Num(str):
    """A JSON number token, kept as its text."""


def _no_bare_constants(token):
    raise ValueError(f"bare {token} is not JSON (it must be quoted)")


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_raw(text):
    """json.loads keeping number tokens as text, rejecting duplicate keys and bare NaN."""
    return json.loads(text, parse_float=Num, parse_int=Num, parse_constant=_no_bare_constants,
                      object_pairs_hook=_no_duplicates)


def show_if_empty(field):
    return bool(field.GetOptions().Extensions[extensions_pb2.cl_show_if_empty])


def significant_digits(token):
    mantissa = token.lstrip("+-").lower().split("e")[0].replace(".", "")
    return len(mantissa.strip("0"))


def shortest_digits(value, float32):
    if value == 0:
        return 0
    if not float32:
        return significant_digits(repr(value))
    for precision in range(1, 10):
        text = "%.*g" % (precision, value)
        if mg.to_float32(float(text)) == value:
            return significant_digits(text)
    return 9


def float_form(value, token, float32, path):
    """A float or double: "NaN"/"Infinity"/"-Infinity" or a number in the shortest form that reads
    back to the same value at its width, sign of zero kept."""
    if math.isnan(value) or math.isinf(value):
        expected = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        if token != expected or isinstance(token, Num):
            return [f"{path}: expected \"{expected}\", got {short(token)}"]
        return []
    if not isinstance(token, Num):
        return [f"{path}: expected a number for {value!r}, got {short(token)}"]
    read = float(token)
    if float32:
        read = mg.to_float32(read)
    if read != value or math.copysign(1, read) != math.copysign(1, value):
        return [f"{path}: {token} reads back as {read!r}, not {value!r}"]
    want = shortest_digits(value, float32)
    if significant_digits(token) != want:
        return [f"{path}: {token} is not the shortest form for a {'float' if float32 else 'double'} "
                f"({want} digits, e.g. {repr(value) if not float32 else '%.*g' % (max(want, 1), value)})"]
    return []


def scalar_form(field, value, token, path):
    t = field.type
    if t in (FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64, FD.TYPE_FIXED64, FD.TYPE_SFIXED64):
        if isinstance(token, Num) or token != str(value):
            return [f"{path}: 64-bit integer {value} must print as the string \"{value}\", got {short(token)}"]
        return []
    if t in (FD.TYPE_INT32, FD.TYPE_UINT32, FD.TYPE_SINT32, FD.TYPE_FIXED32, FD.TYPE_SFIXED32):
        if not isinstance(token, Num) or token != str(value):
            return [f"{path}: expected the number {value}, got {short(token)}"]
        return []
    if t == FD.TYPE_ENUM:
        if not isinstance(token, Num) or token != str(value):
            return [f"{path}: enum expected as the number {value}, got {short(token)}"]
        return []
    if t == FD.TYPE_BOOL:
        if token is not value:
            return [f"{path}: expected {json.dumps(value)}, got {short(token)}"]
        return []
    if t == FD.TYPE_STRING:
        if isinstance(token, Num) or token != value:
            return [f"{path}: expected {value!r}, got {short(token)}"]
        return []
    if t == FD.TYPE_BYTES:
        expected = base64.b64encode(value).decode()
        if isinstance(token, Num) or token != expected:
            return [f"{path}: expected standard padded base64 {expected!r}, got {short(token)}"]
        return []
    if t in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        return float_form(value, token, t == FD.TYPE_FLOAT, path)
    raise TypeError(t)


def map_key_text(key):
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def value_form(field, value, token, path):
    if field.message_type is not None:
        return form_errors(value, token, path)
    return scalar_form(field, value, token, path)


def struct_value_form(msg, token, path):
    """google.protobuf.Value as plain JSON."""
    kind = msg.WhichOneof("kind")
    if kind == "null_value":
        return [] if token is None else [f"{path}: expected null, got {short(token)}"]
    if kind == "number_value":
        return float_form(msg.number_value, token, False, path)
    if kind == "string_value":
        return [] if type(token) is str and token == msg.string_value else [f"{path}: expected {msg.string_value!r}, got {short(token)}"]
    if kind == "bool_value":
        return [] if token is msg.bool_value else [f"{path}: expected {msg.bool_value}, got {short(token)}"]
    if kind == "struct_value":
        return form_errors(msg.struct_value, token, path)
    if kind == "list_value":
        return form_errors(msg.list_value, token, path)
    return [f"{path}: a Value without a kind (generator bug)"]


def form_errors(msg, token, path):
    """Differences between the library's JSON `token` (from load_raw) and the REST form of `msg`."""
    name = msg.DESCRIPTOR.full_name
    here = path or "<root>"
    if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        expected = msg.ToJsonString()
        return [] if type(token) is str and token == expected else [f"{here}: expected \"{expected}\", got {short(token)}"]
    if name == "google.protobuf.Value":
        return struct_value_form(msg, token, path)
    if name == "google.protobuf.ListValue":
        if not isinstance(token, list) or len(token) != len(msg.values):
            return [f"{here}: expected a list of {len(msg.values)}, got {short(token)}"]
        out = []
        for index, (element, item) in enumerate(zip(msg.values, token)):
            out += struct_value_form(element, item, f"{path}[{index}]")
        return out
    if name == "google.protobuf.Struct":
        if not isinstance(token, dict) or set(token) != set(msg.fields):
            return [f"{here}: expected an object with keys {sorted(msg.fields)}, got {short(token)}"]
        out = []
        for key in msg.fields:
            out += struct_value_form(msg.fields[key], token[key], f"{path}[{key!r}]")
        return out
    if name in mg.WRAPPERS:
        return scalar_form(msg.DESCRIPTOR.fields_by_name["value"], msg.value, token, here)
    if not isinstance(token, dict):
        return [f"{here}: expected an object, got {short(token)}"]
    out = []
    present = {field.name for field, _ in msg.ListFields()}
    for field in msg.DESCRIPTOR.fields:
        sub = f"{path}.{field.name}" if path else field.name
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        if field.name in present:
            if field.name not in token:
                hint = f" (printed as {field.json_name!r}?)" if field.json_name in token else ""
                out.append(f"{sub}: missing{hint}")
                continue
            item = token[field.name]
            current = getattr(msg, field.name)
            if is_map:
                key_field, value_field = field.message_type.fields
                if not isinstance(item, dict) or set(item) != {map_key_text(k) for k in current}:
                    out.append(f"{sub}: expected a map with keys {sorted(map_key_text(k) for k in current)}, got {short(item)}")
                    continue
                for key in current:
                    out += value_form(value_field, current[key], item[map_key_text(key)], f"{sub}[{map_key_text(key)!r}]")
            elif field.is_repeated:
                if not isinstance(item, list) or len(item) != len(current):
                    out.append(f"{sub}: expected a list of {len(current)}, got {short(item)}")
                    continue
                for index, (element, element_token) in enumerate(zip(current, item)):
                    out += value_form(field, element, element_token, f"{sub}[{index}]")
            else:
                out += value_form(field, current, item, sub)
        elif show_if_empty(field) and (field.is_repeated or field.message_type is None):
            if field.name not in token:
                out.append(f"{sub}: missing (cl_show_if_empty: printed even when empty)")
            elif field.is_repeated:
                if token[field.name] != ([] if not is_map else {}):
                    out.append(f"{sub}: expected [], got {short(token[field.name])}")
            else:
                out += scalar_form(field, field.default_value, token[field.name], sub)
        elif show_if_empty(field):
            # A singular message field marked cl_show_if_empty: the header promises the form only
            # for repeated and scalar fields; left out or null both read back as unset.
            if token.get(field.name, None) is not None:
                out.append(f"{sub}: unset message printed as {short(token[field.name])}")
        elif field.name in token:
            out.append(f"{sub}: default value printed: {short(token[field.name])}")
    known = {field.name for field in msg.DESCRIPTOR.fields}
    for key in token:
        if key not in known:
            out.append(f"{path + '.' if path else ''}{key}: not a field name of {name}")
    return out


# ------------------------------------------------------------------------------------ helpers
def to_json_ok(codec, msg, type_name=None):
    type_name = type_name or msg.DESCRIPTOR.full_name
    code, text, error = codec.to_json(type_name, msg.SerializeToString())
    assert code == 0, error
    return text


def to_proto_ok(codec, type_name, text):
    code, data, error = codec.to_proto(type_name, text)
    assert code == 0, f"{text!r}: {error}"
    return cls_of(type_name).FromString(data)


def assert_error(codec, type_name, text, path, *words):
    """clarifai_json_to_proto fails with INVALID_ARGUMENT and names `path` ("inputs[1].data.image.base64")
    in the form "<path>: <problem>"."""
    code, data, error = codec.to_proto(type_name, text)
    assert code == capi.INVALID_ARGUMENT, f"{text!r} accepted: {data!r}"
    if path:
        assert f"{path}: " in error, f"expected the path {path!r} in {error!r}"
    for word in words:
        assert word.lower() in error.lower(), f"expected {word!r} in {error!r}"
    return error


def wire_varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def wire_tag(number, wire_type):
    return wire_varint(number << 3 | wire_type)


def wire_ld(number, payload):
    return wire_tag(number, 2) + wire_varint(len(payload)) + payload


# ------------------------------------------------------------------------------------ output form
def test_output_uses_original_names_enum_numbers_and_int64_strings(codec):
    msg = service_pb2.MultiOutputResponse(status=status_pb2.Status(code=10000, description="Ok", req_id="r1"))
    output = msg.outputs.add(id="o1")
    output.model.model_version.id = "v1"
    output.data.int_value = -(2 ** 63)
    output.data.frames.add().frame_info.time = 2 ** 64 - 1
    output.data.concepts.add(id="c1", name="dog", value=0.25, app_id="main")
    output.created_at.FromJsonString("2024-01-02T03:04:05.120Z")
    value = json.loads(to_json_ok(codec, msg))
    assert value["status"] == {"code": 10000, "description": "Ok", "req_id": "r1"}
    out = value["outputs"][0]
    assert out["id"] == "o1" and out["created_at"] == "2024-01-02T03:04:05.120Z"
    assert out["data"]["int_value"] == "-9223372036854775808"
    assert out["data"]["frames"][0]["frame_info"]["time"] == "18446744073709551615"
    assert out["data"]["concepts"] == [{"id": "c1", "name": "dog", "value": 0.25, "app_id": "main"}]
    assert out["model"]["model_version"]["id"] == "v1"


def test_output_shows_cl_show_if_empty_fields(codec):
    assert json.loads(to_json_ok(codec, service_pb2.MultiConceptResponse())) == {"concepts": []}
    msg = service_pb2.MultiConceptResponse()
    msg.concepts.add(id="c")
    # Concept.value is cl_show_if_empty; name, app_id, language... are not (Model.app_id is).
    assert json.loads(to_json_ok(codec, msg)) == {"concepts": [{"id": "c", "value": 0}]}
    text = to_json_ok(codec, resources_pb2.BoundingBox())
    assert json.loads(text) == {"top_row": 0, "left_col": 0, "bottom_row": 0, "right_col": 0}
    value = json.loads(to_json_ok(codec, resources_pb2.FrameInfo()))
    assert value == {"index": 0, "time": "0", "number": 0}  # uint64 time: "0", as a string
    assert json.loads(to_json_ok(codec, resources_pb2.EmailAddress())) == {"email": "", "primary": False, "verified": False}
    assert json.loads(to_json_ok(codec, resources_pb2.ROC())) == {"fpr": [], "tpr": [], "thresholds": []}
    # The same fields are left out in types that do not mark them.
    assert json.loads(to_json_ok(codec, service_pb2.SingleConceptResponse())) == {}


def test_output_leaves_defaults_out(codec):
    msg = resources_pb2.Input(id="", data=resources_pb2.Data(int_value=0, bool_value=False))
    assert json.loads(to_json_ok(codec, msg)) == {"data": {}}
    assert json.loads(to_json_ok(codec, resources_pb2.Input())) == {}
    code, text, error = codec.to_json("clarifai.api.Input", b"")
    assert (code, json.loads(text)) == (0, {}), error


def test_output_floats_are_shortest_for_their_width(codec):
    text = to_json_ok(codec, resources_pb2.Concept(id="c", value=0.1))
    assert re.search(r'"value":\s*0\.1[,}\s]', text), text
    for value, pattern in [(0.3, r"0\.3"), (1.0, r"1(\.0)?"), (16777216.0, r"1\.6777216e\+?0?7|16777216(\.0)?"),
                           (mg.FLOAT_MAX, r"3\.4028235e\+?38"), (mg.FLOAT_MIN_DENORMAL, r"1e-45|1\.0e-45"),
                           (-0.0, r"-0(\.0)?")]:
        text = to_json_ok(codec, resources_pb2.Concept(value=value))
        assert re.fullmatch(r'\{\s*"value":\s*(' + pattern + r')\s*\}', text), (value, text)
    # Doubles print as doubles: 0.1 stays 0.1, 2^53 + 2 in full, 5e-324 survives.
    for value in [0.1, 9007199254740994.0, 5e-324, 1.7976931348623157e308, -2.5]:
        text = to_json_ok(codec, resources_pb2.Data(float_value=value))
        token = re.fullmatch(r'\{\s*"float_value":\s*(\S+?)\s*\}', text).group(1)
        assert float(token) == value and significant_digits(token) == significant_digits(repr(value)), text


def test_output_nonfinite_floats_and_negative_zero(codec):
    for value, token in [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")]:
        assert json.loads(to_json_ok(codec, resources_pb2.Concept(value=value))) == {"value": token}
        assert json.loads(to_json_ok(codec, resources_pb2.Data(float_value=value))) == {"float_value": token}
    value = json.loads(to_json_ok(codec, resources_pb2.Data(float_value=-0.0)))["float_value"]
    assert value == 0 and math.copysign(1, value) < 0  # -0.0 is not the default: it prints, signed
    vector = json.loads(to_json_ok(codec, resources_pb2.Embedding(vector=[math.nan, -0.0, 0.5])))["vector"]
    assert vector[0] == "NaN" and math.copysign(1, vector[1]) < 0 and vector[2] == 0.5


def test_output_strings_are_escaped_json(codec):
    name = "\x00\x01\x1f\x7f\"\\/\b\f\n\r\t\u2028\u2029\ufeff é中😀\U0010ffff"
    text = to_json_ok(codec, resources_pb2.Concept(name=name))
    assert not any(ord(c) < 0x20 for c in text.replace("\n", "").replace(" ", "")), text
    assert json.loads(text)["name"] == name  # json.loads is strict: raw control characters fail


def test_output_bytes_are_standard_base64(codec):
    data = bytes(range(256))
    assert json.loads(to_json_ok(codec, resources_pb2.Image(base64=data)))["base64"] == base64.b64encode(data).decode()
    assert json.loads(to_json_ok(codec, resources_pb2.Image(base64=b"\xfb\xff")))["base64"] == "+/8="
    # Set to b"" in a oneof-free proto3 field is the default: left out.
    assert json.loads(to_json_ok(codec, resources_pb2.Image(base64=b""))) == {}


def test_output_well_known_types(codec):
    concept = resources_pb2.Concept()
    concept.created_at.FromJsonString("0001-01-01T00:00:00Z")
    concept.metadata.update({"a": None, "b": [1.5, "x", True, {"c": []}], "n": -3})
    value = json.loads(to_json_ok(codec, concept))
    assert value == {"value": 0, "created_at": "0001-01-01T00:00:00Z",
                     "metadata": {"a": None, "b": [1.5, "x", True, {"c": []}], "n": -3}}
    duration_type = "google.protobuf.Duration"
    for seconds, nanos, expected in [(1, 500000000, "1.500s"), (-1, -500000000, "-1.500s"), (0, -1000, "-0.000001s"),
                                     (0, 0, "0s"), (315576000000, 0, "315576000000s"), (3, 1, "3.000000001s")]:
        msg = cls_of(duration_type)(seconds=seconds, nanos=nanos)
        assert json.loads(to_json_ok(codec, msg)) == expected
    stamp = cls_of("google.protobuf.Timestamp")
    for seconds, nanos, expected in [(0, 0, "1970-01-01T00:00:00Z"), (1, 10000000, "1970-01-01T00:00:01.010Z"),
                                     (-1, 999999999, "1969-12-31T23:59:59.999999999Z"),
                                     (253402300799, 120000, "9999-12-31T23:59:59.000120Z")]:
        assert json.loads(to_json_ok(codec, stamp(seconds=seconds, nanos=nanos))) == expected
    # Wrappers print their value, even the default; unset ones are left out.
    model = resources_pb2.Model()
    model.workflow_recommended.value = False
    model.featured_order.SetInParent()
    assert json.loads(to_json_ok(codec, model)) == {"app_id": "", "workflow_recommended": False, "featured_order": 0}
    assert json.loads(to_json_ok(codec, cls_of("google.protobuf.UInt64Value")(value=2 ** 64 - 1))) == "18446744073709551615"
    assert json.loads(to_json_ok(codec, cls_of("google.protobuf.Value")(null_value=0))) is None
    assert json.loads(to_json_ok(codec, cls_of("google.protobuf.ListValue")())) == []
    assert json.loads(to_json_ok(codec, cls_of("google.protobuf.Struct")())) == {}


def test_output_oneof_member_at_default_is_printed(codec):
    msg = resources_pb2.MetricValue(int_value=0)  # set, in a oneof: has presence
    assert msg.WhichOneof("metric_value") == "int_value"
    assert json.loads(to_json_ok(codec, msg)) == {"int_value": 0}
    msg = service_pb2.ListAppsRequest(sort_by_name=False)
    assert json.loads(to_json_ok(codec, msg)) == {"sort_by_name": False}
    msg = resources_pb2.DataSourceCredentials(gcp_creds=b"")
    assert json.loads(to_json_ok(codec, msg)) == {"gcp_creds": ""}
    msg = resources_pb2.Worker()
    msg.user.SetInParent()
    assert json.loads(to_json_ok(codec, msg)) == {"user": {}}


# ------------------------------------------------------------------------------------ input forms
def test_input_accepts_lower_camel_and_original_names(codec):
    expected = service_pb2.PostModelOutputsRequest(model_id="m", version_id="v")
    expected.user_app_id.user_id, expected.user_app_id.app_id = "u", "a"
    expected.inputs.add().data.image.allow_duplicate_url = True
    camel = '{"userAppId": {"userId": "u", "appId": "a"}, "modelId": "m", "versionId": "v", "inputs": [{"data": {"image": {"allowDuplicateUrl": true}}}]}'
    snake = '{"user_app_id": {"user_id": "u", "app_id": "a"}, "model_id": "m", "version_id": "v", "inputs": [{"data": {"image": {"allow_duplicate_url": true}}}]}'
    mixed = '{"user_app_id": {"userId": "u", "app_id": "a"}, "modelId": "m", "version_id": "v", "inputs": [{"data": {"image": {"allowDuplicateUrl": true}}}]}'
    for text in (camel, snake, mixed):
        assert same(expected, to_proto_ok(codec, "clarifai.api.PostModelOutputsRequest", text)), text


def test_input_enum_names_numbers_and_aliases(codec):
    for text, number in [('"SUCCESS"', 10000), ("10000", 10000), ('"INPUT_DOWNLOAD_SUCCESS"', 30000),
                         ('"INPUT_SUCCESS"', 30000), ("123456", 123456), ('"ZERO"', 0), ("0", 0)]:
        msg = to_proto_ok(codec, "clarifai.api.status.Status", '{"code": %s}' % text)
        assert msg.code == number, text
    assert_error(codec, "clarifai.api.status.Status", '{"code": "NOT_A_CODE"}', "code")
    assert_error(codec, "clarifai.api.status.Status", '{"code": "success"}', "code")
    assert_error(codec, "clarifai.api.status.Status", '{"code": 1.5}', "code")
    assert_error(codec, "clarifai.api.status.Status", '{"code": true}', "code")


def test_input_enum_number_in_a_string(codec):
    """The official runtimes (Python's json_format, C++'s parser) read a quoted enum number too."""
    for text, number in [('"10000"', 10000), ('"123456"', 123456), ('"0"', 0)]:
        expected = json_format.Parse('{"code": %s}' % text, status_pb2.Status())
        assert expected.code == number
        assert same(expected, to_proto_ok(codec, "clarifai.api.status.Status", '{"code": %s}' % text)), text


def test_input_integers_as_numbers_or_strings(codec):
    for text, width in [('123', 123), ('"123"', 123), ('-5', -5), ('"-5"', -5), ('1.0', 1), ('1e2', 100),
                        ('"1e2"', 100),
                        ('2147483647', 2 ** 31 - 1), ('"-2147483648"', -(2 ** 31)), ('-0', 0), ('2.0e0', 2)]:
        msg = to_proto_ok(codec, "clarifai.api.ImageInfo", '{"width": %s}' % text)
        assert msg.width == width, text
    for text, value in [('"9223372036854775807"', 2 ** 63 - 1), ('-9223372036854775808', -(2 ** 63)),
                        ('9007199254740993', 2 ** 53 + 1), ('"9007199254740993"', 2 ** 53 + 1), ('"-1"', -1)]:
        assert to_proto_ok(codec, "clarifai.api.Data", '{"int_value": %s}' % text).int_value == value, text
    for text in ("18446744073709551615", '"18446744073709551615"'):
        assert to_proto_ok(codec, "clarifai.api.FrameInfo", '{"time": %s}' % text).time == 2 ** 64 - 1, text
    assert to_proto_ok(codec, "clarifai.api.OutputConfig", '{"max_concepts": 4294967295}').max_concepts == 2 ** 32 - 1
    assert to_proto_ok(codec, "clarifai.api.ListConceptsRequest", '{"page": "2", "perPage": 3}').per_page == 3


def test_input_uint64_max_as_bare_number_is_exact(codec):
    msg = to_proto_ok(codec, "clarifai.api.FrameInfo", '{"time": 18446744073709551615}')
    assert msg.time == 18446744073709551615
    msg = to_proto_ok(codec, "google.protobuf.UInt64Value", "18446744073709551615")
    assert msg.value == 18446744073709551615
    msg = to_proto_ok(codec, "clarifai.api.HitCount", '{"estimated_total": 18446744073709551614}')
    assert msg.estimated_total == 18446744073709551614


def test_input_floats(codec):
    for text, check in [('"NaN"', math.isnan), ('"Infinity"', lambda v: v == math.inf),
                        ('"-Infinity"', lambda v: v == -math.inf), ('"0.5"', lambda v: v == 0.5),
                        ('0.1', lambda v: v == mg.to_float32(0.1)), ('1e-45', lambda v: v == mg.FLOAT_MIN_DENORMAL),
                        ('3.4028235e38', lambda v: v == mg.FLOAT_MAX), ('-3.4028235e+38', lambda v: v == -mg.FLOAT_MAX),
                        ('-0.0', lambda v: v == 0 and math.copysign(1, v) < 0), ('5', lambda v: v == 5.0)]:
        value = to_proto_ok(codec, "clarifai.api.Concept", '{"value": %s}' % text).value
        assert check(value), (text, value)
        value = to_proto_ok(codec, "clarifai.api.Data", '{"floatValue": %s}' % text).float_value
        if text not in ('0.1', '1e-45', '3.4028235e38', '-3.4028235e+38'):
            assert check(value), (text, value)
    assert to_proto_ok(codec, "clarifai.api.Data", '{"floatValue": 0.1}').float_value == 0.1
    assert to_proto_ok(codec, "clarifai.api.Data", '{"floatValue": 5e-324}').float_value == 5e-324
    assert to_proto_ok(codec, "clarifai.api.Data", '{"floatValue": 1.7976931348623157e308}').float_value == 1.7976931348623157e308
    assert math.isnan(to_proto_ok(codec, "google.protobuf.DoubleValue", '"NaN"').value)
    assert math.isinf(to_proto_ok(codec, "google.protobuf.FloatValue", '"-Infinity"').value)


def test_input_base64_forms(codec):
    for text in ['"+/8="', '"+/8"', '"-_8="', '"-_8"']:
        assert to_proto_ok(codec, "clarifai.api.Image", '{"base64": %s}' % text).base64 == b"\xfb\xff", text
    data = bytes(range(256))
    standard = base64.b64encode(data).decode()
    for text in [standard, standard.rstrip("="), base64.urlsafe_b64encode(data).decode(),
                 base64.urlsafe_b64encode(data).decode().rstrip("=")]:
        assert to_proto_ok(codec, "clarifai.api.Image", json.dumps({"base64": text})).base64 == data
    for length in range(0, 7):
        data = bytes(range(250, 250 + length))
        for text in (base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode().rstrip("=")):
            assert to_proto_ok(codec, "clarifai.api.Image", json.dumps({"base64": text})).base64 == data, text


def test_input_well_known_types(codec):
    msg = to_proto_ok(codec, "clarifai.api.Concept",
                      '{"created_at": "2024-01-01T00:00:00+01:00", "metadata": {"a": null, "b": [1, "x", true, {"c": []}], "n": 1e308}}')
    assert msg.created_at.ToJsonString() == "2023-12-31T23:00:00Z"
    assert json_format.MessageToDict(msg.metadata) == {"a": None, "b": [1, "x", True, {"c": []}], "n": 1e308}
    assert msg.metadata.fields["a"].WhichOneof("kind") == "null_value"
    for text, expected in [('"2024-02-29T12:34:56.5Z"', (1709210096, 500000000)),
                           ('"1970-01-01T00:00:00.000000001Z"', (0, 1)),
                           ('"0001-01-01T00:00:00Z"', (-62135596800, 0)),
                           ('"9999-12-31T23:59:59.999999999Z"', (253402300799, 999999999)),
                           ('"1969-12-31T23:59:59.123-00:30"', (1799, 123000000))]:
        msg = to_proto_ok(codec, "google.protobuf.Timestamp", text)
        assert (msg.seconds, msg.nanos) == expected, text
    for text, expected in [('"1.5s"', (1, 500000000)), ('"-1.5s"', (-1, -500000000)), ('"0s"', (0, 0)),
                           ('"-0.000000001s"', (0, -1)), ('"315576000000s"', (315576000000, 0)),
                           ('"-315576000000.999999999s"', (-315576000000, -999999999))]:
        msg = to_proto_ok(codec, "google.protobuf.Duration", text)
        assert (msg.seconds, msg.nanos) == expected, text
    assert to_proto_ok(codec, "google.protobuf.Value", "null").WhichOneof("kind") == "null_value"
    assert to_proto_ok(codec, "google.protobuf.Value", "[]").WhichOneof("kind") == "list_value"
    assert to_proto_ok(codec, "google.protobuf.Value", '"s"').string_value == "s"
    assert to_proto_ok(codec, "google.protobuf.Value", "-2.5e-3").number_value == -2.5e-3
    model = to_proto_ok(codec, "clarifai.api.Model", '{"workflowRecommended": false, "featuredOrder": "7"}')
    assert model.HasField("workflow_recommended") and model.featured_order.value == 7
    assert to_proto_ok(codec, "clarifai.api.HitCount", '{"estimated_total": "18446744073709551615"}').estimated_total == 2 ** 64 - 1


def test_input_null_means_default(codec):
    msg = to_proto_ok(codec, "clarifai.api.Input",
                      '{"id": null, "data": null, "created_at": null, "dataset_ids": null, "settings": null}')
    assert msg == resources_pb2.Input()
    assert not to_proto_ok(codec, "clarifai.api.Model", '{"featured_order": null}').HasField("featured_order")
    # ...but a Value field holding null is set to NullValue.
    msg = to_proto_ok(codec, "clarifai.api.Concept", '{"metadata": {"k": null}}')
    assert msg.metadata.fields["k"].WhichOneof("kind") == "null_value"


def test_input_oneof_and_map(codec):
    msg = to_proto_ok(codec, "clarifai.api.MetricValue", '{"int_value": 0}')
    assert msg.WhichOneof("metric_value") == "int_value"
    text = '{"hosted_image_info": {"small": {"width": 10}, "": {}, "\\u00e9\\ud83d\\ude00": {"format": "png"}}}'
    msg = to_proto_ok(codec, "clarifai.api.Image", text)
    assert set(msg.hosted_image_info) == {"small", "", "é😀"} and msg.hosted_image_info["small"].width == 10
    assert_error(codec, "clarifai.api.MetricValue", '{"int_value": 1, "string_value": "x"}', "")


@pytest.mark.parametrize("field, text", [
    pytest.param("int_value", '"0x10"'),
    pytest.param("int_value", '"12\\u0000"'),
    ("int_value", '" 12"'), ("int_value", '"1_000"'),
    ("int_value", '"\u0661\u0662"'), ("int_value", '"NaN"'), ("int_value", '""'),
    pytest.param("float_value", '"0x1p3"'),
    pytest.param("float_value", '"0X10"'),
    pytest.param("float_value", '"1.5\\u0000"'), ("float_value", '"inf"'),
    ("float_value", '"nan"'), ("float_value", '"Infinity "'), ("float_value", '""'), ("float_value", '"1_0"'),
])
def test_input_numbers_in_strings_are_decimal_text(codec, field, text):
    """A quoted number is decimal text and nothing more: no hex (strtod's 0x1p3), no NUL after
    the digits, no spaces or digit separators."""
    assert_error(codec, "clarifai.api.Data", '{"%s": %s}' % (field, text), field)


@pytest.mark.parametrize("type_name, text, path", [
    pytest.param("clarifai.api.Concept", '{"metadata": {"a": 1, "a": 2}}', "metadata", id="struct"),
    pytest.param("clarifai.api.Concept", '{"metadata": {"x": {"b": true, "b": false}}}', "metadata.x", id="nested-struct"),
    pytest.param("clarifai.api.Image", '{"hosted_image_info": {"k": {}, "k": {"width": 1}}}', "hosted_image_info", id="map"),
    pytest.param("clarifai.api.Concept", '{"name": "a", "name": "b"}', "name", id="field"),
])
def test_input_duplicate_keys_are_errors(codec, type_name, text, path):
    """A key twice in one object is an error for fields (the library says "field given more than
    once"), and so for map keys and Struct keys; the official json_format refuses them all."""
    with pytest.raises(json_format.ParseError):
        json_format.Parse(text, cls_of(type_name)())
    error = assert_error(codec, type_name, text, "")
    assert path in error, error


def test_input_json_syntax(codec):
    msg = to_proto_ok(codec, "clarifai.api.Concept", ' \t\r\n{ "name" : "a\\u0000b\\/\\ud83d\\ude00" , "value" : 1 } \n')
    assert (msg.name, msg.value) == ("a\x00b/😀", 1.0)
    code, data, error = codec.to_proto("clarifai.api.Concept", "{}")
    assert (code, data) == (0, b""), error


# ------------------------------------------------------------------------------------ wire format
def binary_matches_official(codec, type_name, data):
    """clarifai_proto_to_json on hand-made bytes reads what the official runtime reads."""
    expected = cls_of(type_name).FromString(data)
    expected.DiscardUnknownFields()  # the library skips them
    code, text, error = codec.to_json(type_name, data)
    assert code == 0, error
    assert same(expected, json_format.Parse(text, cls_of(type_name)())), (data.hex(), text)


def test_binary_wire_variants(codec):
    floats = struct.pack("<3f", 0.5, -1.0, 2.0)
    unpacked = b"".join(wire_tag(1, 5) + struct.pack("<f", v) for v in (0.5, -1.0, 2.0))
    binary_matches_official(codec, "clarifai.api.Embedding", wire_ld(1, floats))     # packed
    binary_matches_official(codec, "clarifai.api.Embedding", unpacked)                # unpacked
    binary_matches_official(codec, "clarifai.api.Embedding", wire_ld(1, floats) + unpacked + wire_ld(1, b""))
    # Repeated uint64 (TaskReviewMetrics.inputs_count_estimated_per_reviewer) packed and not.
    field = resources_pb2.TaskReviewMetrics.DESCRIPTOR.fields_by_name["inputs_count_estimated_per_reviewer"].number
    binary_matches_official(codec, "clarifai.api.TaskReviewMetrics",
                            wire_ld(field, wire_varint(2 ** 64 - 1) + wire_varint(0)) + wire_tag(field, 0) + wire_varint(7))
    # A scalar twice: the last wins. A message twice: merged.
    binary_matches_official(codec, "clarifai.api.Concept", wire_ld(1, b"first") + wire_ld(1, b"second"))
    binary_matches_official(codec, "clarifai.api.Input", wire_ld(2, wire_ld(1, wire_ld(1, b"u"))) + wire_ld(2, wire_ld(1, wire_tag(4, 0) + b"\x01")))
    # Negative int32 as a 10-byte varint and as a 5-byte one; an over-long varint for 1.
    binary_matches_official(codec, "clarifai.api.ImageInfo", wire_tag(1, 0) + wire_varint(-5))
    binary_matches_official(codec, "clarifai.api.ImageInfo", wire_tag(1, 0) + bytes([0xFB, 0xFF, 0xFF, 0xFF, 0x0F]))
    binary_matches_official(codec, "clarifai.api.ImageInfo", wire_tag(2, 0) + bytes([0x81, 0x80, 0x80, 0x00]))
    # A known field number with the wrong wire type is an unknown field (skipped), as upb does.
    binary_matches_official(codec, "clarifai.api.Concept", wire_tag(1, 5) + b"1234" + wire_tag(2, 0) + b"\x05"
                            + wire_tag(3, 5) + struct.pack("<f", 0.5))
    # Fields out of order; an enum value the schema does not know (open enum: kept as a number).
    binary_matches_official(codec, "clarifai.api.status.Status", wire_ld(2, b"d") + wire_tag(1, 0) + wire_varint(123456))
    code, text, error = codec.to_json("clarifai.api.status.Status", wire_tag(1, 0) + wire_varint(123456))
    assert code == 0 and json.loads(text) == {"code": 123456}, error


@pytest.mark.parametrize("type_name, data, reversal_keeps_message", [
    pytest.param("clarifai.api.Embedding", wire_tag(1, 5) + struct.pack("<f", 0.5) + wire_tag(9000, 0) + wire_varint(7)
                 + wire_tag(1, 5) + struct.pack("<f", 2.0) + wire_tag(2, 0) + wire_varint(2), True, id="unknown-between-elements"),
    pytest.param("clarifai.api.Embedding", wire_tag(1, 5) + struct.pack("<f", 0.5) + wire_tag(2, 0) + wire_varint(2)
                 + wire_tag(1, 5) + struct.pack("<f", 2.0), True, id="repeated-split-by-another-field"),
    pytest.param("clarifai.api.Embedding", wire_ld(1, b"") + wire_tag(2, 0) + wire_varint(0), True, id="empty-packed-run-default-scalar"),
    pytest.param("clarifai.api.Concept", wire_ld(1, b"c") + wire_tag(3, 5) + struct.pack("<f", 0.0) + wire_ld(2, b"n"), True,
                 id="default-value-on-the-wire"),
    pytest.param("clarifai.api.Concept", wire_ld(2, b"n") + wire_ld(1, b"a") + wire_ld(1, b"b"), True, id="singular-twice"),
    # Reversed, the other member of the oneof comes last and wins: another message.
    pytest.param("clarifai.api.MetricValue", wire_ld(1, b"s") + wire_tag(3, 0) + b"\x07", False, id="two-oneof-members"),
])
def test_binary_to_json_of_what_writers_do_not_write(codec, type_name, data, reversal_keeps_message):
    """Wire forms writers do not make, read as their fields come (a form that needs its fields
    gathered first starts over that way) and in reverse field order (always gathered): each the
    message the official runtime reads, and the same text both ways where it is the same message."""
    binary_matches_official(codec, type_name, data)
    binary_matches_official(codec, type_name, fields_reversed(data))
    if reversal_keeps_message:
        assert codec.to_json(type_name, data) == codec.to_json(type_name, fields_reversed(data))


def test_binary_bool_is_any_nonzero_varint(codec):
    """A bool is true for any nonzero varint, 2**40 too (as upb reads it)."""
    for value in (1, 2, 2 ** 32, 2 ** 40, 2 ** 64 - 1):
        data = wire_tag(22, 0) + wire_varint(value)  # Model.is_starred
        assert resources_pb2.Model.FromString(data).is_starred
        binary_matches_official(codec, "clarifai.api.Model", data)
        binary_matches_official(codec, "google.protobuf.BoolValue", wire_tag(1, 0) + wire_varint(value))


def test_binary_wrong_sized_integers_truncate_like_upb(codec):
    binary_matches_official(codec, "clarifai.api.ImageInfo", wire_tag(1, 0) + wire_varint(2 ** 32 + 5))
    binary_matches_official(codec, "clarifai.api.OutputConfig", wire_tag(6, 0) + wire_varint(2 ** 33 + 7))
    binary_matches_official(codec, "clarifai.api.status.Status", wire_tag(1, 0) + wire_varint(2 ** 32 + 10000))


def test_binary_map_entries(codec):
    entry = lambda body: wire_ld(7, body)  # Image.hosted_image_info: map<string, ImageInfo>
    binary_matches_official(codec, "clarifai.api.Image", entry(wire_ld(2, wire_tag(1, 0) + b"\x05")))  # no key
    binary_matches_official(codec, "clarifai.api.Image", entry(wire_ld(1, b"k")))                      # no value
    binary_matches_official(codec, "clarifai.api.Image", entry(wire_ld(2, wire_tag(1, 0) + b"\x05") + wire_ld(1, b"k")))
    binary_matches_official(codec, "clarifai.api.Image",  # the same key twice: the last entry wins
                            entry(wire_ld(1, b"k") + wire_ld(2, wire_tag(1, 0) + b"\x05"))
                            + entry(wire_ld(1, b"k") + wire_ld(2, wire_tag(2, 0) + b"\x06")))
    binary_matches_official(codec, "clarifai.api.MetricValue", wire_ld(1, b"s") + wire_tag(3, 0) + b"\x07")  # oneof: last wins


@pytest.mark.parametrize("type_name, data, path", [
    pytest.param("clarifai.api.Concept", wire_ld(4, wire_tag(1, 0) + wire_varint(253402300800)), "created_at", id="timestamp-after-9999"),
    pytest.param("clarifai.api.Concept", wire_ld(4, wire_tag(1, 0) + wire_varint(-62135596801)), "created_at", id="timestamp-before-0001"),
    pytest.param("clarifai.api.Concept", wire_ld(4, wire_tag(2, 0) + wire_varint(1000000000)), "created_at", id="timestamp-nanos-1e9"),
    pytest.param("clarifai.api.Concept", wire_ld(4, wire_tag(2, 0) + wire_varint(-1)), "created_at", id="timestamp-nanos-negative"),
    pytest.param("google.protobuf.Duration", wire_tag(1, 0) + wire_varint(1) + wire_tag(2, 0) + wire_varint(-1), "", id="duration-sign-mismatch"),
    pytest.param("google.protobuf.Duration", wire_tag(1, 0) + wire_varint(315576000001), "", id="duration-seconds-too-large"),
    pytest.param("google.protobuf.Duration", wire_tag(2, 0) + wire_varint(1000000000), "", id="duration-nanos-1e9"),
    # A Value holding NaN or Infinity has no JSON form: "NaN" would read back as a string.
    pytest.param("clarifai.api.Concept", wire_ld(13, wire_ld(1, wire_ld(1, b"x") + wire_ld(2, wire_tag(2, 1) + struct.pack("<d", math.nan)))), "metadata", id="struct-value-NaN"),
    pytest.param("google.protobuf.Value", wire_tag(2, 1) + struct.pack("<d", math.inf), "", id="value-Infinity"),
    pytest.param("google.protobuf.ListValue", wire_ld(1, wire_tag(2, 1) + struct.pack("<d", -math.inf)), "", id="listvalue-minus-Infinity"),
])
def test_binary_values_without_a_json_form(codec, type_name, data, path):
    """What the official runtime refuses to print (MessageToJson raises) is INVALID_ARGUMENT."""
    with pytest.raises(Exception):
        json_format.MessageToJson(cls_of(type_name).FromString(data))
    code, text, error = codec.to_json(type_name, data)
    assert code == capi.INVALID_ARGUMENT, f"{data.hex()} printed as {text}"
    assert path in error, error


def test_binary_unknown_fields_are_skipped(codec):
    unknown = (wire_tag(9000, 0) + wire_varint(2 ** 63) + wire_tag(9001, 1) + b"12345678" + wire_ld(9002, b"xyz")
               + wire_tag(9003, 5) + b"1234" + wire_tag(9004, 3) + wire_tag(1, 0) + b"\x01" + wire_tag(9004, 4))
    data = wire_ld(1, b"id") + unknown + wire_tag(3, 5) + struct.pack("<f", 0.5)
    code, text, error = codec.to_json("clarifai.api.Concept", data)
    assert code == 0, error
    assert json.loads(text) == {"id": "id", "value": 0.5}


@pytest.mark.parametrize("data, words", [
    pytest.param(wire_ld(1, b"abc")[:-1], (), id="length past the end"),
    pytest.param(wire_tag(3, 5) + b"\x00\x00", (), id="fixed32 cut short"),
    pytest.param(wire_tag(1, 0) + b"\xff", (), id="varint cut short (wrong type too)"),
    pytest.param(wire_tag(1, 0) + b"\xff" * 11, (), id="varint longer than 10 bytes"),
    pytest.param(wire_tag(1, 6) + b"\x00", (), id="wire type 6 does not exist"),
    pytest.param(wire_tag(0, 0) + b"\x00", (), id="field number 0"),
    pytest.param(b"\x0a", (), id="a tag alone"),
    pytest.param(wire_ld(1, b"\xff\xfe"), ("utf-8",), id="a string that is not UTF-8"),
    pytest.param(wire_ld(1, b"\xed\xa0\x80"), ("utf-8",), id="a surrogate in UTF-8 form"),
    pytest.param(wire_tag(9004, 3) + wire_tag(1, 0) + b"\x01", (), id="an unknown group without its end"),
])
def test_binary_malformed(codec, data, words):
    code, text, error = codec.to_json("clarifai.api.Concept", data)
    assert code == capi.INVALID_ARGUMENT, f"{data.hex()} accepted: {text}"
    for word in words:
        assert word in error.lower(), error


def test_binary_errors_name_the_field(codec):
    request = service_pb2.PostModelOutputsRequest()
    request.inputs.add(id="a")
    request.inputs.add(id="b").data.concepts.add(id="c", name="n")
    good = request.SerializeToString()
    bad = good.replace(wire_ld(2, b"n"), wire_ld(2, b"\xff"))
    assert bad != good
    code, _, error = codec.to_json("clarifai.api.PostModelOutputsRequest", bad)
    assert code == capi.INVALID_ARGUMENT and "inputs[1].data.concepts[0].name: " in error, error
    code, _, error = codec.to_json("clarifai.api.PostModelOutputsRequest", good[:-1])
    assert code == capi.INVALID_ARGUMENT and "inputs" in error, error


def test_truncations_of_a_real_message_never_crash(codec):
    seed, msg = samples("clarifai.api.PostModelOutputsRequest")[0]
    data = msg.SerializeToString()
    cls = cls_of("clarifai.api.PostModelOutputsRequest")
    for end in range(len(data)):
        try:
            cls.FromString(data[:end])
            official_ok = True
        except Exception:  # noqa: BLE001
            official_ok = False
        code, _, error = codec.to_json("clarifai.api.PostModelOutputsRequest", data[:end])
        if official_ok:
            assert code == 0, (end, error)
        else:
            assert code == capi.INVALID_ARGUMENT, (end, data[:end].hex())


# ------------------------------------------------------------------------------------ errors
ERROR_CASES = [
    # (type, JSON, path, words in the message)
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{}, {"data": {"image": {"base64": "***"}}}]}',
     "inputs[1].data.image.base64", ["base64"]),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{}, {"data": {"image": {"base64": "YWJj!"}}}]}',
     "inputs[1].data.image.base64", ["base64"]),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{}, {"data": {"image": {"base64": "Y"}}}]}',
     "inputs[1].data.image.base64", ["base64"]),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"image": {"image_info": {"width": "abc"}}}}]}',
     "inputs[0].data.image.image_info.width", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"image": {"image_info": {"width": 2147483648}}}}]}',
     "inputs[0].data.image.image_info.width", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"image": {"image_info": {"width": "-2147483649"}}}}]}',
     "inputs[0].data.image.image_info.width", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"image": {"image_info": {"width": 1.5}}}}]}',
     "inputs[0].data.image.image_info.width", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"image": {"image_info": {"width": true}}}}]}',
     "inputs[0].data.image.image_info.width", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"id": {}}]}', "inputs[0].id", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"id": 5}]}', "inputs[0].id", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": {}}', "inputs", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [null]}', "inputs[0]", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": ["x"]}', "inputs[0]", []),
    ("clarifai.api.PostModelOutputsRequest", '{"model": {"output_info": {"output_config": {"max_concepts": -1}}}}',
     "model.output_info.output_config.max_concepts", []),
    ("clarifai.api.PostModelOutputsRequest", '{"model": {"output_info": {"output_config": {"max_concepts": 4294967296}}}}',
     "model.output_info.output_config.max_concepts", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"frames": [{"frame_info": {"time": "-1"}}]}}]}',
     "inputs[0].data.frames[0].frame_info.time", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"frames": [{"frame_info": {"time": 18446744073709551616}}]}}]}',
     "inputs[0].data.frames[0].frame_info.time", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"int_value": "9223372036854775808"}}]}',
     "inputs[0].data.int_value", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"concepts": [{"value": "nan"}]}}]}',
     "inputs[0].data.concepts[0].value", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"concepts": [{"value": 1e39}]}}]}',
     "inputs[0].data.concepts[0].value", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"float_value": 1e309}}]}',
     "inputs[0].data.float_value", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"status": {"code": "NOT_A_CODE"}}]}',
     "inputs[0].status.code", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"created_at": "2024-13-01T00:00:00Z"}]}',
     "inputs[0].created_at", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"created_at": "2024-02-30T00:00:00Z"}]}',
     "inputs[0].created_at", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"created_at": "yesterday"}]}',
     "inputs[0].created_at", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"created_at": "2024-01-01T00:00:00"}]}',
     "inputs[0].created_at", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"created_at": "2024-01-01T00:00:00.1234567891Z"}]}',
     "inputs[0].created_at", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"created_at": "10000-01-01T00:00:00Z"}]}',
     "inputs[0].created_at", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"created_at": 0}]}', "inputs[0].created_at", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"metadata": []}}]}', "inputs[0].data.metadata", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"metadata": {"x": NaN}}}]}', "", []),
    ("clarifai.api.PostModelOutputsRequest", '{"model": {"featured_order": "x"}}', "model.featured_order", []),
    ("clarifai.api.PostModelOutputsRequest", '{"model": {"featured_order": {"value": 1}}}', "model.featured_order", []),
    ("clarifai.api.PostModelOutputsRequest", '{"inputs": [{"data": {"image": {"hosted_image_info": {"k": 1}}}}]}',
     "", ["inputs[0].data.image.hosted_image_info"]),
    ("google.protobuf.Duration", '"1.5"', "", []),
    ("google.protobuf.Duration", '"315576000001s"', "", []),
    ("google.protobuf.Duration", '"1.0000000001s"', "", []),
    ("google.protobuf.Timestamp", '"0000-12-31T23:59:59Z"', "", []),
    ("google.protobuf.Struct", '[]', "", []),
    ("google.protobuf.UInt64Value", '"-1"', "", []),
    ("clarifai.api.Concept", '[]', "", []),
    ("clarifai.api.Concept", 'null', "", []),
    ("clarifai.api.Concept", '"x"', "", []),
]


@pytest.mark.parametrize("type_name, text, path, words", ERROR_CASES,
                         ids=[f"{i}-{case[2] or case[0]}" for i, case in enumerate(ERROR_CASES)])
def test_json_errors_name_the_field(codec, type_name, text, path, words):
    assert_error(codec, type_name, text, path, *words)


def test_unknown_field_is_named(codec):
    error = assert_error(codec, "clarifai.api.PostModelOutputsRequest",
                         '{"inputs": [{}, {"data": {"image": {"bogus": 1}}}]}', "")
    assert re.search(r"inputs\[1\]\.data\.image(\.bogus)?: ", error) and "bogus" in error, error
    error = assert_error(codec, "clarifai.api.PostModelOutputsRequest", '{"userAppID": {}}', "")
    assert "userAppID" in error, error


@pytest.mark.parametrize("text", [
    "", " ", "{", '{"inputs": [}', '{"inputs": [{}]', '{"id": "a"} x', '{"id": "a",}', "{'id': 'a'}",
    '{"id": "a\\x"}', '{"id": "\\ud83d"}', '{"id": "\\ude00x"}', '{"id": "a\nb"}', '{"id": "\x01"}',
    '{id: "a"}', '{"value": 01}', '{"value": .5}', '{"value": 1.}', '{"value": +1}', '{"value": 0x10}',
    '{"value": NaN}', '{"value": Infinity}', '{"value": -}', '{"app_id": tru}', '{"app_id": nul}',
])
def test_bad_json(codec, text):
    code, data, error = codec.to_proto("clarifai.api.Concept", text)
    assert code == capi.INVALID_ARGUMENT, f"{text!r} accepted: {data!r}"
    assert error, "no message in clarifai_last_error()"


def test_invalid_utf8_json(codec):
    for raw in (b'{"id": "\xff"}', b'{"id": "\xc0\xaf"}', b'{"id": "\xed\xa0\x80"}', b'{"id": "\xe2\x82"}'):
        code, data, error = codec.to_proto("clarifai.api.Concept", raw)
        assert code == capi.INVALID_ARGUMENT, f"{raw!r} accepted"


def test_unknown_message_type(codec):
    for name in ("clarifai.api.Nope", "", "PostModelOutputsRequest", "clarifai.api.V2", "clarifai.api.status.StatusCode"):
        code, _, error = codec.to_proto(name, "{}")
        assert code == capi.INVALID_ARGUMENT and (name in error or not name), (name, error)
        code, _, error = codec.to_json(name, b"")
        assert code == capi.INVALID_ARGUMENT and (name in error or not name), (name, error)


def test_error_messages_are_replaced_and_success_keeps_going(codec):
    assert_error(codec, "clarifai.api.Concept", '{"value": "x"}', "value")
    first = codec.error()
    assert_error(codec, "clarifai.api.Input", '{"data": {"image": {"base64": "%%"}}}', "data.image.base64")
    assert codec.error() != first
    assert to_proto_ok(codec, "clarifai.api.Concept", '{"id": "x"}').id == "x"


def test_threads_convert_and_keep_their_own_errors(codec):
    import threading

    problems = []

    def work(k):
        for i in range(300):
            n = k * 100000 + i + 1
            code, data, error = codec.to_proto("clarifai.api.ImageInfo", '{"width": %d}' % n)
            if code != 0 or resources_pb2.ImageInfo.FromString(data).width != n:
                problems.append(("ok", n, error))
            code, _, error = codec.to_proto("clarifai.api.ImageInfo", '{"width": "bad%d"}' % n)
            if code != capi.INVALID_ARGUMENT or f"bad{n}" not in error:
                problems.append(("error", n, error))
            code, text, error = codec.to_json("clarifai.api.ImageInfo", wire_tag(1, 0) + wire_varint(n))
            if code != 0 or json.loads(text) != {"width": n}:
                problems.append(("json", n, error))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not problems, problems[:5]


def test_proto2_types_keep_presence_or_are_refused(codec):
    """descriptor.proto (proto2, explicit presence) is in the embedded descriptor set as a
    dependency. If the library converts its messages, a field set to its default is still set."""
    from google.protobuf import descriptor_pb2

    msg = descriptor_pb2.FieldDescriptorProto(name="", number=0, json_name="x")
    code, text, error = codec.to_json("google.protobuf.FieldDescriptorProto", msg.SerializeToString())
    if code != 0:
        return  # refused: fine
    assert same(msg, json_format.Parse(text, descriptor_pb2.FieldDescriptorProto())), text
    code, data, error = codec.to_proto("google.protobuf.FieldDescriptorProto", '{"name": "", "number": 0}')
    assert code == 0 and descriptor_pb2.FieldDescriptorProto.FromString(data).HasField("name"), (data, error)


# ------------------------------------------------------------------------------------ crash safety
def run_isolated(codec, body, timeout=60):
    """Runs `body` (Python with `lib` declared) in a child process: a crash fails one test only."""
    script = textwrap.dedent("""
        import ctypes
        lib = ctypes.CDLL({path!r})
        p, s, z = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
        lib.clarifai_json_to_proto.restype = lib.clarifai_proto_to_json.restype = ctypes.c_int
        lib.clarifai_last_error.restype = s
        lib.clarifai_json_to_proto.argtypes = [s, s, ctypes.POINTER(p), ctypes.POINTER(z)]
        lib.clarifai_proto_to_json.argtypes = [s, p, z, ctypes.POINTER(p)]
        lib.clarifai_free.argtypes = [p]
        lib.clarifai_free.restype = None
        out, size = p(), z()
    """).format(path=codec.lib._name) + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"child exited with {result.returncode}\n{result.stdout}\n{result.stderr[-3000:]}"
    return result.stdout


def test_null_arguments_are_invalid_argument_not_a_crash(codec):
    out = run_isolated(codec, """
        T, J = b"clarifai.api.Concept", b"{}"
        results = [
            lib.clarifai_json_to_proto(None, J, ctypes.byref(out), ctypes.byref(size)),
            lib.clarifai_json_to_proto(T, None, ctypes.byref(out), ctypes.byref(size)),
            lib.clarifai_json_to_proto(T, J, None, ctypes.byref(size)),
            lib.clarifai_json_to_proto(T, J, ctypes.byref(out), None),
            lib.clarifai_proto_to_json(None, None, 0, ctypes.byref(out)),
            lib.clarifai_proto_to_json(T, None, 5, ctypes.byref(out)),
            lib.clarifai_proto_to_json(T, None, 0, None),
        ]
        messages = [lib.clarifai_last_error()]
        lib.clarifai_free(None)
        ok = lib.clarifai_proto_to_json(T, None, 0, ctypes.byref(out))
        print(results, ok, ctypes.string_at(out.value).decode())
        lib.clarifai_free(out.value)
        print(messages)
    """)
    first = out.splitlines()[0]
    assert first.startswith("[1, 1, 1, 1, 1, 1, 1] 0 "), out
    assert "b''" not in out.splitlines()[1], "no message for a NULL argument"


def test_deep_nesting_does_not_crash(codec):
    out = run_isolated(codec, """
        def varint(n):
            out = bytearray()
            while n >= 0x80:
                out.append((n & 0x7F) | 0x80)
                n >>= 7
            out.append(n)
            return bytes(out)

        depth = 100000
        for text in (b'{"metadata": {"a": ' + b'[' * depth + b']' * depth + b'}}',
                     b'{"metadata": ' + b'{"a": ' * depth + b'1' + b'}' * depth + b'}',
                     b'[' * depth):
            code = lib.clarifai_json_to_proto(b"clarifai.api.Concept", text, ctypes.byref(out), ctypes.byref(size))
            if code == 0:
                lib.clarifai_free(out.value)
            print("json", code)
        # Deep in binary: Value{list_value: ListValue{values: Value{list_value: ...}}}, and a
        # chain of Data.parts[0].data.parts[0]... of ordinary messages; built inside out.
        for type_name, tags in ((b"google.protobuf.Value", (b"\\x32", b"\\x0a")),
                                (b"clarifai.api.Data", (b"\\x9a\\x01", b"\\x0a"))):
            prefixes, length = [], 0
            for level in range(depth):
                prefix = tags[level % 2] + varint(length)
                prefixes.append(prefix)
                length += len(prefix)
            data = b"".join(reversed(prefixes))
            code = lib.clarifai_proto_to_json(type_name, data, len(data), ctypes.byref(out))
            if code == 0:
                lib.clarifai_free(out.value)
            print("binary", code)
    """)
    assert out.count("json") == 3 and out.count("binary") == 2, out


def test_large_values_are_linear(codec):
    data = os.urandom(6 * 1024 * 1024)
    msg = service_pb2.PostModelOutputsRequest()
    msg.inputs.add().data.image.base64 = data
    for _ in range(20000):
        msg.inputs[0].data.embeddings.add().vector.append(0.1)
    started = time.monotonic()
    text = to_json_ok(codec, msg)
    parsed = to_proto_ok(codec, "clarifai.api.PostModelOutputsRequest", text)
    elapsed = time.monotonic() - started
    assert same(msg, parsed)
    assert elapsed < 5, f"8 MB of base64 and 20000 embeddings took {elapsed:.1f}s each way"
