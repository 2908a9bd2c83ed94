import Hummingbird
import NIOCore

/// The request context of the dashboard: Hummingbird's core storage, the peer's address and who
/// is asking.
public struct WebContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `StaffAuthMiddleware` from the session cookie or the board token.
    public var identity: StaffIdentity?
    /// The TCP peer (never a header such as `X-Forwarded-For`, which any client can write).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// Request bodies are staff commands and sign-ins: small.
    public var maxUploadSize: Int { 64 * 1024 }

    /// Who the sign-in throttle counts this request against: the IPv4 address, or the /64 an IPv6
    /// address is in (one machine can pick any address in its /64).
    var clientKey: String { Self.clientKey(remoteAddress) }

    static func clientKey(_ address: SocketAddress?) -> String {
        switch address {
        case .v4?:
            return address?.ipAddress ?? "unknown"
        case .v6(let v6)?:
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            guard bytes.count == 16 else { return address?.ipAddress ?? "unknown" }
            if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
                return bytes[12..<16].map { String($0) }.joined(separator: ".")  // IPv4-mapped
            }
            let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            return groups.joined(separator: ":") + "::/64"
        case .unixDomainSocket?:
            return "unix"
        case nil:
            return "unknown"
        }
    }
}
