/// The base of every object handed to C as a handle. Its first stored property, at a fixed
/// offset in every Swift object, is a tag naming the kind of handle; entry points check it, so a
/// client passed where a response is expected (easy from ctypes, where every handle is a
/// c_void_p) is refused instead of used. The tag is cleared when the object goes, so a freed
/// handle is refused too, as long as its memory was not reused (as libcurl and sqlite do it).
open class HandleObject: @unchecked Sendable {
    /// Where the tag is: after the object header (the metadata pointer and the reference counts).
    static let tagOffset = 2 * MemoryLayout<UInt>.size

    private var tag: UInt64

    public init(tag: UInt64) { self.tag = tag }

    deinit { tag = 0 }

    /// The tag of the object `handle` points to, read without assuming its kind.
    public static func tag(of handle: UnsafeRawPointer) -> UInt64 {
        handle.load(fromByteOffset: tagOffset, as: UInt64.self)
    }
}

/// The tags of the library's handles: distinct 64-bit values, unlikely in memory by chance.
public enum HandleTag {
    public static let channel: UInt64 = 0x434C_4649_4348_414E  // "CLFICHAN"
    public static let client: UInt64 = 0x434C_4649_434C_4E54   // "CLFICLNT"
    public static let response: UInt64 = 0x434C_4649_5245_5350 // "CLFIRESP"
    public static let stream: UInt64 = 0x434C_4649_5354_524D   // "CLFISTRM"
    public static let queue: UInt64 = 0x434C_4649_5155_4555    // "CLFIQUEU"
    public static let pager: UInt64 = 0x434C_4649_5041_4745    // "CLFIPAGE"
}
