import PlayclockContract

/// Why the agent's configuration cannot be used. The message names the file's key or the flag.
public struct AgentConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// `/etc/playclock/agent.json` merged with the command line (flags win). Unknown keys are an
/// error, so a typo never silently leaves a default in place.
public struct AgentConfiguration: Sendable, Equatable {
    public var broker: String = "mqtt://127.0.0.1:1883"
    public var station: StationID
    public var stationName: String?
    public var venueName: String = "Playclock"
    public var topicRoot: String = "playclock"
    /// Default: the station id (the account `playclock broker acl` makes for the agent).
    public var username: String?
    public var passwordFile: String?
    public var tlsCAFile: String?
    /// Default (chosen by the runtime): `$XDG_STATE_HOME/playclock/lease-<station>.json`.
    public var leaseFile: String?
    /// Cadence, thresholds, colours, texts (the keys of the same names).
    public var policy = AgentPolicy()
    /// The customer's desktop (a window manager, a launcher), run as the agent's child.
    public var sessionCommand: [String]?
    /// What `logout`, `shutdown` and `restart` run (argument arrays, no shell). No `logout` ends
    /// and restarts the session command; `shutdown`/`restart` default to `systemctl poweroff` /
    /// `systemctl reboot`, and set to null make those orders fail (reported to the hub).
    public var commands: [OrderAction: [String]] = AgentConfiguration.defaultCommands
    public static let defaultCommands: [OrderAction: [String]] = [
        .shutdown: ["systemctl", "poweroff"], .restart: ["systemctl", "reboot"],
    ]

    /// The flags, each nil when not given.
    public struct Overrides: Sendable, Equatable {
        public var broker: String?
        public var station: String?
        public var topicRoot: String?
        public var username: String?
        public var passwordFile: String?
        public var tlsCAFile: String?
        public var leaseFile: String?

        public init(broker: String? = nil, station: String? = nil, topicRoot: String? = nil, username: String? = nil,
                    passwordFile: String? = nil, tlsCAFile: String? = nil, leaseFile: String? = nil) {
            self.broker = broker
            self.station = station
            self.topicRoot = topicRoot
            self.username = username
            self.passwordFile = passwordFile
            self.tlsCAFile = tlsCAFile
            self.leaseFile = leaseFile
        }
    }

    public static let keys: Set<String> = [
        "broker", "station", "station_name", "venue_name", "topic_root", "username", "password_file", "tls_ca_file",
        "lease_file", "heartbeat_interval_s", "warn_thresholds_s", "orange_below_s", "red_below_s", "notice_s",
        "message_s", "logout_on_lock", "sign_in", "session_command", "commands", "texts",
    ]

    /// Largest config file read.
    public static let maxBytes = 64 * 1024

