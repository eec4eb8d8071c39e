import Testing
import CJansson
@testable import ClarifaiCore

@Suite struct RESTBindingTests {
    let schema = Schema.official

    func binding(_ methodName: String, _ json: String) throws -> RESTBinding {
        let method = try #require(schema.method(named: methodName))
        let request = try JSONTree.parse(json, what: "test")
        return try RESTBinding(method: method, request: request.root, schema: schema)
    }

    @Test func prefersTheUserAppFormWhenIdsAreSet() throws {
        let call = try binding("PostModelOutputs", #"{"user_app_id":{"user_id":"u","app_id":"a"},"model_id":"m","inputs":[]}"#)
        #expect(call.verb == "POST")
        #expect(call.target == "/v2/users/u/apps/a/models/m/outputs")
        #expect(call.body == #"{"inputs":[]}"#)
    }

    @Test func fallsBackToTheShortestFilledPath() throws {
        let call = try binding("PostModelOutputs", #"{"model_id":"m","version_id":"v"}"#)
        #expect(call.target == "/v2/models/m/versions/v/outputs")
        #expect(call.body == "{}")
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
        #expect(call.target == "/v2/inputs?ids=a%20b&ids=c&status.code=30000")
    }

    @Test func keepsPartlyUsedObjectsInTheBody() throws {
        let call = try binding("PostModelOutputs", #"{"user_app_id":{"user_id":"u"},"model_id":"m"}"#)
        #expect(call.target == "/v2/models/m/outputs")
        #expect(call.body == #"{"user_app_id":{"user_id":"u"}}"#)
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
            (error as? ClarifaiError)?.message == "ListConcepts: unknown field 'nope' in clarifai.api.ListConceptsRequest"
        }
    }

    @Test func everyMethodBuildsARequestWhenItsPathFieldsAreSet() throws {
        for method in schema.methods where !method.httpRules.isEmpty {
            let request = JSONTree.object()
            for variable in method.httpRules[0].variables {
                var node = request.root
                for key in variable.dropLast() {
                    if node[key] == nil { node.set(key, taking: json_object()) }
                    node = node[key]!
                }
                node.set(variable.last!, "x")
            }
            let call = try RESTBinding(method: method, request: request.root, schema: schema)
            #expect(!call.target.contains("{"), "\(method.name): \(call.target)")
        }
    }
}
