import PlayclockContract

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
    /// How the session is paid for; nil: no money involved (time given by staff).
    public var billing: SessionBilling?

    public init(
        id: String, station: StationID, grantedMillis: Int64, usedMillisAtAnchor: Int64, anchor: Timestamp,
        paused: Bool, startedAtWallMillis: Int64, warnedThresholds: [Int64] = [], endedAtWallMillis: Int64? = nil,
        endReason: EndReason? = nil, billing: SessionBilling? = nil
    ) {
        self.billing = billing
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
