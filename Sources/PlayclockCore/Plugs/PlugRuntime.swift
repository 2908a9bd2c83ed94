import PlayclockContract

/// What the hub knows and wants of a station's plug. Not stored: rebuilt from reports after a start.
struct PlugRuntime: Sendable, Equatable {
    var online: Bool?
    var power: Bool?
    var watts: Double?
    /// The state last commanded; nil before the first command.
    var commanded: Bool?
    /// Commands sent for `commanded` without a matching report.
    var attempts = 0
    var retryAtMonoNanos: Int64?
    /// Shown as the station's status (`alarm`) and in its plug state.
    var alarm: PlugAlarm?
    /// Set once a bypass (power drawn with no session) was reported, until the draw stops.
    var bypassReported = false
    /// Highest draw seen during the current session.
    var sessionMaxWatts: Double?
    /// Id of the last Shelly Gen2 status query, to recognise its reply.
    var statusQueryID: Int64?
    /// After a session ends, the plug stays on until then (graceful delay for consoles).
    var offAtMonoNanos: Int64?

    var confirmed: Bool { commanded != nil && power == commanded }
}
