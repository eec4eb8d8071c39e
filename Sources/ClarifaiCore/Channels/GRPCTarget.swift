/// Where a gRPC channel connects: "host[:port]", "[v6-address][:port]".
struct GRPCTarget: Equatable {
    let host: String
    let port: Int

    /// The authority as written in a URL.
    var authority: String { (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(parsing text: String, defaultPort: Int) throws {
        let usage = "gRPC target '\(text)' must be host[:port] (e.g. api.clarifai.com:443 or [::1]:18080)"
        guard !text.hasPrefix("http://"), !text.hasPrefix("https://") else {
            throw ClarifaiError.invalidArgument(usage + ", without a URL scheme")
        }
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw ClarifaiError.invalidArgument(usage) }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw ClarifaiError.invalidArgument(usage) }
                portText = rest.dropFirst()
            }
        } else if let colon = host.firstIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == "/" || $0 == " " || $0 == "@" || $0 == "?" || $0 == "#" }) else {
            throw ClarifaiError.invalidArgument(usage)
        }
        var port = defaultPort
        if let portText {
            guard portText.allSatisfy({ ("0"..."9").contains($0) }), let number = Int(portText), (1...65535).contains(number) else {
                throw ClarifaiError.invalidArgument(usage + ": the port must be 1-65535")
            }
            port = number
        }
        self.init(host: String(host), port: port)
    }
}
