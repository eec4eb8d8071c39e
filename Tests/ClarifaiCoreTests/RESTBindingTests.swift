import Testing
import CJansson
@testable import ClarifaiCore

@Suite struct RESTBindingTests {
    let schema = Schema.official

    func binding(_ methodName: String, _ json: String) throws -> RESTBinding {
        let method = try #require(schema.method(named: methodName))
        let message = try Array(json.utf8).withUnsafeBytes { try Codec.jsonToProto(typeName: method.inputType, json: $0) }
        return try message.withUnsafeBytes { try RESTBinding(method: method, message: $0, schema: schema) }
    }

    func body(_ binding: RESTBinding) -> String? { binding.body.map { String(decoding: $0, as: UTF8.self) } }

    @Test func prefersTheUserAppFormWhenIdsAreSet() throws {
        let call = try binding("PostModelOutputs", #"{"user_app_id":{"user_id":"u","app_id":"a"},"model_id":"m","inputs":[{"id":"i"}]}"#)
        #expect(call.verb == "POST")
        #expect(call.target == "/v2/users/u/apps/a/models/m/outputs")
        #expect(body(call) == #"{"inputs":[{"id":"i"}]}"#)
    }

    @Test func fallsBackToTheShortestFilledPath() throws {
        let call = try binding("PostModelOutputs", #"{"model_id":"m","version_id":"v"}"#)
        #expect(call.target == "/v2/models/m/versions/v/outputs")
        #expect(body(call) == "{}")
    }

    @Test func acceptsLowerCamelNames() throws {
        let call = try binding("GetModel", #"{"userAppId":{"userId":"u","appId":"a"},"modelId":"m"}"#)
        #expect(call.verb == "GET" && call.target == "/v2/users/u/apps/a/models/m" && call.body == nil)
    }

    @Test func percentEncodesPathValues() throws {
        let call = try binding("GetModel", #"{"model_id":"../../x y?#%"}"#)
        #expect(call.target == "/v2/models/..%2F..%2Fx%20y%3F%23%25")
        let dots = try binding("GetModel", #"{"model_id":".."}"#)
        #expect(dots.target == "/v2/models/%2E%2E")
    }

    @Test func sendsTheRestOfAGetAsQueryParameters() throws {
        let call = try binding("ListConcepts", #"{"user_app_id":{"user_id":"u","app_id":"a"},"page":2,"perPage":5}"#)
        #expect(call.target == "/v2/users/u/apps/a/concepts?page=2&per_page=5")
    }

    @Test func flattensNestedAndRepeatedQueryFields() throws {
        let call = try binding("ListInputs", #"{"ids":["a b","c"],"status":{"code":30000}}"#)
        #expect(call.target == "/v2/inputs?status.code=30000&ids=a%20b&ids=c")
    }

    @Test func keepsPartlyUsedObjectsInTheBody() throws {
        let call = try binding("PostModelOutputs", #"{"user_app_id":{"user_id":"u"},"model_id":"m"}"#)
        #expect(call.target == "/v2/models/m/outputs")
        #expect(body(call) == #"{"user_app_id":{"user_id":"u"}}"#)
    }

    @Test func namesTheMissingPathFields() throws {
        #expect {
            try binding("GetModel", "{}")
        } throws: { error in
            let error = error as? ClarifaiError
            return error?.code == .invalidArgument && error?.message.contains("set model_id") == true
        }
    }

    @Test func rejectsUnknownQueryFields() throws {
        #expect {
            try binding("ListConcepts", #"{"nope":1}"#)
        } throws: { error in
            (error as? ClarifaiError)?.message.contains("nope: unknown field of clarifai.api.ListConceptsRequest") == true
        }
    }

    @Test func takesPathValuesFromEveryOccurrenceOfAMessage() throws {
        // The client fills user_app_id by appending a second occurrence; protobuf merges them.
        let method = try #require(schema.method(named: "ListConcepts"))
        let appOnly: [UInt8] = [0x0A, 0x03, 0x12, 0x01, 0x61], userOnly: [UInt8] = [0x0A, 0x03, 0x0A, 0x01, 0x75]
        let call = try (appOnly + userOnly).withUnsafeBytes { try RESTBinding(method: method, message: $0, schema: schema) }
        #expect(call.target == "/v2/users/u/apps/a/concepts")
    }

    /// The first binding's variables filled with a distinct value each: the target is exactly its
    /// template with those values in place and no query, the body (for body "*") is empty.
    @Test func everyMethodBuildsARequestWhenItsPathFieldsAreSet() throws {
        for method in schema.methods where !method.httpRules.isEmpty {
            let rule = method.httpRules[0]
            let request = JSONTree.object()
            var values: [String] = []
            for variable in rule.variables {
                var node = request.root
                var type = schema.message(method.inputType)
                for key in variable.dropLast() {
                    if node[key] == nil { node.set(key, taking: json_object()) }
                    node = node[key]!
                    type = type?.field(named: key).flatMap { schema.message($0.typeName) }
                }
                let leaf = type?.field(named: variable.last!)
                values.append(leaf?.kind == .string ? "x\(values.count)" : "\(values.count + 7)")
                node.set(variable.last!, values.last!)
            }
            var remaining = values[...]
            let expected = rule.segments.map {
                switch $0 {
                case .literal(let text): return "/" + text
                case .variable: return "/" + remaining.removeFirst()
                }
            }.joined()
            let call = try binding(method.name, request.root.serialized())
            #expect(call.verb == rule.verb && call.target == expected, "\(method.name): \(call.verb) \(call.target)")
            #expect(body(call) == (rule.body == "*" ? "{}" : nil), "\(method.name): \(body(call) ?? "no body")")
        }
    }

    /// A prediction's REST form written from its parts is RESTBinding's of the request message the
    /// client sends (its ids filled), byte for byte: every kind and source, ids that need escaping
    /// or percent-encoding, and every combination of user, app and version ids.
    @Test func writesAPredictionAsTheBindingOfItsMessage() throws {
        let bytes: [UInt8] = Array(0...255) + [0xFF, 0xFE]
        try bytes.withUnsafeBytes { data in
            let inputs = [
                PredictionInput(kind: .image, source: .url("https://x.test/a b?c=\"d\"&e=\\"), id: "in/1 \u{1}é"),
                PredictionInput(kind: .text, source: .text("line\nand \u{2028} \u{1F600}")),
                PredictionInput(kind: .video, source: .bytes(data), id: "v"),
                PredictionInput(kind: .audio, source: .url("u")),
            ]
            let fields = try PredictionSchema.of(schema)
            let form = try #require(fields.restForm)
            let channel = try RESTChannel(baseURL: "http://127.0.0.1:9")
            var compared = 0
            let combinations = [String?](arrayLiteral: nil, "u 1", "me").flatMap { user in
                [String?](arrayLiteral: nil, "a/2").flatMap { app in
                    [String?](arrayLiteral: nil, "v.3").flatMap { version in ["m", ".."].map { (user, app, version, $0) } }
                }
            }
            for (user, app, version, model) in combinations {
                let client = try Client(channel: channel, token: "t", userID: user ?? "", appID: app ?? "")
                var message = try Client.predictionRequest(fields, modelID: model, versionID: version, inputs: inputs[...])
                try client.fillUserAppID(of: &message, for: fields.method)
                let expected = try message.withUnsafeBytes { try RESTBinding(method: fields.method, message: $0, schema: schema) }
                guard let written = form.binding(PredictionIDs(userID: user, appID: app, modelID: model, versionID: version),
                                                      inputs: inputs[...]) else {
                    // One id without the other goes in the body: the message's binding writes that.
                    #expect((user == nil) != (app == nil), "no form for user \(user ?? "-"), app \(app ?? "-")")
                    continue
                }
                #expect(written.verb == expected.verb && written.target == expected.target, "\(written.target) vs \(expected.target)")
                #expect(body(written) == body(expected))
                compared += 1
            }
            #expect(compared == 12)
        }
    }
}
