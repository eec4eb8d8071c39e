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
}
