import PlayclockContract

/// A station as staff configured it (stored in SQLite).
public struct Station: Sendable, Equatable {
    public var id: StationID
    public var name: String
    public var kind: StationKind
    public var maintenance: Bool
    /// The smart plug the station is powered from, if any.
    public var plug: PlugBinding?
    /// Where the station sits ("VIP room"); see `StationZone`.
    public var zone: String?
    /// Staff switched the plug on by hand (`plug/power`): it stays on while the station has no
    /// session, maintenance or not. Cleared by `plug/power` off, a session starting or arriving,
    /// and unbinding the plug.
    public var powerHold: Bool

    public init(
        id: StationID, name: String, kind: StationKind, maintenance: Bool = false, plug: PlugBinding? = nil,
        zone: String? = nil, powerHold: Bool = false
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.maintenance = maintenance
        self.plug = plug
        self.zone = zone
        self.powerHold = powerHold
    }
}
