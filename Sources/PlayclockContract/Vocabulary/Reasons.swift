/// Why a station is locked: `reason` in a `lock` control message and in `station.locked`.
public enum LockReason: String, Sendable, CaseIterable, Codable {
    /// No session (a new station, or the state sent on reconnect).
    case idle
    /// The session ran out; the station shows `expired` for a while.
    case expired
    case stopped
    case paused
    /// The session moved to another station.
    case transferred
    case maintenance
}

/// How a session ended (`end_reason` in the store).
public enum EndReason: String, Sendable, CaseIterable, Codable {
    case expired
    case stopped
}

/// Why a station went offline: `reason` in `station.offline`.
public enum OfflineReason: String, Sendable, CaseIterable, Codable {
    /// Heard before, then silent for the heartbeat window.
    case heartbeatTimeout = "heartbeat_timeout"
    /// The agent said so (its will, or a clean shutdown).
    case agentOffline = "agent_offline"
    /// Not heard at all within a window after the hub started or reconnected.
    case noHeartbeat = "no_heartbeat"
}

/// A plug alarm: `plug.alarm` in a station's state and `reason` in `plug.alarm` / `plug.alarm_cleared`.
public enum PlugAlarm: String, Sendable, CaseIterable, Codable {
    /// The plug's last will: it is off the network.
    case offline
    /// Switch commands went unconfirmed `plug_alarm_after_attempts` times.
    case unconfirmed
}

/// `action` of a message on `R/stations/<id>/control`.
public enum ControlAction: String, Sendable, CaseIterable, Codable {
    case lock, unlock, warn, extend
    /// One-off orders staff send to a PC (`station/logout`, `station/shutdown`, `station/restart`,
    /// `station/message`); the agent confirms each on `R/stations/<id>/event`.
    case logout, shutdown, restart, message
}

/// A one-off order to a PC's agent: what `ControlMessage.order` asks for.
public enum OrderAction: String, Sendable, CaseIterable, Codable {
    /// End the desktop user's session (the agent runs its configured logout command).
    case logout
    case shutdown
    case restart
    /// Show a staff text on the screen.
    case message

    public var controlAction: ControlAction {
        switch self {
        case .logout: return .logout
        case .shutdown: return .shutdown
        case .restart: return .restart
        case .message: return .message
        }
    }
}

/// Something an agent saw that a customer may have done to escape it: `reason` in an agent's
/// `tamper` report and in its heartbeat's `tamper` list.
public enum TamperReason: String, Sendable, CaseIterable, Codable {
    /// The lock screen or the overlay was unmapped by someone else.
    case windowUnmapped = "window_unmapped"
    /// Another client took the keyboard or pointer grab while the station was locked.
    case grabLost = "grab_lost"
    /// The PC's wall clock moved against its monotonic clock (the lease ignores it).
    case wallClockChanged = "wall_clock_changed"
    /// The lease file was writable by others, owned by someone else or damaged: ignored, locked.
    case leaseFileRejected = "lease_file_rejected"
}
