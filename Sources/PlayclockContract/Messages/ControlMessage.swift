/// `R/stations/<id>/control` (hub -> agent, QoS 1, not retained): what the station must do now.
/// Agents treat a repeated lock or unlock as a no-op. Times are ISO 8601 UTC strings as sent.
public enum ControlMessage: ContractMessage {
    /// Lock the screen. `session` is the session that just ended or paused, if any.
    case lock(Lock)
    /// Unlock for a running session.
    case unlock(Grant)
    /// The session is about to end (`threshold_s` before the end).
    case warn(Grant, thresholdSeconds: Int64)
    /// Time was added to the running session.
    case extend(Grant, addedSeconds: Int64)
    /// A one-off order from staff (log out, shut down, restart, show a text). Never repeated by
    /// the hub; the agent runs each `command` id once and reports it on `R/stations/<id>/event`.
    case order(Order)

    public struct Lock: Sendable, Equatable {
        public var station: StationID
        public var session: String?
        /// `reason` as sent. An agent must lock whatever the reason says, so a reason this version
        /// does not know (sent by a newer hub) still decodes; the hub only ever sends a `LockReason`.
        public private(set) var reasonText: String
        public var sentAt: String

        /// nil: a reason this version does not know.
        public var reason: LockReason? { LockReason(rawValue: reasonText) }

        public init(station: StationID, session: String?, reason: LockReason, sentAt: String) {
            self.init(station: station, session: session, reasonText: reason.rawValue, sentAt: sentAt)
        }

        init(station: StationID, session: String?, reasonText: String, sentAt: String) {
            self.station = station
            self.session = session
            self.reasonText = reasonText
            self.sentAt = sentAt
        }
    }

    /// A running session as an agent needs it: until when, how much is left.
    public struct Grant: Sendable, Equatable {
        public var station: StationID
        public var session: String
        /// nil only while the session is paused (never sent with `unlock`).
        public var endsAt: String?
        public var remainingSeconds: Int64
        public var sentAt: String
        /// The member whose balance pays for the session, if one does (nil: paid at the desk).
        public var member: MemberSummary?

        public init(
            station: StationID, session: String, endsAt: String?, remainingSeconds: Int64, sentAt: String,
            member: MemberSummary? = nil
        ) {
            self.station = station
            self.session = session
            self.endsAt = endsAt
            self.remainingSeconds = remainingSeconds
            self.sentAt = sentAt
            self.member = member
        }
    }

    /// A staff order for one PC.
    public struct Order: Sendable, Equatable {
        public var station: StationID
        /// The order's id (the hub makes it), echoed in the agent's report.
        public var command: String
        public var action: OrderAction
        /// The text to show, for `message` only (nil otherwise).
        public var text: String?
        public var sentAt: String

        public init(station: StationID, command: String, action: OrderAction, text: String? = nil, sentAt: String) {
            self.station = station
            self.command = command
            self.action = action
            self.text = action == .message ? text : nil
            self.sentAt = sentAt
        }
    }

    public var action: ControlAction {
        switch self {
        case .lock: return .lock
        case .unlock: return .unlock
        case .warn: return .warn
        case .extend: return .extend
        case .order(let o): return o.action.controlAction
        }
    }

    public var station: StationID {
        switch self {
        case .lock(let l): return l.station
        case .unlock(let g), .warn(let g, _), .extend(let g, _): return g.station
        case .order(let o): return o.station
        }
    }

    public var json: JSONValue {
        var body: [String: JSONValue] = ["action": JSONValue(action), "station": .string(station.value)]
        switch self {
        case .lock(let l):
            body["session"] = JSONValue(l.session)
            body["reason"] = .string(l.reasonText)
            body["sent_at"] = .string(l.sentAt)
        case .unlock(let g):
            Self.put(g, into: &body)
        case .warn(let g, let threshold):
            Self.put(g, into: &body)
            body["threshold_s"] = .int(threshold)
        case .extend(let g, let added):
            Self.put(g, into: &body)
            body["added_s"] = .int(added)
        case .order(let o):
            body["command"] = .string(o.command)
            body["sent_at"] = .string(o.sentAt)
            if let text = o.text { body["text"] = .string(text) }
        }
        return .object(body)
    }

    private static func put(_ g: Grant, into body: inout [String: JSONValue]) {
        body["session"] = .string(g.session)
        body["ends_at"] = JSONValue(g.endsAt)
        body["remaining_s"] = .int(g.remainingSeconds)
        body["sent_at"] = .string(g.sentAt)
        if let member = g.member { body["member"] = member.json }
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "a control message")
        let action = try f.enumeration("action", ControlAction.self)
        let station = try f.station()
        if let order = OrderAction(rawValue: action.rawValue) {
            let text = order == .message ? try f.string("text") : nil
            self = .order(Order(station: station, command: try f.string("command"), action: order, text: text,
                                sentAt: try f.string("sent_at")))
            return
        }
        if action == .lock {
            self = .lock(Lock(station: station, session: try f.optionalString("session"),
                              reasonText: try f.string("reason"), sentAt: try f.string("sent_at")))
            return
        }
        let member = try f.object["member"].flatMap { $0 == .null ? nil : $0 }.map { v throws(MessageDecodingError) in
            try MemberSummary(json: v)
        }
        let grant = Grant(station: station, session: try f.string("session"), endsAt: try f.optionalString("ends_at"),
                          remainingSeconds: try f.int("remaining_s"), sentAt: try f.string("sent_at"), member: member)
        switch action {
        case .unlock: self = .unlock(grant)
        case .warn: self = .warn(grant, thresholdSeconds: try f.int("threshold_s"))
        case .extend: self = .extend(grant, addedSeconds: try f.int("added_s"))
        case .lock, .logout, .shutdown, .restart, .message: preconditionFailure("handled above")
        }
    }
}
