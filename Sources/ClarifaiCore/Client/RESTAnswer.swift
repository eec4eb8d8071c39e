import CClarifaiHeader

/// A REST answer's JSON, read only as far as it is asked for. The call reads its status (and
/// whatever comes before it); its outputs are read when first asked for (their count, or an
/// output's concepts), reading on to the end of the text: their concepts as C structs on the
/// way (most callers that count outputs read their concepts next). Everything else, and the check of every field against the
/// schema, waits for the first reader that needs the whole message, which Response converts to
/// protobuf then (an answer's JSON is most of a REST call's cost, and most callers read its status
/// and concepts only, or want the JSON handed out, which is made from the message).
///
/// Only the plain form that servers write is read here: a key given twice, a null, an enum by
/// name, a number written as a string or a value of an unexpected kind makes the reading give up
/// (nil), and the whole answer is converted instead, with its errors reported as they always were.
struct RESTAnswer {
    typealias Status = (code: Int32, description: UnsafePointer<CChar>, details: UnsafePointer<CChar>, requestID: UnsafePointer<CChar>)

    let body: [UInt8]
    let status: Status
    private let type: MessageType
    /// An entry of `outputs`: where its data.concepts array is in `body` (nil: it has none), and
    /// those concepts as C structs once read (the answer's: see deallocate()).
    struct OutputPlace {
        var concepts: Int?
        var read: UnsafeMutableBufferPointer<clarifai_concept>?
        /// OutputContents bits: data's regions, text or embeddings given a value other than null or [].
        var contents: UInt8 = 0
    }

    /// The entries of `outputs`, once found.
    private var outputs: [OutputPlace]?
    /// Where the top-level reading stopped, after the status (nil once it reached the end, or gave
    /// up).
    private var readTo: Int?
    /// The strings of the concepts read (a copy of `body`), made when the first are read.
    private var conceptStrings: StringsInPlace?

    /// The reading gives up: the answer is not in the plain form (or not JSON at all).
    private struct NotPlain: Error {}

    /// nil when `body` is not a plain answer of `type` with a status (see above); the status's
    /// strings are copied into `strings`.
    init?(body: [UInt8], type: MessageType, fields: ResponseFields, strings: StringArena) {
        guard fields.statusAndOutputs[type.index].status > 0 else { return nil }
        var status: Status?
        var outputs: [OutputPlace]?
        var readTo: Int?
        var conceptStrings: StringsInPlace?
        let read = body.withUnsafeBytes { text in
            var reader = JSONReader(text)
            do {
                try RESTAnswer.beginObject(&reader)
                if try !RESTAnswer.readMembers(&reader, first: true, untilStatus: true, type, fields, strings, &conceptStrings,
                                               &status, &outputs) {
                    readTo = reader.offset
                }
                return true
            } catch {
                return false
            }
        }
        guard read, let status else {
            outputs?.forEach { $0.read?.deallocate() }
            conceptStrings?.deallocate()
            return nil
        }
        self.conceptStrings = conceptStrings
        self.body = body
        self.type = type
        self.status = status
        self.outputs = outputs ?? (readTo == nil ? [] : nil)
        self.readTo = readTo
    }

    /// The number of entries of `outputs` (the top-level reading goes on to the end of the text);
    /// nil when the rest of the answer is not in the plain form.
    mutating func countOutputs(_ fields: ResponseFields, _ strings: StringArena) -> Int? {
        findOutputs(fields, strings)?.count
    }

    private mutating func findOutputs(_ fields: ResponseFields, _ strings: StringArena) -> [OutputPlace]? {
        if let outputs { return outputs }
        guard let start = readTo else { return nil }
        readTo = nil
        var status: Status? = self.status
        var found: [OutputPlace]?
        let ended = body.withUnsafeBytes { text in
            var reader = JSONReader(text, from: start)
            return (try? RESTAnswer.readMembers(&reader, first: false, untilStatus: false, type, fields, strings, &conceptStrings,
                                                &status, &found)) == true
        }
        guard ended else {
            found?.forEach { $0.read?.deallocate() }
            return nil
        }
        outputs = found ?? []
        return outputs
    }

