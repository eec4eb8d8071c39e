import Testing
@testable import ClarifaiCore

@Suite struct SchemaTests {
    @Test func parsesTheOfficialService() throws {
        let schema = Schema.official
        #expect(schema.methods.count == 273)
        let method = try #require(schema.method(named: "PostModelOutputs"))
        #expect(method.inputType == "clarifai.api.PostModelOutputsRequest")
        #expect(method.httpRules.count == 5)
    }
}
