"""A seeded generator of random, valid messages of the official Clarifai API classes.

Used by test_codec_conformance.py to compare libclarifai's protobuf <-> JSON codec with the official
protobuf runtime. Every message it builds serializes, prints with json_format.MessageToJson and
parses back to an equal message with the official runtime (validate() checks that).

    gen = MessageGen(random.Random("seed"))
    message = gen.message(service_pb2.PostModelOutputsRequest.DESCRIPTOR)

What it fills: scalars of every protobuf type with extremes (int64 min/max, uint64 max, 2**53+1,
negative int32, float and double NaN/Infinity/-Infinity/-0.0, denormals, maxima, random bit
patterns), strings with JSON escapes, control characters, quotes, backslashes, non-ASCII and
emoji, bytes of all values, enums (known values, aliases included), repeated fields (0..3
elements), maps (any key type), oneofs (one member, sometimes at its default value, which then
still has presence), nested messages to a depth limit (the API has recursive types) and the
well-known types: Timestamp (0001-01-01..9999-12-31, 0/3/6/9-digit nanos), Duration
(within +-315576000000 s), Struct/Value/ListValue (finite numbers: JSON has no NaN), wrappers.
A budget of fields keeps messages to a few KB.
"""
import math
import random
import struct

from google.protobuf import descriptor as _descriptor
from google.protobuf import json_format, message_factory

FD = _descriptor.FieldDescriptor

TIMESTAMP_MIN = -62135596800  # 0001-01-01T00:00:00Z
TIMESTAMP_MAX = 253402300799  # 9999-12-31T23:59:59Z
DURATION_MAX = 315576000000

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT32_MAX, UINT64_MAX = (1 << 32) - 1, (1 << 64) - 1

FLOAT_MAX = struct.unpack("<f", struct.pack("<I", 0x7F7FFFFF))[0]
# The official Python runtime prints FLT_MAX as 3.4028235e+38 (right: the shortest form) but its
# json_format.Parse rejects that text as "Float value too large" (it compares the double 3.4028235e38
# with FLT_MAX). Messages keep clear of +-FLT_MAX; the codec tests cover it on their own.
FLOAT_BELOW_MAX = struct.unpack("<f", struct.pack("<I", 0x7F7FFFFE))[0]
FLOAT_MIN_NORMAL = struct.unpack("<f", struct.pack("<I", 0x00800000))[0]
FLOAT_MIN_DENORMAL = struct.unpack("<f", struct.pack("<I", 0x00000001))[0]

WRAPPERS = {
    "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
}
STRUCT_TYPES = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
WELL_KNOWN = WRAPPERS | STRUCT_TYPES | {"google.protobuf.Timestamp", "google.protobuf.Duration"}

