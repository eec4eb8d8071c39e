/// What WireFields.validate checks in each field of every message type, as flat tables built
/// once per schema, so that checking a whole answer is one tight loop: no hashing, no reference
/// counting, no error building. `passes` answers only yes or no; when it says no, validate runs
/// its field-naming pass to say where and why (or to accept what this pass leaves to it: groups,
/// field numbers beyond the tables).
struct WireChecks: Sendable {
    /// Entries of `entries`: a field's message type (its index in the schema) when >= 0, else:
    private static let unchecked: Int32 = -1  // no field of that number, or a kind with nothing to check
    private static let string: Int32 = -2     // UTF-8 checked
    /// Where each message type's entries start in `entries` (indexed by field number), and how
    /// many it has; -1 for a type whose field numbers are too large for a table.
    private let starts: [Int]
    private let counts: [Int]
    private let entries: [Int32]

    init(_ types: [MessageType]) {
        var starts: [Int] = [], counts: [Int] = [], entries: [Int32] = []
        for type in types {
            starts.append(entries.count)
            let largest = type.fields.map(\.number).max() ?? 0
            guard largest < MessageType.tabledNumbers else {
                counts.append(-1)
                continue
            }
            var table = [Int32](repeating: WireChecks.unchecked, count: largest + 1)
            for field in type.fields.reversed() {  // the first of fields sharing a number wins, as in fieldIndex(number:)
                switch field.kind {
                case .message, .group: table[field.number] = field.messageIndex >= 0 ? Int32(field.messageIndex) : WireChecks.unchecked
                case .string: table[field.number] = WireChecks.string
                default: table[field.number] = WireChecks.unchecked
                }
            }
            counts.append(table.count)
            entries += table
        }
        self.starts = starts
        self.counts = counts
        self.entries = entries
    }

    /// Whether `bytes` is a well-formed message of type `index` whose strings are UTF-8 at every
    /// level, nested at most ProtoToJSON.maximumDepth deep, without groups.
    func passes(_ bytes: UnsafeRawBufferPointer, type index: Int) -> Bool {
        starts.withUnsafeBufferPointer { starts in
            counts.withUnsafeBufferPointer { counts in
                entries.withUnsafeBufferPointer { entries in
                    Walk(starts: starts, counts: counts, entries: entries).passes(bytes, index, depth: 0)
                }
            }
        }
    }

    private struct Walk {
        let starts: UnsafeBufferPointer<Int>
        let counts: UnsafeBufferPointer<Int>
        let entries: UnsafeBufferPointer<Int32>

        func passes(_ bytes: UnsafeRawBufferPointer, _ type: Int, depth: Int) -> Bool {
            guard depth < ProtoToJSON.maximumDepth, counts[type] >= 0 else { return false }
            guard var cursor = bytes.baseAddress else { return true }
            let end = cursor + bytes.count
            let first = starts[type], count = UInt64(counts[type])
            while cursor < end {
                guard let tag = WireReader.varint(&cursor, end), tag >> 3 != 0, tag >> 3 <= 0x1FFF_FFFF else { return false }
                switch tag & 7 {
                case 0:
                    guard WireReader.varint(&cursor, end) != nil else { return false }
                case 1, 5:
                    let width = tag & 7 == 1 ? 8 : 4
                    guard end - cursor >= width else { return false }
                    cursor += width
                case 2:
                    guard let length = WireReader.varint(&cursor, end), length <= UInt64(end - cursor) else { return false }
                    let payload = UnsafeRawBufferPointer(start: cursor, count: Int(length))
                    cursor += Int(length)
                    let number = tag >> 3
                    let entry = number < count ? entries[first + Int(number)] : WireChecks.unchecked
                    if entry >= 0 {
                        guard passes(payload, Int(entry), depth: depth + 1) else { return false }
                    } else if entry == WireChecks.string {
                        // Most strings are ASCII: told here, without a call.
                        guard ProtoToJSON.isASCII(payload) || ProtoToJSON.isValidUTF8(payload) else { return false }
                    }
                default:
                    return false  // groups (left to validate's pass) and the wire types 6 and 7
                }
            }
            return true
        }
    }
}