    /// Reads the members of the top-level object from the reader's place (its first member when
    /// `first`, else the one after the member read last) to the object's end, which must end the
    /// text, or up to the status when `untilStatus`: the status into `status` (a second one
    /// gives up), the outputs into `outputs` (their concepts read), the rest stepped over. True
    /// when the object ended.
    private static func readMembers(_ reader: inout JSONReader, first: Bool, untilStatus: Bool, _ type: MessageType,
                                    _ fields: ResponseFields, _ strings: StringArena, _ conceptStrings: inout StringsInPlace?,
                                    _ status: inout Status?, _ outputs: inout [OutputPlace]?) throws -> Bool {
        let (statusNumber, outputsNumber) = fields.statusAndOutputs[type.index]
        var first = first, cursor = 0
        while try reader.nextMember(first: &first) {
            switch try fieldNumber(&reader, type, &cursor) {
            case statusNumber:
                guard status == nil else { throw NotPlain() }
                status = try RESTAnswer.status(&reader, fields, strings)
                if untilStatus { return false }
            case outputsNumber:
                guard outputs == nil, reader.peekByte() == UInt8(ascii: "[") else { throw NotPlain() }
                var places: [OutputPlace] = []
                defer { if outputs == nil { places.forEach { $0.read?.deallocate() } } }
                try reader.beginArray()
                var firstOutput = true
                while try reader.nextElement(first: &firstOutput) { places.append(try outputPlace(&reader, fields, strings, &conceptStrings)) }
                outputs = places
            default:
                try skip(&reader)
            }
        }
        try reader.expectEnd()
        return true
    }

    /// A Status object: its code (a JSON integer) and strings.
    private static func status(_ reader: inout JSONReader, _ fields: ResponseFields,
                               _ strings: StringArena) throws -> Status {
        reader.skipPlainSpace()
        if let status = formedStatus(&reader, fields.spacedStatus, strings) ?? formedStatus(&reader, fields.compactStatus, strings) {
            return status
        }
        var code: Int32 = 0
        var description = StringArena.emptyText, details = StringArena.emptyText, requestID = StringArena.emptyText
        let wanted = (fields.statusCode, fields.statusDescription, fields.statusDetails, fields.statusRequestID)
        try forEachWanted(&reader, fields.statusMessage, wanted) { position, reader in
            switch position {
            case 0:
                guard let (negative, magnitude) = ScalarText.integer(try numberValue(&reader).text),
                      let value = Int32(exactly: negative ? -Int64(clamping: magnitude) : Int64(clamping: magnitude)) else { throw NotPlain() }
                code = value
            case 1: description = try string(&reader, strings)
            case 2: details = try string(&reader, strings)
            default: requestID = try string(&reader, strings)
            }
        }
        return (code, description, details, requestID)
    }

    /// A status in `form` with strings of printable ASCII, read in one pass; nil, nothing read,
    /// for anything else, which the general reading takes.
    @inline(__always)
    private static func formedStatus(_ reader: inout JSONReader, _ form: ResponseFields.StatusForm, _ strings: StringArena) -> Status? {
        let start = reader.offset
        guard reader.skipPlainText(form.opening), let code = reader.readPlainInteger(), reader.skipPlainText(form.afterCode),
              reader.skipPlainText(form.beforeDescription), let description = reader.readPlainStringRest(),
              reader.skipPlainText(form.afterDescription), let requestID = reader.readPlainStringRest(),
              reader.skipPlainBytes(UInt8(ascii: "\""), UInt8(ascii: "}")) else {
            reader.offset = start
            return nil
        }
        return (Int32(code), strings.add(description), StringArena.emptyText, strings.add(requestID))
    }

    /// outputs[index].data.concepts as C structs (their strings ended in place in a copy of the
    /// body, or copied into `strings`); nil when the output is not in the plain form, or past the
    /// end.
    mutating func concepts(output index: Int, _ fields: ResponseFields, _ strings: StringArena) -> UnsafeBufferPointer<clarifai_concept>? {
        guard let outputs = findOutputs(fields, strings), outputs.indices.contains(index) else { return nil }
        if let read = outputs[index].read { return UnsafeBufferPointer(read) }
        guard let start = outputs[index].concepts else { return UnsafeBufferPointer(start: nil, count: 0) }
        let read = body.withUnsafeBytes { text in
            if conceptStrings == nil { conceptStrings = StringsInPlace(copying: text) }
            var reader = JSONReader(text, from: start)
            return try? RESTAnswer.readConcepts(&reader, fields, strings, conceptStrings!)
        }
        self.outputs?[index].read = read
        return read.map { UnsafeBufferPointer($0) }
    }

    /// Every output's concepts (as `concepts(output:)`) and OutputContents bits; nil when an output
    /// is not in the plain form.
    mutating func readOutputs(_ fields: ResponseFields, _ strings: StringArena) -> [(concepts: UnsafeBufferPointer<clarifai_concept>, contents: UInt8)]? {
        guard let places = findOutputs(fields, strings) else { return nil }
        var read: [(concepts: UnsafeBufferPointer<clarifai_concept>, contents: UInt8)] = []
        read.reserveCapacity(places.count)
        for (index, place) in places.enumerated() {
            guard let concepts = concepts(output: index, fields, strings) else { return nil }
            read.append((concepts, place.contents))
        }
        return read
    }

