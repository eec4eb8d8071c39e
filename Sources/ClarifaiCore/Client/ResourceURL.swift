/// The ids a clarifai.com URL names, as the official SDK reads them (ClarifaiUrlHelper):
/// `https://clarifai.com/{user}/{app}` (an app), `.../{type}/{id}` (a model, a workflow, a
/// dataset, ...) and `.../{type}/{id}/{version_type}/{version}` (one of its versions). Any host
/// (the SDK takes web-dev and on-premise hosts alike); the query and the fragment are ignored,
/// and so is one trailing slash.
public struct ResourceURL: Equatable {
    public let userID: Substring
    public let appID: Substring
    /// "models", "workflows", ...; nil for an app's URL.
    public let resourceType: Substring?
    public let resourceID: Substring?
    public let versionID: Substring?

    public init(parsing url: String) throws {
        let scheme = url.prefix(8).lowercased()
        guard scheme.hasPrefix("https://") || scheme.hasPrefix("http://") else {
            throw ClarifaiError.invalidArgument("'\(url)' is not a Clarifai URL: it does not start with https://")
        }
        var rest = Substring(url).drop(while: { $0 != "/" }).dropFirst(2)
        if let end = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard [3, 5, 7].contains(parts.count), !parts.contains(where: \.isEmpty) else {
            throw ClarifaiError.invalidArgument(
                "'\(url)' names no Clarifai resource: expected https://HOST/{user_id}/{app_id}[/{resource_type}/{resource_id}"
                + "[/{version_type}/{version_id}]], with no empty part")
        }
        userID = parts[1]
        appID = parts[2]
        resourceType = parts.count > 3 ? parts[3] : nil
        resourceID = parts.count > 3 ? parts[4] : nil
        versionID = parts.count > 5 ? parts[6] : nil
    }
}
