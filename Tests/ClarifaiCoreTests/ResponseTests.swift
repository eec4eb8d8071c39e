import Testing
@testable import ClarifaiCore

@Suite struct ResponseTests {
    private func response(_ json: String) throws -> Response {
        let binary = try Array(json.utf8).withUnsafeBytes {
            try Codec.jsonToProto(typeName: "clarifai.api.MultiOutputResponse", json: $0)
        }
        return try binary.withUnsafeBytes { try Response(binary: $0, messageType: "clarifai.api.MultiOutputResponse") }
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
}
