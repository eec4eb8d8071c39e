import Testing
@testable import ClarifaiCore

@Suite struct SchemaTests {
    let schema = Schema.official

    @Test func parsesEveryMethodOfTheV2Service() throws {
        #expect(schema.methods.count == 273)
        #expect(Set(schema.methods.map(\.name)).count == 273)
        let method = try #require(schema.method(named: "PostModelOutputs"))
        #expect(method.inputType == "clarifai.api.PostModelOutputsRequest")
        #expect(method.outputType == "clarifai.api.MultiOutputResponse")
        #expect(method.httpRules.count == 5)
        #expect(method.httpRules[0].verb == "POST" && method.httpRules[0].body == "*")
        #expect(method.httpRules[0].variables == [["user_app_id", "user_id"], ["user_app_id", "app_id"], ["model_id"], ["version_id"]])
    }

    @Test func everyUnaryMethodHasAnHTTPBindingAndKnownTypes() {
        for method in schema.methods {
            #expect(schema.message(method.inputType) != nil, "\(method.name) input")
            #expect(schema.message(method.outputType) != nil, "\(method.name) output")
            if !method.clientStreaming { #expect(!method.httpRules.isEmpty, "\(method.name) has no http rule") }
        }
    }

    @Test func marksStreamingMethods() throws {
        #expect(try #require(schema.method(named: "GenerateModelOutputs")).serverStreaming)
        #expect(try #require(schema.method(named: "PostModelVersionsUpload")).clientStreaming)
        #expect(try !#require(schema.method(named: "ListConcepts")).serverStreaming)
    }

    @Test func resolvesFieldsByOriginalAndJSONName() throws {
        let request = try #require(schema.message("clarifai.api.PostModelOutputsRequest"))
        let field = try #require(request.field(named: "userAppId"))
        #expect(field.name == "user_app_id" && field.kind == .message && field.typeName == "clarifai.api.UserAppIDSet")
        #expect(request.field(named: "user_app_id")?.number == field.number)
        #expect(try #require(request.field(named: "inputs")).isRepeated)
    }

    @Test func readsClarifaiShowIfEmptyOption() throws {
        let response = try #require(schema.message("clarifai.api.MultiConceptResponse"))
        #expect(try #require(response.field(named: "concepts")).showIfEmpty)
        #expect(try !#require(response.field(named: "status")).showIfEmpty)
    }

    @Test func readsEnums() throws {
        let codes = try #require(schema.enums["clarifai.api.status.StatusCode"])
        #expect(codes.number(named: "SUCCESS") == 10000)
        #expect(codes.number(named: "CONN_KEY_INVALID") == 11008)
    }

    @Test func lowerCamelNamesFollowProtoc() {
        #expect(DescriptorParser.lowerCamelName("user_app_id") == "userAppId")
        #expect(DescriptorParser.lowerCamelName("per_page") == "perPage")
        #expect(DescriptorParser.lowerCamelName("id") == "id")
    }

    @Test func rejectsTruncatedDescriptors() {
        let bytes: [UInt8] = [0x0a, 0x05, 0x0a, 0x01]
        #expect(throws: (any Error).self) {
            try bytes.withUnsafeBytes { try DescriptorParser.parse($0, service: "clarifai.api.V2") }
        }
    }
}

/// The C ABI finds a handle's kind at HandleObject.tagOffset, whatever the object.
@Test func handleTagsSitWhereTheCABIReadsThem() throws {
    let response = try Response(binary: UnsafeRawBufferPointer(start: nil, count: 0), messageType: "clarifai.api.MultiOutputResponse")
    #expect(HandleObject.tag(of: Unmanaged.passUnretained(response).toOpaque()) == HandleTag.response)
    let client = try Client(channel: try RESTChannel(baseURL: "http://127.0.0.1:1"), token: "token", userID: nil, appID: nil)
    #expect(HandleObject.tag(of: Unmanaged.passUnretained(client).toOpaque()) == HandleTag.client)
}
