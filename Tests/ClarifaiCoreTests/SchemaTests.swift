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
    let response = try Response(protoMessage: UnsafeRawBufferPointer(start: nil, count: 0), of: Schema.official.method(named: "PostModelOutputs")!)
    #expect(HandleObject.tag(of: Unmanaged.passUnretained(response).toOpaque()) == HandleTag.response)
    let client = try Client(channel: try RESTChannel(baseURL: "http://127.0.0.1:1"), token: "token", userID: nil, appID: nil)
    #expect(HandleObject.tag(of: Unmanaged.passUnretained(client).toOpaque()) == HandleTag.client)
}

/// The flat pass of WireFields.validate must never accept what the field-by-field pass refuses,
/// and must accept (nearly) all it accepts: whatever it leaves is validated twice, slowly.
@Suite struct WireChecksTests {
    let schema = Schema.official

    private func answer() throws -> [UInt8] {
        let concept = #"{"id":"ai_1","name":"dög","value":0.5,"app_id":"main"}"#
        let output = #"{"id":"o","status":{"code":10000},"model":{"id":"m","output_info":{"data":{"concepts":[\#(concept)]}}},"#
            + #""input":{"id":"i","data":{"image":{"url":"https://x/y.jpg"}}},"data":{"concepts":[\#(concept),\#(concept)],"#
            + #""regions":[{"region_info":{"bounding_box":{"top_row":0.1}},"data":{"text":{"raw":"ü"}}}]}}"#
        let json = #"{"status":{"code":10000,"req_id":"r"},"outputs":[\#(output),\#(output)]}"#
        return try Array(json.utf8).withUnsafeBytes { try Codec.jsonToProto(typeName: "clarifai.api.MultiOutputResponse", json: $0) }
    }

    @Test func agreesWithTheFieldByFieldPassOnMutatedAnswers() throws {
        let type = try #require(schema.message("clarifai.api.MultiOutputResponse"))
        let original = try answer()
        var generator = SystemRandomNumberGenerator()
        var acceptedBySlowPass = 0, acceptedByBoth = 0
        for round in 0..<20_000 {
            var bytes = original
            for _ in 0..<(round == 0 ? 0 : Int.random(in: 1...3, using: &generator)) where !bytes.isEmpty {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes[position] ^= 0x80
                case 2: bytes.removeSubrange(position...)
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
                }
            }
            let fast = bytes.withUnsafeBytes { schema.wireChecks.passes($0, type: type.index) }
            let slow = bytes.withUnsafeBytes { bytes in
                (try? WireFields.validateByField(bytes, type: type, schema: schema, depth: 0)) != nil
            }
            #expect(!fast || slow, "the flat pass accepted what the field-by-field pass refuses: \(bytes)")
            if slow { acceptedBySlowPass += 1 }
            if fast && slow { acceptedByBoth += 1 }
        }
        #expect(acceptedBySlowPass > 500)  // about 1,000: most mutations break the message
        #expect(Double(acceptedByBoth) >= 0.99 * Double(acceptedBySlowPass))
    }

    @Test func refusesWhatTheRuntimeRefuses() throws {
        let response = try #require(schema.message("clarifai.api.MultiOutputResponse"))
        let notUTF8: [UInt8] = [0x12, 0x04, 0x0A, 0x02, 0xC3, 0x28]  // outputs[0].id: C3 28
        #expect(notUTF8.withUnsafeBytes { !schema.wireChecks.passes($0, type: response.index) })
        #expect { try notUTF8.withUnsafeBytes { try WireFields.validate($0, type: response, schema: schema) } } throws: { error in
            (error as? CodecError)?.message == "outputs.id: string is not valid UTF-8"
        }
        // google.protobuf.Value nested 150 deep through list_value (6) and its values (1).
        func lengthDelimited(_ tag: UInt8, _ payload: [UInt8]) -> [UInt8] {
            var bytes: [UInt8] = [tag], length = payload.count
            while length >= 0x80 { bytes.append(UInt8(length & 0x7F) | 0x80); length >>= 7 }
            return bytes + [UInt8(length)] + payload
        }
        var deep: [UInt8] = []
        for _ in 0..<150 { deep = lengthDelimited(0x32, lengthDelimited(0x0A, deep)) }
        let value = try #require(schema.message("google.protobuf.Value"))
        #expect(deep.withUnsafeBytes { !schema.wireChecks.passes($0, type: value.index) })
        #expect(throws: CodecError.self) { try deep.withUnsafeBytes { try WireFields.validate($0, type: value, schema: schema) } }
    }
}
