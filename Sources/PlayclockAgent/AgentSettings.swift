import PlayclockContract

/// What the core needs to know about the PC it runs on (from the config file and the flags).
public struct AgentSettings: Sendable, Equatable {
    public var station: StationID
    public var stationName: String
    public var venueName: String
    public var topics: TopicScheme
    /// Sent in the heartbeat as `agent` and `version`.
    public var agentName: String = "playclock-agent"
    public var version: String
    /// The desktop user, sent in the heartbeat as `user` (nil: not sent).
    public var user: String?
    /// What the venue tunes (config file): cadence, thresholds, colours, texts.
    public var policy = AgentPolicy()
    /// After this long with no word from the hub, the lock screen stops saying "starting".
    public var startupGraceSeconds: Int64 = 5

    public init(station: StationID, stationName: String? = nil, venueName: String, topics: TopicScheme, version: String) {
        self.station = station
        self.stationName = stationName ?? station.value
        self.venueName = venueName
        self.topics = topics
        self.version = version
    }
}

/// The agent's tunable behaviour and its defaults: read from the config file, used by the core.
public struct AgentPolicy: Sendable, Equatable {
    public var heartbeatIntervalSeconds: Int64 = 5
    /// When the overlay warns by itself if the hub's `warn` did not come (the hub's defaults).
    public var warnThresholdsSeconds: [Int64] = [300, 60]
    /// The overlay is green above this, orange from it down to `redBelowSeconds`, red under that.
    public var orangeBelowSeconds: Int64 = 600
    public var redBelowSeconds: Int64 = 300
    /// How long a warning notice stays on the overlay.
    public var noticeSeconds: Int64 = 20
    /// How long a staff message stays on the screen.
    public var messageSeconds: Int64 = 30
    /// End the desktop session whenever a session ends (expired, stopped, moved).
    public var logoutOnLock: Bool = false
    /// Members may sign in at the lock screen (member id and PIN) and sign out during their
    /// session. Off (`"sign_in": false`): no form, no sign-out button, no sign-in topic.
    public var signInEnabled: Bool = true
    public var texts = AgentTexts()

    public init() {}
}

/// Every text the customer sees. Venues override any of them in the config file (`texts`).
public struct AgentTexts: Sendable, Equatable {
    /// Headlines of the lock screen, by reason.
    public var headlines: [LockScreenReason: String] = [
        .starting: "Starting - one moment",
        .idle: "Welcome - please see the front desk to start",
        .expired: "Time is up - please see the front desk",
        .stopped: "Session ended - please see the front desk",
        .paused: "Paused",
        .maintenance: "Maintenance",
        .transferred: "Your session moved to another station",
        .hubOffline: "Hub offline",
        .configurationError: "Out of order - please see the front desk",
    ]
    /// Smaller lines under a headline, by reason (none by default for most).
    public var details: [LockScreenReason: String] = [
        .expired: "Thanks for playing",
        .paused: "Your time is on hold",
        .maintenance: "This station is being serviced",
        .hubOffline: "This station cannot reach the front desk right now",
    ]
    /// On the overlay while the hub cannot be reached.
    public var overlayOffline: String = "Hub offline - your time keeps running"
    /// Warning notices: `{n}` is replaced by the number.
    public var noticeMinutes: String = "{n} minutes left"
    public var noticeOneMinute: String = "1 minute left"
    public var noticeSeconds: String = "{n} seconds left"
    /// The lock screen's sign-in form and the overlay's sign-out button.
    public var signInTitle: String = "Member sign-in"
    public var signInMember: String = "Member id"
    public var signInPIN: String = "PIN"
    public var signInHint: String = "Tab: next field - Enter: sign in - Esc: clear"
    public var signInPending: String = "Signing in..."
    public var signInNoAnswer: String = "No answer from the hub, try again"
    public var signInOffline: String = "The hub is unreachable - sign-in is not available right now"
    public var signInIncomplete: String = "Enter your member id and a PIN of 4 to 12 digits"
    public var signInDone: String = "Signed in - your session is starting"
    public var signOut: String = "Sign out"
    public var signOutPending: String = "Signing out..."

    public init() {}

    /// The config keys of the sign-in texts, in the order of the docs' table.
    static let signInKeys: [String] = [
        "sign_in_title", "sign_in_member", "sign_in_pin", "sign_in_hint", "sign_in_pending", "sign_in_no_answer",
        "sign_in_offline", "sign_in_incomplete", "sign_in_done", "sign_out", "sign_out_pending",
    ]

    /// The config file's keys for the texts (`texts` object), and what each sets.
    public static let keys: [String] =
        LockScreenReason.allCases.map(\.rawValue) + LockScreenReason.allCases.map { "\($0.rawValue)_detail" }
        + ["overlay_offline", "notice_minutes", "notice_one_minute", "notice_seconds"] + signInKeys

    /// Sets one text by its config key; false for an unknown key.
    public mutating func set(_ key: String, _ text: String) -> Bool {
        if let reason = LockScreenReason(rawValue: key) {
            headlines[reason] = text
        } else if key.hasSuffix("_detail"), let reason = LockScreenReason(rawValue: String(key.dropLast("_detail".count))) {
            details[reason] = text
        } else {
            switch key {
            case "overlay_offline": overlayOffline = text
            case "notice_minutes": noticeMinutes = text
            case "notice_one_minute": noticeOneMinute = text
            case "notice_seconds": noticeSeconds = text
            case "sign_in_title": signInTitle = text
            case "sign_in_member": signInMember = text
            case "sign_in_pin": signInPIN = text
            case "sign_in_hint": signInHint = text
            case "sign_in_pending": signInPending = text
            case "sign_in_no_answer": signInNoAnswer = text
            case "sign_in_offline": signInOffline = text
            case "sign_in_incomplete": signInIncomplete = text
            case "sign_in_done": signInDone = text
            case "sign_out": signOut = text
            case "sign_out_pending": signOutPending = text
            default: return false
            }
        }
        return true
    }

    func notice(forThreshold seconds: Int64) -> String {
        if seconds == 60 { return noticeOneMinute }
        if seconds % 60 == 0 { return noticeMinutes.replacingAll("{n}", with: "\(seconds / 60)") }
        return noticeSeconds.replacingAll("{n}", with: "\(seconds)")
    }
}

extension String {
    /// Foundation-free replace (the library stays pure).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    fileprivate func range(of target: String) -> Range<Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i..<index(i, offsetBy: target.count) }
            i = index(after: i)
        }
        return nil
    }
}
