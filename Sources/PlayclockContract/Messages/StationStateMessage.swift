/// `R/stations/<id>/state` (hub -> everyone, QoS 1, retained): the station as the hub knows it.
/// Also the `data` of `station/get` and of every request that changes a station, the dashboard's
/// `state` frames and `/api/stations`.
public struct StationStateMessage: ContractMessage {
    public var station: StationID
    public var name: String
    public var kind: StationKind
    public var zone: String?
    /// nil: not known yet (see `topics.md`, "Presence").
    public var online: Bool?
    public var status: StationStatus
    public var maintenance: Bool
    public var session: Session?
    /// The agent's last heartbeat, without `seq`.
    public var agent: [String: JSONValue]
    public var plug: Plug?
    public var updatedAt: String

    public struct Session: Sendable, Equatable {
        public var id: String
        public var startedAt: String
        /// nil while paused.
        public var endsAt: String?
        public var remainingSeconds: Int64
        public var grantedSeconds: Int64
        public var paused: Bool
        /// How it is paid: `prepaid` (sold at the desk), `balance` (a member's balance, charged at
        /// the end), `later` (charged at the end, paid at the counter); nil: no money involved.
        /// Only present in the JSON when set.
        public var billing: String?
        /// The member whose balance pays, for `balance`.
        public var member: MemberSummary?

        public init(
            id: String, startedAt: String, endsAt: String?, remainingSeconds: Int64, grantedSeconds: Int64, paused: Bool,
            billing: String? = nil, member: MemberSummary? = nil
        ) {
            self.id = id
            self.startedAt = startedAt
            self.endsAt = endsAt
            self.remainingSeconds = remainingSeconds
            self.grantedSeconds = grantedSeconds
            self.paused = paused
            self.billing = billing
            self.member = member
        }

        var json: JSONValue {
            var body: [String: JSONValue] = [
                "id": .string(id), "started_at": .string(startedAt), "ends_at": JSONValue(endsAt), "remaining_s": .int(remainingSeconds),
                "granted_s": .int(grantedSeconds), "paused": .bool(paused),
            ]
            if let billing { body["billing"] = .string(billing) }
            if let member { body["member"] = member.json }
            return .object(body)
        }

        init(json: JSONValue) throws(MessageDecodingError) {
            let f = try Fields(json, "\"session\"")
            let member = try f.object["member"].flatMap { $0 == .null ? nil : $0 }.map { v throws(MessageDecodingError) in
                try MemberSummary(json: v)
            }
            self.init(id: try f.string("id"), startedAt: try f.string("started_at"), endsAt: try f.optionalString("ends_at"),
                      remainingSeconds: try f.int("remaining_s"), grantedSeconds: try f.int("granted_s"), paused: try f.bool("paused"),
                      billing: try f.optionalString("billing"), member: member)
        }
    }

    /// The plug binding's own fields (`type`, `topic`, `relay`, ...) and what the plug reported.
    public struct Plug: Sendable, Equatable {
        public var binding: PlugBinding
        public var online: Bool?
        public var power: Bool?
        /// Rounded to a tenth of a watt.
        public var watts: Double?
        /// The last report matches what the hub commanded.
        public var confirmed: Bool
        public var alarm: PlugAlarm?
        /// Switched on by hand (`plug/power`) outside a session.
        public var hold: Bool

        public init(binding: PlugBinding, online: Bool?, power: Bool?, watts: Double?, confirmed: Bool, alarm: PlugAlarm?, hold: Bool) {
            self.binding = binding
            self.online = online
            self.power = power
            self.watts = watts
            self.confirmed = confirmed
            self.alarm = alarm
            self.hold = hold
        }

        var json: JSONValue {
            guard case .object(var fields) = binding.json else { return .null }
            fields["online"] = online.map { .bool($0) } ?? .null
            fields["power"] = power.map { .bool($0) } ?? .null
            fields["watts"] = watts.map { .double($0) } ?? .null
            fields["confirmed"] = .bool(confirmed)
            fields["alarm"] = alarm.map { JSONValue($0) } ?? .null
            fields["hold"] = .bool(hold)
            return .object(fields)
        }

        init(json: JSONValue) throws(MessageDecodingError) {
            let f = try Fields(json, "\"plug\"")
            let binding: PlugBinding
            do { binding = try PlugBinding.parse(json) } catch { throw MessageDecodingError(error.message) }
            self.init(binding: binding, online: try f.optionalBool("online"), power: try f.optionalBool("power"),
                      watts: try f.optionalDouble("watts"), confirmed: try f.bool("confirmed"),
                      alarm: try f.optionalEnumeration("alarm", PlugAlarm.self), hold: try f.bool("hold"))
        }
    }

    public init(
        station: StationID, name: String, kind: StationKind, zone: String?, online: Bool?, status: StationStatus, maintenance: Bool,
        session: Session?, agent: [String: JSONValue], plug: Plug?, updatedAt: String
    ) {
        self.station = station
        self.name = name
        self.kind = kind
        self.zone = zone
        self.online = online
        self.status = status
        self.maintenance = maintenance
        self.session = session
        self.agent = agent
        self.plug = plug
        self.updatedAt = updatedAt
    }

    public var json: JSONValue {
        ["station": .string(station.value), "name": .string(name), "kind": .string(kind.value), "zone": JSONValue(zone),
         "online": online.map { .bool($0) } ?? .null, "status": JSONValue(status), "maintenance": .bool(maintenance),
         "session": session?.json ?? .null, "agent": .object(agent), "plug": plug?.json ?? .null, "updated_at": .string(updatedAt)]
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "a station state")
        guard let kind = StationKind(try f.string("kind")) else { throw MessageDecodingError("\"kind\" is not a valid kind") }
        guard let agent = (f.object["agent"] ?? .object([:])).objectValue else { throw MessageDecodingError("\"agent\" must be an object") }
        let session = try f.object["session"].flatMap { $0 == .null ? nil : $0 }.map { v throws(MessageDecodingError) in try Session(json: v) }
        let plug = try f.object["plug"].flatMap { $0 == .null ? nil : $0 }.map { v throws(MessageDecodingError) in try Plug(json: v) }
        self.init(
            station: try f.station(), name: try f.string("name"), kind: kind, zone: try f.optionalString("zone"),
            online: try f.optionalBool("online"), status: try f.enumeration("status", StationStatus.self),
            maintenance: try f.bool("maintenance"), session: session, agent: agent, plug: plug, updatedAt: try f.string("updated_at"))
    }
}
