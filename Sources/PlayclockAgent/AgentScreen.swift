/// What the PC shows: the lock screen, or the countdown overlay over the game. The core decides
/// it; a display backend (X11 here, a Windows shell elsewhere) draws it and nothing else.
public enum AgentScreen: Sendable, Equatable {
    case locked(LockScreen)
    case unlocked(Overlay)

    public var isLocked: Bool {
        if case .locked = self { return true }
        return false
    }
}

/// Why the lock screen is up, as the customer is told.
public enum LockScreenReason: String, Sendable, Equatable, CaseIterable, Codable {
    /// Just started, no word from the hub yet.
    case starting
    /// No session: walk up to the front desk to start one.
    case idle
    /// The session's time ran out (the hub said so, or the agent's own lease did).
    case expired
    /// Staff ended the session.
    case stopped
    case paused
    case maintenance
    /// The session moved to another station.
    case transferred
    /// The hub or the broker cannot be reached and there is no running lease.
    case hubOffline = "hub_offline"
    /// The agent's configuration is broken: staff must fix it (the error is shown).
    case configurationError = "configuration_error"
}

/// The fullscreen lock, drawn on every monitor.
public struct LockScreen: Sendable, Equatable {
    public var venueName: String
    public var stationName: String
    public var reason: LockScreenReason
    /// The big line: `Time is up - please see the front desk`.
    public var headline: String
    /// A smaller line under it, or nil.
    public var detail: String?
    /// A text staff sent (`station/message`), shown until it times out.
    public var staffMessage: String?
    /// False while the hub or the broker cannot be reached (shown as a small status line).
    public var hubReachable: Bool

    public init(venueName: String, stationName: String, reason: LockScreenReason, headline: String, detail: String?,
                staffMessage: String?, hubReachable: Bool) {
        self.venueName = venueName
        self.stationName = stationName
        self.reason = reason
        self.headline = headline
        self.detail = detail
        self.staffMessage = staffMessage
        self.hubReachable = hubReachable
    }
}

/// The small always-on-top countdown during a session. It never takes focus.
public struct Overlay: Sendable, Equatable {
    public enum Tone: String, Sendable, Equatable, CaseIterable {
        /// More than `orange_below_s` (default 10 minutes) left.
        case green
        /// From `orange_below_s` down to `red_below_s` (default 5 minutes).
        case orange
        /// Under `red_below_s`.
        case red
    }

    public var stationName: String
    /// Whole seconds left, rounded up (0 only when the time is really up).
    public var remainingSeconds: Int64
    public var tone: Tone
    /// A warning (`5 minutes left`) shown for a while after a `warn`, or nil.
    public var notice: String?
    /// A text staff sent, shown for a while, or nil.
    public var staffMessage: String?
    /// False while the hub or the broker cannot be reached: the overlay says the time still runs.
    public var hubReachable: Bool
    /// The line shown while the hub cannot be reached (`Hub offline - your time keeps running`).
    public var offlineText: String

    public init(stationName: String, remainingSeconds: Int64, tone: Tone, notice: String?, staffMessage: String?,
                hubReachable: Bool, offlineText: String) {
        self.stationName = stationName
        self.remainingSeconds = remainingSeconds
        self.tone = tone
        self.notice = notice
        self.staffMessage = staffMessage
        self.hubReachable = hubReachable
        self.offlineText = offlineText
    }

    /// `1:02:03` or `42:07`: how the overlay prints the time left.
    public static func clock(_ seconds: Int64) -> String {
        let s = max(0, seconds)
        let h = s / 3600, m = (s % 3600) / 60, sec = s % 60
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return h > 0 ? "\(h):\(two(m)):\(two(sec))" : "\(m):\(two(sec))"
    }
}

/// What a display backend must do. It draws the latest screen it was given, on its own thread,
/// and reports what it sees happen to its windows.
public protocol AgentDisplay: AnyObject, Sendable {
    /// Replaces what is shown. Cheap; may be called every tick with the same value.
    func show(_ screen: AgentScreen)
    /// False once the connection to the display is gone (the X server died, or someone killed
    /// the agent's connection with XKillClient): nothing is locked any more, so the agent exits
    /// and its session starts it again, locked. A backend also says so when it happens (the X11
    /// one through `onConnectionLost`).
    var isConnected: Bool { get }
    /// Stops drawing and releases the display (the lock screen goes away: call only on exit).
    func close()
}
