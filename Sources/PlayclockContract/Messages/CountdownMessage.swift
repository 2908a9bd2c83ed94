/// `R/stations/<id>/countdown` (hub -> overlays and boards, QoS 0, not retained): the time left,
/// every `countdown_interval_s` and every second in the final phase.
public struct CountdownMessage: ContractMessage {
    public var station: StationID
    /// nil: no session (sent once when one ends).
    public var session: String?
    public var remainingSeconds: Int64
    public var endsAt: String?
    public var paused: Bool

    public init(station: StationID, session: String?, remainingSeconds: Int64, endsAt: String?, paused: Bool) {
        self.station = station
        self.session = session
        self.remainingSeconds = remainingSeconds
        self.endsAt = endsAt
        self.paused = paused
    }

    /// The message for a station without a session.
    public static func none(_ station: StationID) -> CountdownMessage {
        CountdownMessage(station: station, session: nil, remainingSeconds: 0, endsAt: nil, paused: false)
    }

    public var json: JSONValue {
        ["station": .string(station.value), "session": JSONValue(session), "remaining_s": .int(remainingSeconds),
         "ends_at": JSONValue(endsAt), "paused": .bool(paused)]
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "a countdown")
        self.init(station: try f.station(), session: try f.optionalString("session"), remainingSeconds: try f.int("remaining_s"),
                  endsAt: try f.optionalString("ends_at"), paused: try f.bool("paused"))
    }
}