    /// Frees the concepts read.
    func deallocate() {
        outputs?.forEach { $0.read?.deallocate() }
        conceptStrings?.deallocate()
    }

    /// A concepts array (the reader at its `[`) as C structs.
    private static func readConcepts(_ reader: inout JSONReader, _ fields: ResponseFields, _ strings: StringArena,
                                     _ conceptStrings: StringsInPlace) throws -> UnsafeMutableBufferPointer<clarifai_concept> {
        var buffer = UnsafeMutableBufferPointer<clarifai_concept>(start: nil, count: 0)
        var count = 0
        do {
            try reader.beginArray()
            var first = true
            while try reader.nextElement(first: &first) {
                if count == buffer.count { buffer = Response.grown(buffer) }
                buffer[count] = try concept(&reader, fields, strings, conceptStrings)
                count += 1
            }
        } catch {
            buffer.deallocate()
            throw error
        }
        return UnsafeMutableBufferPointer(start: buffer.baseAddress, count: count)
    }

    /// Reads an output (an Output object): its data.concepts as C structs when they have the plain
    /// form (else only where they are, for a later reading to report), each of those keys at most
    /// once, and which of data's regions, text and embeddings hold something (OutputPlace.contents).
    private static func outputPlace(_ reader: inout JSONReader, _ fields: ResponseFields, _ strings: StringArena,
                                    _ conceptStrings: inout StringsInPlace?) throws -> OutputPlace {
        var place = OutputPlace()
        var seenData = false
        do {
            try beginObject(&reader)
            var first = true, cursor = 0
            while try reader.nextMember(first: &first) {
                guard try fieldNumber(&reader, fields.outputMessage, &cursor) == fields.outputData else {
                    try skip(&reader)
                    continue
                }
                guard !seenData else { throw NotPlain() }
                seenData = true
                try beginObject(&reader)
                var firstInData = true, cursorInData = 0
                while try reader.nextMember(first: &firstInData) {
                    let number = try fieldNumber(&reader, fields.dataMessage, &cursorInData)
                    guard number == fields.dataConcepts else {
                        let bit = switch number {
                        case fields.dataRegions: OutputContents.regions
                        case fields.dataText: OutputContents.text
                        case fields.dataEmbeddings: OutputContents.embedding
                        default: UInt8(0)
                        }
                        if bit != 0 && holdsValue(&reader) { place.contents |= bit }
                        try skip(&reader)
                        continue
                    }
                    guard place.concepts == nil, reader.peekByte() == UInt8(ascii: "[") else { throw NotPlain() }
                    let start = reader.offset
                    place.concepts = start
                    if conceptStrings == nil { conceptStrings = StringsInPlace(copying: reader.text) }
                    if let read = try? readConcepts(&reader, fields, strings, conceptStrings!) {
                        place.read = read
                    } else {
                        reader.offset = start
                        try skip(&reader)
                    }
                }
            }
        } catch {
            place.read?.deallocate()
            throw error
        }
        return place
    }

    /// A Concept object's id, name, value and app_id.
    private static func concept(_ reader: inout JSONReader, _ fields: ResponseFields, _ strings: StringArena,
                                _ conceptStrings: StringsInPlace) throws -> clarifai_concept {
        reader.skipPlainSpace()
        if let concept = formedConcept(&reader, fields.spacedConcept, conceptStrings)
            ?? formedConcept(&reader, fields.compactConcept, conceptStrings) {
            return concept
        }
        var concept = clarifai_concept(id: StringArena.emptyText, name: StringArena.emptyText, value: 0, app_id: StringArena.emptyText)
        let wanted = (fields.conceptID, fields.conceptName, fields.conceptAppID, fields.conceptValue)
        try forEachWanted(&reader, fields.conceptMessage, wanted) { position, reader in
            switch position {
            case 0: concept.id = try string(&reader, strings)
            case 1: concept.name = try string(&reader, strings)
            case 2: concept.app_id = try string(&reader, strings)
            default: concept.value = try floatValue(&reader)
            }
        }
        return concept
    }