# Pieces random strings are made of: plain text, every JSON escape, control characters, quotes,
# backslashes, slashes, HTML-ish text, non-ASCII from 2-, 3- and 4-byte UTF-8, line/paragraph
# separators, BOM, noncharacters, emoji with modifiers and ZWJ.
STRING_PIECES = [
    "a", "clarifai", "hello world", "id-123", "0", "-1", "1e5", "true", "null", "NaN", " ", "  ",
    '"', "\\", "/", "\\\"", "\b", "\f", "\n", "\r", "\t", "\x00", "\x01", "\x07", "\x0b", "\x1b",
    "\x1f", "\x7f", "\x80", "\x9f", "\xa0", "\xff", "é", "ü", "ß", "Ω", "Ж", "中文", "日本語", "한국어",
    "עברית", "العربية", "\u0301", "\u2028", "\u2029", "\ufeff", "\ufffd", "\uffff", "\U0010ffff",
    "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "𝄞", "</script>", "<b>&amp;</b>", "{}", "[]", "{\"a\":1}", "%s",
    "${x}", "\\u0000", "\\ud83d", "'",
]

SPECIAL_DOUBLES = [
    math.nan, math.inf, -math.inf, -0.0, 0.1, 0.2, 0.3, 1.0, -1.0, 0.5, 1e-7, 1e21, 1e22,
    123456789.125, 2.0 ** 53, 2.0 ** 53 + 2, 9007199254740993.0, 1.7976931348623157e308,
    -1.7976931348623157e308, 2.2250738585072014e-308, 5e-324, -5e-324, 1e-300, 1e300,
    4.35, 0.30000000000000004, 100.0, 1e16, 1e15 + 0.3,
]
SPECIAL_FLOATS = [
    math.nan, math.inf, -math.inf, -0.0, 0.1, 0.2, 0.3, 1.0, -1.0, 0.5, 1e-7, 1e10, 16777216.0,
    16777217.0, 3.14159, FLOAT_BELOW_MAX, -FLOAT_BELOW_MAX, FLOAT_MIN_NORMAL, FLOAT_MIN_DENORMAL,
    -FLOAT_MIN_DENORMAL, 1e-40, 1e38, 0.95, 0.999, 4.35, 100.0, 1e-3,
]


def message_class(descriptor):
    """The official Python class of a message descriptor."""
    return message_factory.GetMessageClass(descriptor)


FLOAT_OVERFLOW = 3.4028235677973366e38  # FLT_MAX + half an ulp: from here on a float rounds to infinity


def to_float32(value):
    """The float (32-bit) nearest to `value`, as C's (float)value rounds it."""
    if math.isfinite(value) and abs(value) > FLOAT_MAX:
        return math.copysign(math.inf if abs(value) >= FLOAT_OVERFLOW else FLOAT_MAX, value)
    return struct.unpack("<f", struct.pack("<f", value))[0]


class MessageGen:
    """Random valid messages; all randomness comes from `rng` (a random.Random)."""

    def __init__(self, rng, max_depth=5, budget=80, allow_nonfinite=True):
        self.rng = rng
        self.max_depth = max_depth
        self.initial_budget = budget
        self.budget = budget
        self.allow_nonfinite = allow_nonfinite

    # ------------------------------------------------------------------ messages
    def message(self, descriptor):
        """A new random message of the type of `descriptor` (a Descriptor or a message class)."""
        if not isinstance(descriptor, _descriptor.Descriptor):
            descriptor = descriptor.DESCRIPTOR
        self.budget = self.initial_budget
        msg = message_class(descriptor)()
        self.fill(msg, 0)
        return msg

    def fill(self, msg, depth):
        descriptor = msg.DESCRIPTOR
        name = descriptor.full_name
        if name in WELL_KNOWN:
            self.fill_well_known(msg, depth)
            return
        rng = self.rng
        fields = list(descriptor.fields)
        if not fields:
            return
        # Denser near the top, sparser deeper down; the budget caps the total.
        density = rng.choice([0.3, 0.6, 0.8, 1.0]) / (1 + depth * 0.4)
        chosen_oneofs = {}
        for oneof in descriptor.oneofs:
            # Synthetic oneofs of proto3 `optional` fields act like plain optional fields.
            if rng.random() < 0.7:
                chosen_oneofs[oneof.name] = rng.choice(oneof.fields).name
        for field in fields:
            if self.budget <= 0:
                break
            oneof = field.containing_oneof
            if oneof is not None:
                if chosen_oneofs.get(oneof.name) != field.name:
                    continue
            elif rng.random() >= density:
                continue
            self.budget -= 1
            self.fill_field(msg, field, depth, in_oneof=oneof is not None)

    def fill_field(self, msg, field, depth, in_oneof=False):
        rng = self.rng
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = field.message_type.fields
            target = getattr(msg, field.name)
            for _ in range(rng.randint(0, 3)):
                key = self.scalar(key_field)
                if value_field.message_type is not None:
                    if depth + 1 >= self.max_depth and value_field.message_type.full_name not in WELL_KNOWN:
                        target[key]  # an empty message value
                        continue
                    self.fill(target[key], depth + 1)
                else:
                    target[key] = self.scalar(value_field)
            return
        if field.is_repeated:
            target = getattr(msg, field.name)
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                if field.message_type is not None:
                    element = target.add()
                    if depth + 1 < self.max_depth or field.message_type.full_name in WELL_KNOWN:
                        self.fill(element, depth + 1)
                else:
                    target.append(self.scalar(field))
            return
        if field.message_type is not None:
            sub = getattr(msg, field.name)
            sub.SetInParent()  # present even when it stays empty
            if depth + 1 < self.max_depth or field.message_type.full_name in WELL_KNOWN:
                self.fill(sub, depth + 1)
            return
        value = self.scalar(field)
        if in_oneof and rng.random() < 0.2:
            value = field.default_value  # a oneof member at its default still has presence
        setattr(msg, field.name, value)

    # ------------------------------------------------------------------ scalars
    def scalar(self, field):
        t = field.type
        if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
            return self.integer(INT32_MIN, INT32_MAX)
        if t in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
            return self.integer(INT64_MIN, INT64_MAX)
        if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
            return self.integer(0, UINT32_MAX)
        if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
            return self.integer(0, UINT64_MAX)
        if t == FD.TYPE_BOOL:
            return self.rng.random() < 0.7
        if t == FD.TYPE_STRING:
            return self.string()
        if t == FD.TYPE_BYTES:
            return self.bytes_()
        if t == FD.TYPE_ENUM:
            return self.rng.choice(field.enum_type.values).number
        if t == FD.TYPE_DOUBLE:
            return self.double()
        if t == FD.TYPE_FLOAT:
            return self.float32()
        raise TypeError(f"no generator for field type {t} ({field.full_name})")

    def integer(self, low, high):
        rng = self.rng
        r = rng.random()
        if r < 0.15:
            return rng.choice([low, high])
        if r < 0.35:
            candidates = [low, high, 0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 53, 2 ** 53 + 1,
                          -(2 ** 53) - 1, 2 ** 63 - 1, 2 ** 63, 10 ** 15, 1000]
            return rng.choice([c for c in candidates if low <= c <= high])
        if r < 0.7:
            return rng.randint(max(low, -1000), min(high, 1000))
        if r < 0.85:
            return rng.randint(max(low, -(2 ** 31)), min(high, 2 ** 32))
        return rng.randint(low, high)

    def double(self, finite=False):
        rng = self.rng
        r = rng.random()
        if r < 0.15 and self.allow_nonfinite and not finite:
            return rng.choice([math.nan, math.inf, -math.inf, -0.0])
        if r < 0.4:
            values = SPECIAL_DOUBLES if self.allow_nonfinite and not finite else [
                v for v in SPECIAL_DOUBLES if math.isfinite(v)]
            return rng.choice(values)
        if r < 0.6:
            return round(rng.uniform(-1000, 1000), rng.randint(0, 6))
        while True:  # any bit pattern but NaNs (JSON can carry only the one NaN)
            value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(value) or (math.isinf(value) and self.allow_nonfinite and not finite):
                return value

    def float32(self):
        rng = self.rng
        r = rng.random()
        if r < 0.15 and self.allow_nonfinite:
            return rng.choice([math.nan, math.inf, -math.inf, -0.0])
        if r < 0.4:
            values = SPECIAL_FLOATS if self.allow_nonfinite else [v for v in SPECIAL_FLOATS if math.isfinite(v)]
            return to_float32(rng.choice(values))
        if r < 0.6:
            return to_float32(rng.random())  # scores, probabilities, box coordinates
        while True:
            value = struct.unpack("<f", rng.getrandbits(32).to_bytes(4, "little"))[0]
            if abs(value) == FLOAT_MAX:
                continue
            if math.isfinite(value) or (math.isinf(value) and self.allow_nonfinite):
                return value

    def string(self):
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return rng.choice(["", "a", "abc", "my-app", "general-image-recognition", "user_1"])
        if r < 0.4:
            return "".join(chr(rng.randint(0x20, 0x7E)) for _ in range(rng.randint(1, 20)))
        if r < 0.5:  # random code points, surrogates excluded (not UTF-8)
            out = []
            for _ in range(rng.randint(1, 8)):
                cp = rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x7FF), rng.randint(0x800, 0xFFFF),
                                 rng.randint(0x10000, 0x10FFFF)])
                if 0xD800 <= cp <= 0xDFFF:
                    cp = 0xFFFD
                out.append(chr(cp))
            return "".join(out)
        return "".join(rng.choice(STRING_PIECES) for _ in range(rng.randint(1, 6)))

    def bytes_(self):
        rng = self.rng
        r = rng.random()
        if r < 0.1:
            return bytes(range(256))
        if r < 0.2:
            return b""
        if r < 0.3:
            return rng.choice([b"\x00", b"\xff", b"\xfb\xff", b"\xfb\xef\xbe", b"?>", b"a", b"ab", b"abc"])
        return rng.getrandbits(8 * 40).to_bytes(40, "little")[: rng.randint(1, 40)]

    # ------------------------------------------------------------------ well-known types
    def fill_well_known(self, msg, depth):
        name = msg.DESCRIPTOR.full_name
        rng = self.rng
        if name == "google.protobuf.Timestamp":
            r = rng.random()
            if r < 0.1:
                msg.seconds = rng.choice([TIMESTAMP_MIN, TIMESTAMP_MAX, 0, -1, 951782400, 1700000000])
            elif r < 0.5:
                msg.seconds = rng.randint(0, 2_000_000_000)
            else:
                msg.seconds = rng.randint(TIMESTAMP_MIN, TIMESTAMP_MAX)
            msg.nanos = self.nanos()
        elif name == "google.protobuf.Duration":
            r = rng.random()
            if r < 0.1:
                seconds = rng.choice([DURATION_MAX, -DURATION_MAX, 0, 1, -1])
            elif r < 0.5:
                seconds = rng.randint(-100, 100)
            else:
                seconds = rng.randint(-DURATION_MAX, DURATION_MAX)
            nanos = self.nanos()
            if seconds < 0 or (seconds == 0 and rng.random() < 0.5):
                nanos = -nanos  # seconds and nanos share their sign
            msg.seconds, msg.nanos = seconds, nanos
        elif name == "google.protobuf.Struct":
            self.fill_struct(msg, depth)
        elif name == "google.protobuf.ListValue":
            self.fill_list(msg, depth)
        elif name == "google.protobuf.Value":
            self.fill_value(msg, depth)
        elif name in WRAPPERS:
            field = msg.DESCRIPTOR.fields_by_name["value"]
            if rng.random() < 0.15:
                return  # the wrapped default: still present, printed as 0 / "" / false
            msg.value = self.scalar(field)
        else:
            raise TypeError(name)

    def nanos(self):
        rng = self.rng
        digits = rng.choice([0, 3, 6, 9])
        if digits == 0:
            return 0
        unit = 10 ** (9 - digits)
        return rng.randint(1, 10 ** digits - 1) * unit

    def fill_struct(self, msg, depth):
        for _ in range(self.rng.randint(0, 3)):
            self.budget -= 1
            key = self.string() if self.rng.random() < 0.5 else self.rng.choice(["a", "b", "score", "x y", ""])
            self.fill_value(msg.fields[key], depth + 1)

    def fill_list(self, msg, depth):
        for _ in range(self.rng.randint(0, 3)):
            self.budget -= 1
            self.fill_value(msg.values.add(), depth + 1)

    def fill_value(self, msg, depth):
        rng = self.rng
        kinds = ["null", "number", "string", "bool"]
        if depth < self.max_depth + 2 and self.budget > 0:
            kinds += ["struct", "list"]
        kind = rng.choice(kinds)
        if kind == "null":
            msg.null_value = 0
        elif kind == "number":
            msg.number_value = self.double(finite=True)
        elif kind == "string":
            msg.string_value = self.string()
        elif kind == "bool":
            msg.bool_value = rng.random() < 0.5
        elif kind == "struct":
            msg.struct_value.SetInParent()
            self.fill_struct(msg.struct_value, depth + 1)
        else:
            msg.list_value.SetInParent()
            self.fill_list(msg.list_value, depth + 1)


