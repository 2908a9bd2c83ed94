/// `R/stations/<id>/event` (agent -> hub, QoS 1, never retained): what a PC's agent reports
/// beyond its heartbeat. The hub stores each as an event (`agent.order_done`, `agent.order_failed`, `agent.tamper`).
public struct AgentReportMessage: ContractMessage {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        /// An order (`logout`, `shutdown`, `restart`, `message`) was carried out.
        case orderDone = "order.done"
        /// An order could not be carried out (`detail` says why).
        case orderFailed = "order.failed"
        /// Something tried to get past the lock (`reason`).
        case tamper
    }

    public enum Report: Sendable, Equatable {
        case orderDone(command: String, action: OrderAction)
        case orderFailed(command: String, action: OrderAction, detail: String)
        case tamper(TamperReason)
    }

    public var station: StationID
    public var report: Report
    /// The agent's own wall clock, for the record only: the hub stamps events with its time.
    public var sentAt: String

    public init(station: StationID, report: Report, sentAt: String) {
        self.station = station
        self.report = report
        self.sentAt = sentAt
    }

    public var kind: Kind {
        switch report {
        case .orderDone: return .orderDone
        case .orderFailed: return .orderFailed
        case .tamper: return .tamper
        }
    }

    /// Longest `detail` an agent sends (and the hub keeps).
    public static let maxDetailLength = 200

    public var json: JSONValue {
        var body: [String: JSONValue] = ["type": JSONValue(kind), "station": .string(station.value), "sent_at": .string(sentAt)]
        switch report {
        case .orderDone(let command, let action):
            body["command"] = .string(command)
            body["action"] = JSONValue(action)
        case .orderFailed(let command, let action, let detail):
            body["command"] = .string(command)
            body["action"] = JSONValue(action)
            body["detail"] = .string(String(detail.prefix(Self.maxDetailLength)))
        case .tamper(let reason):
            body["reason"] = JSONValue(reason)
        }
        return .object(body)
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "an agent report")
        let station = try f.station()
        let sentAt = try f.string("sent_at")
        switch try f.enumeration("type", Kind.self) {
        case .orderDone:
            self.init(station: station, report: .orderDone(command: try f.string("command"), action: try f.enumeration("action", OrderAction.self)),
                      sentAt: sentAt)
        case .orderFailed:
            let detail = try f.string("detail")
            guard detail.count <= Self.maxDetailLength else { throw MessageDecodingError("\"detail\" is too long") }
            self.init(station: station, report: .orderFailed(command: try f.string("command"),
                                                             action: try f.enumeration("action", OrderAction.self), detail: detail),
                      sentAt: sentAt)
        case .tamper:
            self.init(station: station, report: .tamper(try f.enumeration("reason", TamperReason.self)), sentAt: sentAt)
        }
    }
}
