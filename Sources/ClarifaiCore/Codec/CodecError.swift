/// A conversion failure: what was wrong, and where (the field path, built while unwinding).
struct CodecError: Error {
    private(set) var path: [String] = []
    let problem: String

    init(_ problem: String) { self.problem = problem }

    /// Any error of a conversion as a CodecError: the readers' errors by their message.
    init(converting error: any Error) {
        switch error {
        case let codecError as CodecError: self = codecError
        case let wireError as WireReader.WireError: self.init(wireError.description)
        case let syntaxError as JSONReader.SyntaxError: self.init(syntaxError.message)
        default: self.init("\(error)")
        }
    }

    /// The same error one level up: `component` is a field name or an index like "[3]".
    func inside(_ component: String) -> CodecError {
        var copy = self
        copy.path.insert(component, at: 0)
        return copy
    }

    /// "inputs[3].data.image.base64: invalid base64"
    var message: String {
        var rendered = ""
        for component in path {
            if !rendered.isEmpty && !component.hasPrefix("[") { rendered += "." }
            rendered += component
        }
        return rendered.isEmpty ? problem : "\(rendered): \(problem)"
    }

    func clarifaiError(messageType: String) -> ClarifaiError {
        ClarifaiError.invalidArgument("\(messageType): \(message)")
    }
}

/// Runs `body`; an error from it gets `component` added to its path.
@inline(__always)
func within<R>(_ component: @autoclosure () -> String, _ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as CodecError {
        throw error.inside(component())
    } catch let error as WireReader.WireError {
        throw CodecError(error.description).inside(component())
    } catch let error as JSONReader.SyntaxError {
        throw CodecError(error.message).inside(component())
    }
}
