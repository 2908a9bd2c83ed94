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
    /// The member sign-in form, or nil when this lock offers none (sign-in disabled in the
    /// config, paused, maintenance). Drawn on one monitor only.
    public var signIn: SignInForm?

    public init(venueName: String, stationName: String, reason: LockScreenReason, headline: String, detail: String?,
                staffMessage: String?, hubReachable: Bool, signIn: SignInForm? = nil) {
        self.venueName = venueName
        self.stationName = stationName
        self.reason = reason
        self.headline = headline
        self.detail = detail
        self.staffMessage = staffMessage
        self.hubReachable = hubReachable
        self.signIn = signIn
    }
}

/// The lock screen's member sign-in form as the core decides it. The display draws it and
/// sends the keys back (`AgentInput.key`); it never sees the PIN, only how many digits were
/// typed, so no screenshot or log of the screen can carry it.
public struct SignInForm: Sendable, Equatable {
    public enum Field: Sendable, Equatable { case member, pin }
    /// How the note reads: a plain line, something under way, or something that went wrong.
    public enum Tone: Sendable, Equatable { case info, progress, error }

    /// `Member sign-in`, and the fields' labels (the venue's texts).
    public var title: String
    public var memberLabel: String
    public var pinLabel: String
    /// The member id typed so far (only `A-Z a-z 0-9 _ -`).
    public var member: String
    /// How many PIN digits were typed: drawn as dots.
    public var pinLength: Int
    /// The field that takes the next characters (drawn with a caret).
    public var focus: Field
    /// False while keys are ignored: signing in, locked out for a while, hub unreachable.
    public var accepting: Bool
    /// `Signing in...`, the hub's refusal, `No answer from the hub, try again`, ... or nil.
    public var note: String?
    public var tone: Tone
    /// How to use the keys (`Tab: next field - Enter: sign in - Esc: clear`).
    public var hint: String

    public init(title: String, memberLabel: String, pinLabel: String, member: String, pinLength: Int, focus: Field,
                accepting: Bool, note: String?, tone: Tone, hint: String) {
        self.title = title
        self.memberLabel = memberLabel
        self.pinLabel = pinLabel
        self.member = member
        self.pinLength = pinLength
        self.focus = focus
        self.accepting = accepting
        self.note = note
        self.tone = tone
        self.hint = hint
    }
}

/// A key the lock screen's form reads. The display sends only these: printable ASCII as
/// characters, and the four editing keys; the core decides what each does.
public enum AgentKey: Sendable, Equatable {
    /// A printable ASCII character (the core keeps only what the focused field accepts).
    case character(Character)
    case backspace
    /// Moves to the other field.
    case tab
    /// In the member field: to the PIN; in the PIN field: sign in.
    case enter
    /// Clears the form.
    case escape
}

/// What the customer does at the PC that the core must hear about.
public enum AgentInput: Sendable, Equatable {
    /// A key on the lock screen (the keyboard is grabbed: every key goes to the lock window).
    case key(AgentKey)
    /// The sign-out button during a member's session was pressed.
    case signOut
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
    /// The member whose balance pays for the session (nil: paid at the desk, no sign-out).
    public var member: MemberBadge?

    public init(stationName: String, remainingSeconds: Int64, tone: Tone, notice: String?, staffMessage: String?,
                hubReachable: Bool, offlineText: String, member: MemberBadge? = nil) {
        self.stationName = stationName
        self.remainingSeconds = remainingSeconds
        self.tone = tone
        self.notice = notice
        self.staffMessage = staffMessage
        self.hubReachable = hubReachable
        self.offlineText = offlineText
        self.member = member
    }

    /// `1:02:03` or `42:07`: how the overlay prints the time left.
    public static func clock(_ seconds: Int64) -> String {
        let s = max(0, seconds)
        let h = s / 3600, m = (s % 3600) / 60, sec = s % 60
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return h > 0 ? "\(h):\(two(m)):\(two(sec))" : "\(m):\(two(sec))"
    }
}

/// Who is signed in during a session billed to a member's balance: shown next to the countdown.
public struct MemberBadge: Sendable, Equatable {
    public var name: String
    /// The hub's formatted balance (`12.50 EUR`), before the running session's charge.
    public var balanceText: String
    /// The sign-out button, or nil when sign-in is disabled on this PC.
    public var signOut: SignOutButton?

    public init(name: String, balanceText: String, signOut: SignOutButton?) {
        self.name = name
        self.balanceText = balanceText
        self.signOut = signOut
    }
}

/// A small clickable window (not the click-through overlay): pressing it sends `sign_out`.
public struct SignOutButton: Sendable, Equatable {
    /// `Sign out`, or `Signing out...` while the hub has not answered.
    public var label: String
    /// False while a press does nothing (waiting for the hub, or the hub unreachable).
    public var enabled: Bool

    public init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled
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
