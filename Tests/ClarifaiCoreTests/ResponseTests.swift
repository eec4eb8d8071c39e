import Testing
@testable import ClarifaiCore

@Suite struct ResponseTests {
    private func response(_ json: String) throws -> Response {
        let binary = try Array(json.utf8).withUnsafeBytes {
            try Codec.jsonToProto(typeName: "clarifai.api.MultiOutputResponse", json: $0)
        }
        return try binary.withUnsafeBytes { try Response(protoMessage: $0, of: Schema.official.method(named: "PostModelOutputs")!) }
    }

    /// The concepts' text block: 4 NUL-ended fields per concept, the value's shortest float32
    /// decimal (and nan/inf/-inf), the strings cut at a NUL as the struct views cut them.
    @Test func conceptsTextHasEveryConceptsFieldsAndShortestValues() throws {
        let answer = try response("""
            {"status": {"code": 10000}, "outputs": [{"data": {"concepts": [
              {"id": "a", "name": "caf\\u00e9", "value": 0.87, "app_id": "main"},
              {"id": "b\\u0000c", "name": "", "value": 1e-7},
              {"id": "n", "value": "NaN"}, {"id": "i", "value": "Infinity"}, {"id": "m", "value": "-Infinity"},
              {"id": "one", "value": 1}]}}, {"data": {}}]}
            """)
        let (text, count) = try answer.conceptsText(output: 0)
        #expect(count == 6)
        let fields = String(decoding: text, as: UTF8.self).split(separator: "\0", omittingEmptySubsequences: false)
        #expect(fields == ["a", "café", "0.87", "main", "b", "", "1e-07", "", "n", "", "nan", "", "i", "", "inf", "",
                           "m", "", "-inf", "", "one", "", "1.0", "", ""])
        #expect(try answer.conceptsText(output: 0).text.baseAddress == text.baseAddress)  // made once
        #expect(try answer.conceptsText(output: 1).count == 0)
        #expect(throws: ClarifaiError.self) { try answer.conceptsText(output: 2) }
    }

    /// A Data message sent in two parts is their merge: the concepts of both, in order.
    @Test func readsTheConceptsOfADataMessageInParts() throws {
        let fields = try ResponseFields.official.get()
        let outputsField = try #require(Schema.official.message("clarifai.api.MultiOutputResponse")?.field(named: "outputs"))
        var writer = WireWriter()
        let output = writer.beginLengthDelimited(outputsField.number)
        for id in ["a", "b"] {
            let data = writer.beginLengthDelimited(fields.outputData)
            let concept = writer.beginLengthDelimited(fields.dataConcepts)
            writer.string(fields.conceptID, id)
            writer.endLengthDelimited(concept)
            writer.endLengthDelimited(data)
        }
        writer.endLengthDelimited(output)
        let answer = try writer.bytes.withUnsafeBytes { try Response(protoMessage: $0, of: Schema.official.method(named: "PostModelOutputs")!) }
        #expect(try answer.concepts(output: 0).map { String(cString: $0.id) } == ["a", "b"])
        let text = try answer.conceptsText(output: 0)
        #expect(text.count == 2 && String(decoding: text.text, as: UTF8.self) == "a\0\00.0\0\0b\0\00.0\0\0")
    }
}

/// A field looked up in the lines as they came reads as the parsed fields do.
@Test func answerFieldsAreFoundAsParsed() {
    let block = "HTTP/1.1 100 Continue\r\n\r\nHTTP/2 200\r\nContent-Type: application/grpc\r\ngrpc-encoding:gzip\r\n"
        + "X-Dup: one\r\nx-dup:  two \t\r\nnocolon\r\n: empty-name\r\nGRPC-STATUS-X: no\r\n\r\n"
        + "grpc-status: 0\r\ngrpc-message: \r\ngrpc-status-details-bin: abc:def\r\n"
    let names = ["content-type", "grpc-encoding", "x-dup", "grpc-status", "grpc-message", "grpc-status-details-bin",
                 "grpc-status-x", "nocolon", "missing", "http/2 200", ""]
    for name in names {
        let fresh = AnswerFields(lines: Array(block.utf8)).field(name)
        let parsed = AnswerFields(lines: Array(block.utf8))
        _ = parsed.fields
        #expect(fresh == parsed.field(name), "\(name)")
    }
    #expect(AnswerFields(lines: Array(block.utf8)).field("x-dup") == "two")
    #expect(AnswerFields(lines: Array(block.utf8)).field("grpc-message") == "")
}