    /// A concept in `form` with strings of printable ASCII and a value between 0 and 1 of at
    /// most 8 digits, read in one pass, its strings ended in place; nil, nothing read, for
    /// anything else (or an answer too large to copy), which the general reading takes.
    @inline(__always)
    private static func formedConcept(_ reader: inout JSONReader, _ form: ResponseFields.ConceptForm,
                                      _ conceptStrings: StringsInPlace) -> clarifai_concept? {
        let start = reader.offset
        guard reader.skipPlainText(form.opening), let id = reader.readPlainStringRest(),
              reader.skipPlainText(form.afterID), let name = reader.readPlainStringRest(),
              reader.skipPlainText(form.afterName), let value = reader.readPlainFraction(),
              reader.skipPlainText(form.afterValue), let appID = reader.readPlainStringRest(),
              reader.skipPlainBytes(UInt8(ascii: "\""), UInt8(ascii: "}")),
              let idText = conceptStrings.cString(id), let nameText = conceptStrings.cString(name),
              let appIDText = conceptStrings.cString(appID) else {
            reader.offset = start
            return nil
        }
        return clarifai_concept(id: idText, name: nameText, value: Float(value), app_id: appIDText)
    }

    /// A JSON number as a float field's value, as JSONToProto reads it: the nearest double, then
    /// the nearest float.
    @inline(__always)
    private static func floatValue(_ reader: inout JSONReader) throws -> Float {
        if let fraction = reader.readPlainFraction() { return Float(fraction) }
        let value = try numberValue(&reader).tokenValue
        guard value.isFinite, Float(value).isFinite else { throw NotPlain() }
        return Float(value)
    }

    /// Reads the object the reader is at: `read` gets each member whose field is one of `wanted`
    /// (by its position there; each at most once) with the reader at its value; the other members
    /// are stepped over.
    private static func forEachWanted(_ reader: inout JSONReader, _ type: MessageType, _ wanted: (Int, Int, Int, Int),
                                      _ read: (Int, inout JSONReader) throws -> Void) throws {
        var seen: UInt8 = 0
        try beginObject(&reader)
        var first = true, cursor = 0
        while try reader.nextMember(first: &first) {
            let position: Int
            switch try fieldNumber(&reader, type, &cursor) {
            case wanted.0: position = 0
            case wanted.1: position = 1
            case wanted.2: position = 2
            case wanted.3: position = 3
            default:
                try skip(&reader)
                continue
            }
            guard seen & 1 << position == 0 else { throw NotPlain() }
            seen |= 1 << position
            try read(position, &reader)
        }
    }

    /// The field number of the next member's key in `type` (0 for a key it lacks), the reader then
    /// at the member's value; `cursor` follows the type's fields in order (MessageType.expectedKey).
    @inline(__always)
    private static func fieldNumber(_ reader: inout JSONReader, _ type: MessageType, _ cursor: inout Int) throws -> Int {
        let index: Int?
        if let expected = type.expectedKey(cursor), reader.skipKey(expected.name, quoted: expected.quoted) {
            index = expected.field
            cursor = expected.next
        } else {
            var key: [UInt8] = []
            switch try reader.readKey(orDecodeInto: &key) {
            case .slice(let name): index = type.fieldIndex(named: name, cursor: &cursor)
            case .decoded: index = key.withUnsafeBytes { type.fieldIndex(named: $0, cursor: &cursor) }
            }
        }
        return index.map { type.jsonPlan($0).number } ?? 0
    }

    /// Whether the value the reader is at (left there) makes a field present in the protobuf form:
    /// anything but null and an empty array (a malformed value too, for its reader to report).
    private static func holdsValue(_ reader: inout JSONReader) -> Bool {
        let start = reader.offset
        defer { reader.offset = start }
        if reader.peekByte() == UInt8(ascii: "n") { return false }
        return !(reader.consumeIf(UInt8(ascii: "[")) && reader.consumeIf(UInt8(ascii: "]")))
    }

    @inline(__always)
    private static func beginObject(_ reader: inout JSONReader) throws {
        guard reader.peekByte() == UInt8(ascii: "{") else { throw NotPlain() }
        try reader.beginObject()
    }

    /// A value left for later readers.
    @inline(__always)
    private static func skip(_ reader: inout JSONReader) throws {
        guard reader.skipStructure() else { throw NotPlain() }
    }

    /// A JSON number (not one in a string).
    @inline(__always)
    private static func numberValue(_ reader: inout JSONReader) throws -> JSONNumber {
        guard let next = reader.peekByte(), next == UInt8(ascii: "-") || next &- UInt8(ascii: "0") < 10 else { throw NotPlain() }
        return try reader.readNumber()
    }

    /// A JSON string as a C string in `strings` (up to its first NUL, as from the protobuf form).
    private static func string(_ reader: inout JSONReader, _ strings: StringArena) throws -> UnsafePointer<CChar> {
        if let text = reader.readPlainString() { return strings.add(text) }
        guard reader.peekByte() == UInt8(ascii: "\"") else { throw NotPlain() }
        var decoded: [UInt8] = []
        switch try reader.readString(orDecodeInto: &decoded) {
        case .slice(let text): return strings.add(text)
        case .decoded: return decoded.withUnsafeBytes { strings.add($0) }
        }
    }
}