# ---------------------------------------------------------------------- type lists
def service_types(service_name="V2"):
    """Full names of the request and response types of every method of clarifai.api.V2,
    deduplicated, in the order of the service definition."""
    from clarifai_grpc.grpc.api import service_pb2

    service = service_pb2.DESCRIPTOR.services_by_name[service_name]
    names = []
    for method in service.methods:
        for descriptor in (method.input_type, method.output_type):
            if descriptor.full_name not in names:
                names.append(descriptor.full_name)
    return names


def descriptor_for(full_name):
    from clarifai_grpc.grpc.api import service_pb2

    return service_pb2.DESCRIPTOR.pool.FindMessageTypeByName(full_name)


def validate(msg):
    """Checks that the official runtime round-trips `msg` through bytes and through JSON (both
    printing styles); raises AssertionError otherwise."""
    cls = type(msg)
    data = msg.SerializeToString()
    assert cls.FromString(data) == msg, "binary round trip"
    for kwargs in ({}, {"preserving_proto_field_name": True, "use_integers_for_enums": True}):
        text = json_format.MessageToJson(msg, **kwargs)
        back = json_format.Parse(text, cls())
        assert back == msg, f"JSON round trip {kwargs}"
    return len(data)


if __name__ == "__main__":  # python messagegen.py [count]: validates the generator alone
    import sys
    import time

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    names = service_types()
    names += sorted(WELL_KNOWN)
    started = time.time()
    sizes = []
    for i in range(count):
        name = names[i % len(names)]
        rng = random.Random(f"validate:{name}:{i}")
        msg = MessageGen(rng).message(descriptor_for(name))
        sizes.append(validate(msg))
    sizes.sort()
    print(f"{count} messages of {len(names)} types valid in {time.time() - started:.1f}s; "
          f"bytes median {sizes[len(sizes) // 2]}, p99 {sizes[int(len(sizes) * 0.99)]}, max {sizes[-1]}")