    /// `file`: the config file's bytes, or nil when there is none (flags only).
    public static func load(file: [UInt8]?, overrides: Overrides) throws(AgentConfigurationError) -> AgentConfiguration {
        var o: [String: JSONValue] = [:]
        if let file {
            guard file.count <= maxBytes else { throw AgentConfigurationError("the config file is larger than 64 KiB") }
            let value: JSONValue
            do { value = try JSONCoding.decode(file) } catch {
                throw AgentConfigurationError("the config file is not valid JSON (\(error))")
            }
            guard let object = value.objectValue else { throw AgentConfigurationError("the config file must be a JSON object") }
            if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
                throw AgentConfigurationError("unknown key \"\(unknown)\" in the config file")
            }
            o = object
        }
        let r = Reader(object: o)
        guard let stationText = try r.string("station", flag: overrides.station) else {
            throw AgentConfigurationError("no station: set \"station\" in the config file or pass --station")
        }
        guard let station = StationID(stationText) else {
            throw AgentConfigurationError("station \"\(stationText)\" is not a valid station id (1 to 64 of A-Z a-z 0-9 _ -)")
        }
        var c = AgentConfiguration(station: station)
        if let v = try r.string("broker", flag: overrides.broker) { c.broker = v }
        guard c.broker.hasPrefix("mqtt://") || c.broker.hasPrefix("mqtts://") else {
            throw AgentConfigurationError("broker \"\(c.broker)\" must be mqtt://HOST:PORT or mqtts://HOST:PORT")
        }
        c.stationName = try r.text("station_name", max: 64)
        if let v = try r.text("venue_name", max: 64) { c.venueName = v }
        if let v = try r.string("topic_root", flag: overrides.topicRoot) { c.topicRoot = v }
        guard TopicScheme(root: c.topicRoot) != nil else {
            throw AgentConfigurationError("topic root \"\(c.topicRoot)\" is not valid (levels without + # or a leading $)")
        }
        c.username = try r.string("username", flag: overrides.username)
        c.passwordFile = try r.string("password_file", flag: overrides.passwordFile)
        c.tlsCAFile = try r.string("tls_ca_file", flag: overrides.tlsCAFile)
        c.leaseFile = try r.string("lease_file", flag: overrides.leaseFile)
        if let v = try r.seconds("heartbeat_interval_s", 1...60) { c.policy.heartbeatIntervalSeconds = v }
        if let list = o["warn_thresholds_s"] {
            guard let items = list.arrayValue, items.count <= 8 else {
                throw AgentConfigurationError("\"warn_thresholds_s\" must be a list of at most 8 whole numbers of seconds")
            }
            c.policy.warnThresholdsSeconds = try items.map { (item: JSONValue) throws(AgentConfigurationError) -> Int64 in
                guard let n = item.intValue, (1...86_400).contains(n) else {
                    throw AgentConfigurationError("\"warn_thresholds_s\" entries must be whole numbers from 1 to 86400")
                }
                return n
            }
        }
        if let v = try r.seconds("orange_below_s", 0...86_400) { c.policy.orangeBelowSeconds = v }
        if let v = try r.seconds("red_below_s", 0...86_400) { c.policy.redBelowSeconds = v }
        guard c.policy.redBelowSeconds <= c.policy.orangeBelowSeconds else {
            throw AgentConfigurationError("\"red_below_s\" must not be above \"orange_below_s\"")
        }
        if let v = try r.seconds("notice_s", 1...600) { c.policy.noticeSeconds = v }
        if let v = try r.seconds("message_s", 1...3600) { c.policy.messageSeconds = v }
        if let v = o["logout_on_lock"] {
            guard let b = v.boolValue else { throw AgentConfigurationError("\"logout_on_lock\" must be true or false") }
            c.policy.logoutOnLock = b
        }
        if let v = o["sign_in"] {
            guard let b = v.boolValue else { throw AgentConfigurationError("\"sign_in\" must be true or false") }
            c.policy.signInEnabled = b
        }
        c.sessionCommand = try r.argv("session_command")
        if let commands = o["commands"] {
            guard let object = commands.objectValue else {
                throw AgentConfigurationError("\"commands\" must be an object with \"logout\", \"shutdown\" and \"restart\"")
            }
            for (key, value) in object {
                guard let action = OrderAction(rawValue: key), action != .message else {
                    throw AgentConfigurationError("unknown command \"\(key)\" under \"commands\" (logout, shutdown, restart)")
                }
                // null: this PC does not do that order.
                c.commands[action] = value == .null ? nil : try Reader(object: object).argv(key, label: "commands.\(key)")
            }
        }
        if let texts = o["texts"] {
            guard let object = texts.objectValue else { throw AgentConfigurationError("\"texts\" must be an object") }
            for key in object.keys.sorted() {
                guard let text = try Reader(object: object).text(key, max: 200, label: "texts.\(key)") else { continue }
                guard c.policy.texts.set(key, text) else {
                    throw AgentConfigurationError("unknown text \"\(key)\" under \"texts\" (known: \(AgentTexts.keys.joined(separator: ", ")))")
                }
            }
        }
        return c
    }

    /// The settings the core runs on.
    public func settings(version: String, user: String?) -> AgentSettings {
        var s = AgentSettings(station: station, stationName: stationName, venueName: venueName,
                              topics: TopicScheme(root: topicRoot)!, version: version)
        s.user = user
        s.policy = policy
        return s
    }

    private struct Reader {
        let object: [String: JSONValue]

        /// The flag if given, else the file's value.
        func string(_ key: String, flag: String? = nil) throws(AgentConfigurationError) -> String? {
            if let flag { return flag }
            switch object[key] {
            case nil, .null?: return nil
            case .string(let s)? where !s.isEmpty: return s
            default: throw AgentConfigurationError("\"\(key)\" must be a non-empty string")
            }
        }

        /// A text shown to people: trimmed, 1 to `max` characters, no control characters.
        func text(_ key: String, max: Int, label: String? = nil) throws(AgentConfigurationError) -> String? {
            let name = label ?? key
            switch object[key] {
            case nil, .null?: return nil
            case .string(let s)?:
                guard let text = DisplayText.normalized(s, maxLength: max) else {
                    throw AgentConfigurationError("\"\(name)\" must be 1 to \(max) characters without control characters")
                }
                return text
            default: throw AgentConfigurationError("\"\(name)\" must be a string")
            }
        }

        func seconds(_ key: String, _ range: ClosedRange<Int64>) throws(AgentConfigurationError) -> Int64? {
            guard let value = object[key] else { return nil }
            guard let n = value.intValue, range.contains(n) else {
                throw AgentConfigurationError("\"\(key)\" must be a whole number of seconds from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }

        func argv(_ key: String, label: String? = nil) throws(AgentConfigurationError) -> [String]? {
            let name = label ?? key
            switch object[key] {
            case nil, .null?: return nil
            case .array(let items)?:
                let words = items.compactMap(\.stringValue)
                guard !words.isEmpty, words.count == items.count, words.count <= 64, !words.contains(where: \.isEmpty) else {
                    throw AgentConfigurationError("\"\(name)\" must be a command: a list of non-empty strings, program first")
                }
                return words
            default: throw AgentConfigurationError("\"\(name)\" must be a command: a list of strings, program first (or null)")
            }
        }
    }
}
