import Glibc
import Testing
@testable import ClarifaiCore

@Suite struct ScalarTextTests {
    private func timestamp(seconds: Int64, nanos: Int32) -> String? {
        var output: [UInt8] = []
        return ScalarText.appendTimestamp(seconds: seconds, nanos: nanos, to: &output) ? String(decoding: output, as: UTF8.self) : nil
    }

    private func duration(seconds: Int64, nanos: Int32) -> String? {
        var output: [UInt8] = []
        return ScalarText.appendDuration(seconds: seconds, nanos: nanos, to: &output) ? String(decoding: output, as: UTF8.self) : nil
    }

    @Test func formatsAndParsesTimestamps() throws {
        #expect(timestamp(seconds: 0, nanos: 0) == "1970-01-01T00:00:00Z")
        #expect(timestamp(seconds: 63_108_020, nanos: 21_000_000) == "1972-01-01T10:00:20.021Z")
        #expect(timestamp(seconds: -62_135_596_800, nanos: 1000) == "0001-01-01T00:00:00.000001Z")
        #expect(timestamp(seconds: 253_402_300_799, nanos: 999_999_999) == "9999-12-31T23:59:59.999999999Z")
        #expect(timestamp(seconds: 253_402_300_800, nanos: 0) == nil)
        let parsed = try #require(ScalarText.timestamp(Array("1972-01-01T11:00:20.021+01:00".utf8)))
        #expect(parsed.seconds == 63_108_020 && parsed.nanos == 21_000_000)
        #expect(ScalarText.timestamp(Array("2024-02-30T00:00:00Z".utf8)) == nil)
        #expect(ScalarText.timestamp(Array("2024-01-01 00:00:00Z".utf8)) == nil)
        #expect(ScalarText.timestamp(Array("2024-01-01T00:00:00.1234567890Z".utf8)) == nil)
    }

    @Test func formatsAndParsesDurations() throws {
        #expect(duration(seconds: 1, nanos: 500_000_000) == "1.500s")
        #expect(duration(seconds: 0, nanos: -1000) == "-0.000001s")
        #expect(duration(seconds: 3, nanos: 0) == "3s")
        #expect(duration(seconds: 1, nanos: -1) == nil)
        let parsed = try #require(ScalarText.duration("-1.5s"))
        #expect(parsed.seconds == -1 && parsed.nanos == -500_000_000)
        #expect(ScalarText.duration("1.5") == nil && ScalarText.duration("s") == nil && ScalarText.duration("315576000001s") == nil)
    }

