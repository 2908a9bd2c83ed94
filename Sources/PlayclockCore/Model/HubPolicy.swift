import PlayclockContract

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
    /// Largest agent report (`R/stations/<id>/event`) accepted, in bytes.
    public var maxAgentReportBytes: Int = 4 * 1024
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

    /// How long after a sale a manager may still void it (`sale/void`).
    public var voidWindowSeconds: Int64 = 15 * 60
    /// Wrong PINs in a row after which a member cannot sign in at a station for `pinLockSeconds`.
    public var pinMaxAttempts: Int = 5
    public var pinLockSeconds: Int64 = 15 * 60

    public init() {}

    public var offlineAfterNanos: Int64 { heartbeatIntervalSeconds * missedHeartbeats * 1_000_000_000 }

    /// The bounds staff requests are decoded against.
    public var requestLimits: RequestLimits {
        RequestLimits(maxRequestBytes: maxRequestBytes, maxSessionSeconds: maxSessionSeconds)
    }
}
