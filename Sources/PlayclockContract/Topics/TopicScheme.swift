import Foundation

/// Every topic the hub uses, under one root (default `playclock`). `topics.md` documents each.
public struct TopicScheme: Sendable, Equatable {
    public let root: String

    /// What an inbound topic is, for the hub.
    public enum Inbound: Sendable, Equatable {
        case heartbeat(station: String)
        case agent(station: String)
        /// An agent's report (`R/stations/<id>/event`): an order carried out, a tamper seen.
        case agentReport(station: String)
        /// A member signing in or out at a station's lock screen (`R/stations/<id>/signin`).
        case signIn(station: String)
        case request(verb: String)
        /// A request on a staff account's own topic: the broker's ACL guarantees who sent it.
        case userRequest(user: String, verb: String)
    }

    /// A root is one or more non-empty levels without wildcards, NUL, or `$` at the start.
    public init?(root: String) {
        guard !root.isEmpty, root.utf8.count <= 128, !root.hasPrefix("$"),
            !root.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 == 0 }),
            !root.split(separator: "/", omittingEmptySubsequences: false).contains(where: \.isEmpty)
        else { return nil }
        self.root = root
    }

    public var hubStatus: String { "\(root)/hub/status" }
    public var events: String { "\(root)/events" }
    public func heartbeat(_ station: StationID) -> String { "\(root)/stations/\(station)/heartbeat" }
    public func agent(_ station: StationID) -> String { "\(root)/stations/\(station)/agent" }
    public func agentReport(_ station: StationID) -> String { "\(root)/stations/\(station)/event" }
    public func signIn(_ station: StationID) -> String { "\(root)/stations/\(station)/signin" }
    public func signInResult(_ station: StationID) -> String { "\(root)/stations/\(station)/signin/result" }
    public func control(_ station: StationID) -> String { "\(root)/stations/\(station)/control" }
    public func countdown(_ station: StationID) -> String { "\(root)/stations/\(station)/countdown" }
    public func state(_ station: StationID) -> String { "\(root)/stations/\(station)/state" }
    public func request(_ verb: String) -> String { "\(root)/hub/request/\(verb)" }
    public func response(_ verb: String) -> String { "\(root)/hub/response/\(verb)" }
    public func userRequest(_ user: String, _ verb: String) -> String { "\(root)/users/\(user)/request/\(verb)" }
    public func userResponse(_ user: String, _ verb: String) -> String { "\(root)/users/\(user)/response/\(verb)" }

    /// Where the hub may answer a request that names an MQTT v5 Response Topic: only under the
    /// requester's own response topics (`R/users/<account>/response/...`, which the broker's ACL
    /// lets that account read), or for the shared request topic under `R/hub/response/...`.
    /// Never a station's control or state, a plug's command topic, the hub's status or anyone's
    /// request topic: the hub publishes with rights no requester has.
    public func isReplyTopic(_ topic: String, forUser user: String?) -> Bool {
        let prefix = user.map { "\(root)/users/\($0)/response/" } ?? "\(root)/hub/response/"
        let bytes = topic.utf8
        return bytes.count > prefix.utf8.count && bytes.count <= 1024 && topic.hasPrefix(prefix)
            && !bytes.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 == 0 })
    }

    /// The hub's Shelly RPC `src`: Gen2 plugs reply on `<rpcSource>/rpc`.
    public var rpcSource: String { root.replacingOccurrences(of: "/", with: "-") + "-hub" }

    /// The station whose retained state a topic is (`R/stations/<id>/state`), or nil.
    public func stationOfState(_ topic: String) -> String? {
        let prefix = "\(root)/stations/"
        guard topic.hasPrefix(prefix), topic.hasSuffix("/state") else { return nil }
        let id = topic.dropFirst(prefix.count).dropLast("/state".count)
        guard !id.isEmpty, !id.contains("/") else { return nil }
        return String(id)
    }

    /// The filters the hub subscribes to.
    public var heartbeatFilter: String { "\(root)/stations/+/heartbeat" }
    public var agentFilter: String { "\(root)/stations/+/agent" }
    public var agentReportFilter: String { "\(root)/stations/+/event" }
    public var signInFilter: String { "\(root)/stations/+/signin" }
    public var requestFilter: String { "\(root)/hub/request/#" }
    public var userRequestFilter: String { "\(root)/users/+/request/#" }

    /// Classifies a topic the hub received. Station ids are returned raw: the core validates them.
    public func classify(_ topic: String) -> Inbound? {
        let bytes = topic.utf8
        guard bytes.count > root.utf8.count + 1, bytes.starts(with: root.utf8),
            bytes[bytes.index(bytes.startIndex, offsetBy: root.utf8.count)] == UInt8(ascii: "/")
        else { return nil }
        let rest = Substring(bytes.dropFirst(root.utf8.count + 1))
        if rest.hasPrefix("hub/request/") {
            let verb = String(rest.dropFirst("hub/request/".count))
            return verb.isEmpty ? nil : .request(verb: verb)
        }
        let levels = rest.split(separator: "/", omittingEmptySubsequences: false)
        if levels.count >= 4, levels[0] == "users", levels[2] == "request", !levels[1].isEmpty {
            let verb = levels[3...].joined(separator: "/")
            return verb.isEmpty ? nil : .userRequest(user: String(levels[1]), verb: verb)
        }
        guard levels.count == 3, levels[0] == "stations" else { return nil }
        switch levels[2] {
        case "heartbeat": return .heartbeat(station: String(levels[1]))
        case "agent": return .agent(station: String(levels[1]))
        case "event": return .agentReport(station: String(levels[1]))
        case "signin": return .signIn(station: String(levels[1]))
        default: return nil
        }
    }
}