    /// The fast path (digits below 2^53, powers of ten up to 22) must give what a full,
    /// correctly rounding parser gives; the rest falls through to it.
    /// Short and long strings with a non-ASCII byte anywhere, valid UTF-8 or not: the verdict of
    /// the standard library's validation.
    @Test func checksUTF8AsTheStandardLibraryDoes() {
        var generator = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [[0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0x80], [0xC3], [0xED, 0xA0, 0x80], [0xFF]]
        for _ in 0..<20_000 {
            var bytes = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0x20...0x7E, using: &generator) }
            if Bool.random(using: &generator) {
                bytes.insert(contentsOf: pieces.randomElement(using: &generator)!, at: Int.random(in: 0...bytes.count, using: &generator))
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBytes { ProtoToJSON.isValidUTF8($0) } == expected, "\(bytes)")
        }
    }

    @Test func readsNumbersAsTheFullParserDoes() {
        var generator = SystemRandomNumberGenerator()
        var samples = ["0", "-0", "1e22", "1e23", "123456789012345", "1234567890123456789", "0.1", "0.30000000000000004",
                       "9007199254740993", "4.9e-324", "1.7976931348623157e308", "2.5E-3", "1E+2", "0.0000000000000000000001"]
        for _ in 0..<20_000 {
            let digits = String(UInt64.random(in: 0...999_999_999_999_999, using: &generator))
            let point = Int.random(in: 0...digits.count, using: &generator)
            let exponent = Bool.random(using: &generator) ? "e\(Int.random(in: -30...30, using: &generator))" : ""
            let sign = Bool.random(using: &generator) ? "-" : ""
            let fraction = point < digits.count ? "." + digits.dropFirst(point) : ""
            samples.append(sign + (point == 0 ? "0" : String(digits.prefix(point))) + fraction + exponent)
        }
        for text in samples {
            let fast = Array(text.utf8).withUnsafeBytes { ScalarText.double($0) }
            #expect(fast?.bitPattern == Double(text)!.bitPattern, "\(text)")
        }
    }

    @Test func writesFloatsAsFloatDescriptionDoes() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Float] = [0, -0, 1, -1, 0.1, 1e-45, -1e-45, .leastNormalMagnitude, .greatestFiniteMagnitude,
                                -.greatestFiniteMagnitude, 1.2682019e-11, -1.26820195e-11, 16_777_216, 1e7, 123_456_790, 0.99142045]
        for _ in 0..<100_000 {
            let value = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator))
            if value.isFinite { samples.append(value) }
            samples.append(Float.random(in: 0...1, using: &generator))
        }
        var written: [UInt8] = []
        for value in samples {
            written.removeAll(keepingCapacity: true)
            ScalarText.append(value, to: &written)
            #expect(String(decoding: written, as: UTF8.self) == value.description, "\(value.bitPattern)")
        }
    }

    /// Nested lengths come out in their shortest form whatever room was reserved for them: none
    /// (widened afterwards), the payload's own, or more than it turned out to need.
    @Test func writesNestedLengthsInTheirShortestForm() {
        func varint(_ value: Int) -> [UInt8] {
            var value = UInt64(value), bytes: [UInt8] = []
            while value >= 0x80 { bytes.append(UInt8(value & 0x7F) | 0x80); value >>= 7 }
            return bytes + [UInt8(value)]
        }
        for length in [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let payload = [UInt8](repeating: 0xAB, count: length)
            let inner = [0x0A] + varint(length) + payload
            let expected = [0x12] + varint(inner.count) + inner
            for hint in [0, length, length + 10, length + 5_000_000, length / 2] {
                var writer = WireWriter(capacity: 16)
                let outer = writer.beginLengthDelimited(2, payloadAtLeast: hint)
                let mark = writer.beginLengthDelimited(1, payloadAtLeast: hint)
                payload.withUnsafeBytes { writer.append($0) }
                writer.endLengthDelimited(mark)
                writer.endLengthDelimited(outer)
                #expect(writer.bytes == expected, "length \(length), room for \(hint)")
            }
        }
    }

    /// Six bytes at a time, then three, then the padded end: as a character-at-a-time encoder
    /// writes it, for every length up to 100 and a megabyte, and read back by the decoder.
    @Test func encodesBase64AsTheBitByBitEncoder() {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        func reference(_ bytes: [UInt8]) -> [UInt8] {
            var text: [UInt8] = []
            for start in stride(from: 0, to: bytes.count, by: 3) {
                let group = bytes[start..<min(start + 3, bytes.count)]
                let bits = group.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
                for index in 0..<4 { text.append(index <= group.count ? alphabet[bits >> (18 - 6 * index) & 63] : UInt8(ascii: "=")) }
            }
            return text
        }
        var generator = SystemRandomNumberGenerator()
        for length in Array(0...100) + [1 << 20] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var text: [UInt8] = []
            bytes.withUnsafeBytes { ScalarText.appendBase64($0, to: &text) }
            #expect(text == reference(bytes), "length \(length)")
            var writer = WireWriter()
            #expect(text.withUnsafeBytes { writer.appendBase64Decoded($0) } && writer.bytes == bytes, "length \(length)")
        }
    }

    @Test func decodesEveryBase64Form() {
        func decode(_ text: String) -> [UInt8]? {
            var writer = WireWriter()
            let ok = Array(text.utf8).withUnsafeBytes { writer.appendBase64Decoded($0) }
            return ok ? writer.bytes : nil
        }
        #expect(decode("+/8=") == [0xFB, 0xFF])
        #expect(decode("-_8") == [0xFB, 0xFF])
        #expect(decode("YWJj") == Array("abc".utf8))
        #expect(decode("") == [])
        #expect(decode("YWJ") == Array("ab".utf8))
        #expect(decode("Y") == nil && decode("YW=j") == nil && decode("YW J") == nil && decode("YWJj=") == nil)
    }

    @Test func parsesIntegersExactly() {
        func integer(_ text: String) -> (Bool, UInt64)? {
            Array(text.utf8).withUnsafeBytes { ScalarText.integer($0) }.map { ($0.negative, $0.magnitude) }
        }
        #expect(integer("18446744073709551615")! == (false, UInt64.max))
        #expect(integer("18446744073709551616") == nil)
        #expect(integer("-9223372036854775808")! == (true, 9_223_372_036_854_775_808))
        #expect(integer("1.0") == nil && integer("") == nil && integer("-") == nil)
    }
}

