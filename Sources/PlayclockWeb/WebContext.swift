import Hummingbird

/// The request context of the dashboard: Hummingbird's core storage plus who is asking.
public struct WebContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `StaffAuthMiddleware` from the session cookie or the board token.
    public var identity: StaffIdentity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
    }

    /// Request bodies are staff commands and sign-ins: small.
    public var maxUploadSize: Int { 64 * 1024 }
}
