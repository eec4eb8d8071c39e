/// The pages of a List*/Search method, one call each: `page` and `per_page` in the request (or in
/// its `pagination`), or a cursor (`last_id`: the id of the previous page's last item, as
/// StreamInputs takes it). Stops after the first page shorter than `per_page` and at the first
/// empty one (which is not handed out). A page's items are the entries of its longest repeated
/// message field (inputs, models, hits, ...). One thread at a time.
public final class Pager: HandleObject, @unchecked Sendable {
    private enum Paging {
        case pages(page: Int, perPage: Int)
        case pagination(field: Int, page: Int, perPage: Int)
        case cursor(lastID: Int, perPage: Int)
    }

    private let client: Client
    private let method: Method
    private let request: [UInt8]
    private let paging: Paging
    private let perPage: Int
    /// The repeated message fields of the response type: (number, type name).
    private let itemFields: [(number: Int, type: String)]
    private var nextPage = 1
    private var lastID: String?
    private var ended = false

    /// `perPage` 0: the server's default (then only an empty page ends the pages).
    public init(client: Client, method methodName: String, requestJSON: String?, perPage: Int) throws {
        let method = try client.unaryMethod(named: methodName)
        guard let input = client.schema.message(method.inputType), let output = client.schema.message(method.outputType) else {
            throw ClarifaiError(.internal, "\(methodName): its message types are missing from the schema")
        }
        func number(_ name: String, in type: MessageType) -> Int? { type.field(named: name)?.number }
        if let page = number("page", in: input), let perPageField = number("per_page", in: input) {
            paging = .pages(page: page, perPage: perPageField)
        } else if let field = input.field(named: "pagination"), let type = client.schema.message(field.typeName),
                  let page = number("page", in: type), let perPageField = number("per_page", in: type) {
            paging = .pagination(field: field.number, page: page, perPage: perPageField)
        } else if let lastID = number("last_id", in: input), let perPageField = number("per_page", in: input) {
            paging = .cursor(lastID: lastID, perPage: perPageField)
        } else {
            throw ClarifaiError.invalidArgument("\(methodName) is not paginated: its request has no page and per_page, "
                                                + "pagination or last_id")
        }
        guard (0...Int(UInt32.max)).contains(perPage) else { throw ClarifaiError.invalidArgument("per_page \(perPage) is out of range") }
        self.client = client
        self.method = method
        request = try client.requestMessage(method, json: requestJSON)
        self.perPage = perPage
        itemFields = output.fields.filter { $0.isRepeated && $0.kind == .message }.map { ($0.number, $0.typeName) }
        super.init(tag: HandleTag.pager)
    }

    /// The next page; nil when there are no more. A failed call throws (with the response for a
    /// Clarifai status other than SUCCESS) and leaves the pager where it was: the next call asks
    /// for the same page again.
    public func next() throws -> Response? {
        guard !ended else { return nil }
        let page = try client.call(method, message: request + pagingFields())
        let items = try items(of: page)
        guard items.count > 0 else {
            ended = true
            return nil
        }
        if perPage > 0 && items.count < perPage { ended = true }
        nextPage += 1
        if case .cursor = paging {
            // Without an id on the last item there is nothing to go on from.
            lastID = try items.last.flatMap { try Pager.id(of: $0, type: items.type, schema: client.schema) }
            if lastID == nil { ended = true }
        }
        return page
    }

    /// The fields that choose the page, after the request's own (protobuf keeps the last value of
    /// a scalar field, and merges a message field's occurrences).
    private func pagingFields() -> [UInt8] {
        var writer = WireWriter()
        func write(page pageField: Int?, perPage perPageField: Int) {
            if let pageField {
                writer.tag(pageField, .varint)
                writer.varint(UInt64(nextPage))
            }
            if perPage > 0 {
                writer.tag(perPageField, .varint)
                writer.varint(UInt64(perPage))
            }
        }
        switch paging {
        case .pages(let page, let perPageField):
            write(page: page, perPage: perPageField)
        case .pagination(let field, let page, let perPageField):
            let mark = writer.beginLengthDelimited(field)
            write(page: page, perPage: perPageField)
            writer.endLengthDelimited(mark)
        case .cursor(let lastIDField, let perPageField):
            if let lastID { writer.string(lastIDField, lastID) }
            write(page: nil, perPage: perPageField)
        }
        return writer.bytes
    }

    /// A page's items: the entries of its longest repeated message field, how many, the last of
    /// them and their type.
    private func items(of page: Response) throws -> (count: Int, last: UnsafeRawBufferPointer?, type: String?) {
        var counts: [Int: Int] = [:]
        var last: [Int: UnsafeRawBufferPointer] = [:]
        let numbers = Set(itemFields.map(\.number))
        try WireFields.forEach(try page.proto()) { number, value in
            guard numbers.contains(number), let payload = value.payload else { return }
            counts[number, default: 0] += 1
            last[number] = payload
        }
        guard let (number, count) = counts.max(by: { $0.value < $1.value }) else { return (0, nil, nil) }
        return (count, last[number], itemFields.first { $0.number == number }?.type)
    }

    /// An item's `id` (its string field of that name), nil when it has none.
    private static func id(of item: UnsafeRawBufferPointer, type: String?, schema: Schema) throws -> String? {
        guard let type, let idField = schema.message(type)?.field(named: "id") else { return nil }
        var found: String?
        try WireFields.forEach(item) { number, value in
            if number == idField.number, let payload = value.payload { found = String(decoding: payload, as: UTF8.self) }
        }
        return found
    }
}