@Suite struct CodecTests {
    func roundTrip(_ type: String, _ json: String) throws -> String {
        let binary = try Array(json.utf8).withUnsafeBytes { try Codec.jsonToProto(typeName: type, json: $0) }
        let back = try binary.withUnsafeBytes { try Codec.protoToJSON(typeName: type, bytes: $0) }
        defer { free(back) }
        return String(cString: back)
    }

    @Test func writesTheRESTForm() throws {
        let json = try roundTrip("clarifai.api.PostModelOutputsRequest",
                                 #"{"modelId":"m","inputs":[{"data":{"concepts":[{"id":"c","value":0.1}]},"status":{"code":"SUCCESS"}}]}"#)
        #expect(json == #"{"model_id":"m","inputs":[{"data":{"concepts":[{"id":"c","value":0.1}]},"status":{"code":10000}}]}"#)
    }

    /// Keys as writers lay them out (spaced, indented, out of order, escaped, lowerCamel) read
    /// the same message; a key met twice, however written, or a near miss of a name is refused.
    @Test func readsKeysHoweverTheyAreWritten() throws {
        let type = "clarifai.api.Concept"
        let expected = #"{"id":"c","name":"cat","value":0.5,"app_id":"main"}"#
        for json in [#"{"id":"c","name":"cat","value":0.5,"app_id":"main"}"#,
                     #"{ "id" : "c" , "name":"cat",  "value":0.5, "app_id":"main" }"#,
                     "{\n  \"id\": \"c\",\n  \"name\": \"cat\",\n  \"value\": 0.5,\n  \"app_id\": \"main\"\n}",
                     #"{"app_id":"main","value":0.5,"name":"cat","id":"c"}"#,
                     #"{"i\u0064":"c","name":"cat","value":0.5,"appId":"main"}"#,
                     #"{"id":"c","name":"cat","value":0.5,"appId":"main"}"#] {
            #expect(try roundTrip(type, json) == expected, "\(json)")
        }
        for json in [#"{"id":"c","i\u0064":"d"}"#, #"{"app_id":"a","appId":"b"}"#, #"{"id":"c","id":"d"}"#, #"{"idx":"c"}"#, #"{"i":"c"}"#] {
            #expect(throws: ClarifaiError.self, "\(json)") { try roundTrip(type, json) }
        }
    }

    @Test func printsShowIfEmptyFieldsAndInt64AsStrings() throws {
        #expect(try roundTrip("clarifai.api.MultiConceptResponse", "{}") == #"{"concepts":[]}"#)
        // int64 (AppResourceCounts) and uint64 (HitCount) are strings, read from numbers or strings;
        // 32-bit integers (Pagination.page, uint32) stay numbers.
        #expect(try roundTrip("clarifai.api.AppResourceCounts", #"{"datasets":-9223372036854775808,"models":"7"}"#)
            == #"{"datasets":"-9223372036854775808","models":"7"}"#)
        #expect(try roundTrip("clarifai.api.HitCount", #"{"estimated_total":18446744073709551615}"#)
            == #"{"estimated_total":"18446744073709551615"}"#)
        #expect(try roundTrip("clarifai.api.Pagination", #"{"page":1}"#) == #"{"page":1}"#)
    }

    @Test func keepsUInt64BeyondInt64() throws {
        let json = try roundTrip("google.protobuf.UInt64Value", "18446744073709551615")
        #expect(json == #""18446744073709551615""#)
    }

    @Test func namesTheFieldPathInErrors() throws {
        #expect {
            try roundTrip("clarifai.api.PostModelOutputsRequest", #"{"inputs":[{},{"data":{"image":{"base64":"%"}}}]}"#)
        } throws: { error in
            (error as? ClarifaiError)?.message ==
                "clarifai.api.PostModelOutputsRequest: inputs[1].data.image.base64: invalid base64"
        }
    }

    @Test func rejectsDeepNesting() throws {
        let deep = String(repeating: #"{"struct_value":"#, count: 200) + "null" + String(repeating: "}", count: 200)
        #expect(throws: ClarifaiError.self) { try roundTrip("google.protobuf.Value", deep) }
    }
}