/// A Concept message with a group in it (which the one-pass scan leaves to WireReader) reads the
/// same fields; a malformed one is an error.
@Test func readsConceptsWithGroupsAndRefusesMalformedOnes() throws {
    let fields = try ResponseFields.official.get()
    var writer = WireWriter()
    writer.string(fields.conceptID, "c1")
    writer.tag(99, .startGroup)
    writer.tag(1, .varint)
    writer.varint(7)
    writer.tag(99, .endGroup)
    writer.string(fields.conceptName, "cat")
    writer.tag(fields.conceptValue, .fixed32)
    writer.fixed32(Float(0.5).bitPattern)
    let message = writer.bytes
    try message.withUnsafeBytes { bytes in
        let concept = try WireConcept(bytes, fields)
        #expect(concept.id.map { String(decoding: $0, as: UTF8.self) } == "c1")
        #expect(concept.name.map { String(decoding: $0, as: UTF8.self) } == "cat")
        #expect(concept.value == 0.5 && concept.appID == nil)
    }
    let truncated = Array(message.dropLast(2))
    #expect(throws: WireReader.WireError.self) { try truncated.withUnsafeBytes { try WireConcept($0, fields) } }
}

/// Concept messages of every arrangement read as protobuf reads them (the last of a repeated
/// field wins; unknown fields skipped): the one-pass reading of the form servers write, and the
/// scan that takes every other form (fields out of order or repeated, a length of two bytes, a
/// field besides the four, one cut short).
@Test func readsConceptsOfEveryArrangement() throws {
    let fields = try ResponseFields.official.get()
    enum Part { case id(String), name(String), value(Float), appID(String), other }
    let long = String(repeating: "x", count: 200)
    let arrangements: [[Part]] = [
        [.id("ai_1"), .name("train"), .value(0.99), .appID("main")],
        [], [.id("a")], [.name("n")], [.value(0.5)], [.appID("m")], [.id("a"), .value(0.25)], [.name(""), .appID("")],
        [.appID("main"), .value(0.5), .name("cat"), .id("c")],
        [.id("first"), .name("n"), .id("second")],
        [.id(long), .name("n"), .value(0.5), .appID("main")],
        [.id("a"), .name(long)],
        [.id("a"), .name("n"), .value(0.5), .other, .appID("main")],
        [.id("a"), .value(0.5), .value(0.75)],
    ]
    for parts in arrangements {
        var writer = WireWriter()
        var expected: (id: String?, name: String?, value: Float, appID: String?) = (nil, nil, 0, nil)
        for part in parts {
            switch part {
            case .id(let id): writer.string(fields.conceptID, id); expected.id = id
            case .name(let name): writer.string(fields.conceptName, name); expected.name = name
            case .value(let value): writer.tag(fields.conceptValue, .fixed32); writer.fixed32(value.bitPattern); expected.value = value
            case .appID(let appID): writer.string(fields.conceptAppID, appID); expected.appID = appID
            case .other: writer.string(4, "created")
            }
        }
        let message = writer.bytes
        try message.withUnsafeBytes { bytes in
            let concept = try WireConcept(bytes, fields)
            func text(_ bytes: UnsafeRawBufferPointer?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
            #expect(text(concept.id) == expected.id && text(concept.name) == expected.name, "\(parts)")
            #expect(concept.value == expected.value && text(concept.appID) == expected.appID, "\(parts)")
        }
        if !message.isEmpty {
            let truncated = Array(message.dropLast())
            #expect(throws: WireReader.WireError.self, "\(parts)") { try truncated.withUnsafeBytes { try WireConcept($0, fields) } }
        }
    }
}

/// The concepts' strings are ended in a copy of the message (the last one where the message
/// ends), which stays as it came; a message too large to copy (here padded with an unknown
/// field) has its strings copied one by one.
@Test(arguments: [0, StringsInPlace.largestCopied])
func conceptStringsLeaveTheMessageAsItCame(padding: Int) throws {
    let fields = try ResponseFields.official.get()
    let outputsField = try #require(Schema.official.message("clarifai.api.MultiOutputResponse")?.field(named: "outputs"))
    var writer = WireWriter()
    let output = writer.beginLengthDelimited(outputsField.number)
    if padding > 0 { writer.string(999, String(repeating: "p", count: padding)) }
    let data = writer.beginLengthDelimited(fields.outputData)
    for (id, appID) in [("a", "main"), ("b", ""), ("c", "last")] {
        let concept = writer.beginLengthDelimited(fields.dataConcepts)
        writer.string(fields.conceptID, id)
        writer.string(fields.conceptName, "name-\(id)")
        if !appID.isEmpty { writer.string(fields.conceptAppID, appID) }
        writer.endLengthDelimited(concept)
    }
    writer.endLengthDelimited(data)
    writer.endLengthDelimited(output)
    let message = writer.bytes
    let answer = try message.withUnsafeBytes { try Response(protoMessage: $0, of: Schema.official.method(named: "PostModelOutputs")!) }
    let concepts = try answer.concepts(output: 0)
    #expect(concepts.map { String(cString: $0.id) + "/" + String(cString: $0.name) + "/" + String(cString: $0.app_id) }
            == ["a/name-a/main", "b/name-b/", "c/name-c/last"])
    #expect(Array(try answer.proto()) == message)
}
