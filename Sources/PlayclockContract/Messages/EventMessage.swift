/// `R/events` (hub -> dashboards and integrations, QoS 1, not retained), and `/api/events`:
/// one stored event. `type` is an `EventType` raw value; it is kept as a string so a row written
/// by another version of the hub is shown as it is.
public struct EventMessage: ContractMessage {
    public var id: Int64
    public var type: String
    public var at: String
    public var station: String?
    public var session: String?
    public var data: JSONValue

    public init(id: Int64, type: String, at: String, station: String?, session: String?, data: JSONValue) {
        self.id = id
        self.type = type
        self.at = at
        self.station = station
        self.session = session
        self.data = data
    }

    public var kind: EventType? { EventType(rawValue: type) }

    public var json: JSONValue {
        ["id": .int(id), "type": .string(type), "at": .string(at), "station": JSONValue(station), "session": JSONValue(session),
         "data": data]
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "an event")
        self.init(id: try f.int("id"), type: try f.string("type"), at: try f.string("at"), station: try f.optionalString("station"),
                  session: try f.optionalString("session"), data: f.object["data"] ?? .object([:]))
    }
}
