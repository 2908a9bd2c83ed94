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

/// A paid session, as stored: enough to recompute the remaining time after any restart.
///
/// Time used is kept as `usedMillisAtAnchor` plus, while running, the monotonic time elapsed since
/// `anchor` (a reading of the hub clocks). The anchor moves on every change (pause, resume,
/// extend, transfer, recovery); nothing needs to be written while a session simply runs.
public struct SessionRecord: Sendable, Equatable {
    public var id: String
    public var station: StationID
    public var grantedMillis: Int64
    public var usedMillisAtAnchor: Int64
    public var anchor: Timestamp
    public var paused: Bool
    public var startedAtWallMillis: Int64
    /// Warning thresholds (seconds) already announced for the current remaining time.
    public var warnedThresholds: [Int64]
    public var endedAtWallMillis: Int64?
    public var endReason: EndReason?

    public init(
        id: String, station: StationID, grantedMillis: Int64, usedMillisAtAnchor: Int64, anchor: Timestamp,
        paused: Bool, startedAtWallMillis: Int64, warnedThresholds: [Int64] = [], endedAtWallMillis: Int64? = nil,
        endReason: EndReason? = nil
    ) {
        self.id = id
        self.station = station
        self.grantedMillis = grantedMillis
        self.usedMillisAtAnchor = usedMillisAtAnchor
        self.anchor = anchor
        self.paused = paused
        self.startedAtWallMillis = startedAtWallMillis
        self.warnedThresholds = warnedThresholds
        self.endedAtWallMillis = endedAtWallMillis
        self.endReason = endReason
    }

    public var isEnded: Bool { endedAtWallMillis != nil }

    /// Time used at `now`, measured on the monotonic clock. Only valid within the anchor's boot;
    /// `HubCore.recover` re-anchors sessions from an earlier boot first.
    public func usedMillis(at now: Timestamp) -> Int64 {
        guard !paused, now.bootID == anchor.bootID else { return usedMillisAtAnchor }
        let elapsed = max(0, (now.monoNanos - anchor.monoNanos) / 1_000_000)
        return min(grantedMillis, usedMillisAtAnchor + elapsed)
    }

    public func remainingMillis(at now: Timestamp) -> Int64 {
        max(0, grantedMillis - usedMillis(at: now))
    }

    /// Moves the anchor to `now`, folding elapsed time into `usedMillisAtAnchor`.
    public mutating func reanchor(at now: Timestamp) {
        usedMillisAtAnchor = usedMillis(at: now)
        anchor = now
    }
}

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

    /// The type as the contract's enum; nil for a type this version does not know.
    public var kind: EventType? { EventType(rawValue: type) }
}

/// Venue policy the core applies. Every value has a default a venue can override in the config file.
public struct HubPolicy: Sendable, Equatable {
    /// Seconds before the end at which agents get `warn`.
    public var warnThresholdsSeconds: [Int64] = [300, 60]
    /// Countdown cadence while more than `finalPhaseSeconds` remain.
    public var countdownIntervalSeconds: Int64 = 10
    /// Countdown cadence within the final phase.
    public var finalCountdownIntervalSeconds: Int64 = 1
    public var finalPhaseSeconds: Int64 = 60
    /// Expected agent heartbeat interval, and how many may be missed before a station is offline.
    public var heartbeatIntervalSeconds: Int64 = 5
    public var missedHeartbeats: Int64 = 3
    /// How long a station shows `expired` before it returns to `idle`.
    public var expiredHoldSeconds: Int64 = 300
    /// Longest session (and longest remaining time after an extension) a request may create.
    public var maxSessionSeconds: Int64 = 24 * 3600
    /// Largest request payload accepted, in bytes.
    public var maxRequestBytes: Int = 16 * 1024
    /// Largest heartbeat payload accepted, in bytes.
    public var maxHeartbeatBytes: Int = 4 * 1024
    /// Seconds a plug stays on after its session ends (lets a console save; 0: off at once).
    public var plugOffDelaySeconds: Int64 = 0
    /// The plug's own off-timer is armed to the remaining time plus this margin.
    public var plugFailsafeMarginSeconds: Int64 = 60
    /// First wait for a plug's confirmation before re-sending; doubles up to the maximum.
    public var plugRetryInitialSeconds: Int64 = 1
    public var plugRetryMaxSeconds: Int64 = 30
    /// Unconfirmed sends after which the station raises the `unconfirmed` alarm.
    public var plugAlarmAfterAttempts: Int = 3
    /// Draw at or above which a console counts as in use.
    public var plugActiveWatts: Double = 15
    /// The most a plug can really draw (a 16 A plug at 230 V is about 3.7 kW): readings above it,
    /// and negative or non-finite ones, are ignored as implausible and never raise an alarm.
    public var plugMaxWatts: Double = 4000

    public init() {}

    public var offlineAfterNanos: Int64 { heartbeatIntervalSeconds * missedHeartbeats * 1_000_000_000 }

    /// The bounds staff requests are decoded against.
    public var requestLimits: RequestLimits {
        RequestLimits(maxRequestBytes: maxRequestBytes, maxSessionSeconds: maxSessionSeconds)
    }
}
