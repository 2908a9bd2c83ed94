import PlayclockContract

/// Something that happened, published on `R/events` and stored in SQLite.
public struct HubEvent: Sendable, Equatable {
    public var id: Int64
    public var type: String
    public var atWallMillis: Int64
    public var station: StationID?
    public var session: String?
    public var data: JSONValue

    /// `type` is kept as stored: a row written by another version of the hub is shown as it is.
    /// The hub itself only writes `EventType`s (`init(id:kind:...)`).
    public init(id: Int64, type: String, atWallMillis: Int64, station: StationID?, session: String?, data: JSONValue) {
        self.id = id
        self.type = type
        self.atWallMillis = atWallMillis
        self.station = station
        self.session = session
        self.data = data
    }
}

extension HubEvent {
    public init(id: Int64, kind: EventType, atWallMillis: Int64, station: StationID?, session: String?, data: JSONValue) {
        self.init(id: id, type: kind.rawValue, atWallMillis: atWallMillis, station: station, session: session, data: data)
    }
}
