import Foundation
import PlayclockContract
import PlayclockCore
import PlayclockMQTT

/// Everything `playclockd` needs to run. Built from defaults, then the config file, then flags.
public struct HubConfiguration: Sendable, Equatable {
    public var brokerURL = "mqtt://127.0.0.1:1883"
    public var username: String?
    public var password: String?
    public var databasePath = "playclock.sqlite"
    public var topicRoot = "playclock"
    public var venueFile: String?
    public var clientID = "playclockd"
    /// CA that signed the broker's certificate, for `mqtts://` brokers.
    public var tlsCAFile: String?
    public var policy = HubPolicy()
    public var access = AccessPolicy()
    public var http = HTTPSettings()
    /// How long the event log is kept (`"events"` in the config file).
    public var events = EventRetention()
    /// The prices a database without any starts with (`"pricing"`: currency, timezone, plans,
    /// packages, tiers). Once stored, prices are edited with `rate/set` and the like.
    public var pricing: PricingCatalog?
    /// The counter (`"counter"`): taxes, the cash-shift rule, the receipt's heading, the printer.
    public var counter = Counter()

    public init() {}

    /// The `counter` section.
    public struct Counter: Sendable, Equatable {
        public var settings = CounterSettings()
        /// The venue's name and address lines, printed at the top of every receipt.
        public var venueName: String?
        public var venueAddress: [String] = []
        /// A network receipt printer speaking ESC/POS (`"printer": {"host", "port", "auto"}`).
        public var printerHost: String?
        public var printerPort: Int = 9100
        /// Print every counter sale's receipt as soon as it is stored.
        public var printAutomatically = false

        public init() {}
    }

    /// Bounds on the event log: every request refused and every heartbeat timeout adds an event,
    /// so old ones are deleted (`HubStore.pruneEvents`). Sessions and stations are never pruned.
    public struct EventRetention: Sendable, Equatable {
        public static let retentionDaysRange: ClosedRange<Int64> = 1...3650
        public static let maxRowsRange: ClosedRange<Int64> = 1000...100_000_000

        /// Events older than this many days are deleted.
        public var retentionDays: Int64 = 90
        /// At most this many events are kept; the oldest go first.
        public var maxRows: Int = 1_000_000

        public init() {}

        /// The `olderThanWallMillis` for `HubStore.pruneEvents` at wall time `now`.
        public func cutoffWallMillis(now: Int64) -> Int64 {
            now - retentionDays * 86_400_000
        }
    }

    /// The dashboard's HTTP listener and its sign-in.
    public struct HTTPSettings: Sendable, Equatable {
        /// nil: no HTTP listener at all (`--http off`).
        public var listen: HostPort? = HostPort(host: "127.0.0.1", port: 8080)
        /// `account:bcrypt` lines (`playclock dashboard passwd`); without it nobody can sign in.
        public var usersFile: String?
        /// A file whose first line is the read-only token of the wall board (`/board?token=...`).
        public var boardTokenFile: String?
        /// How long a sign-in lasts without activity.
        public var sessionHours: Int64 = 12
        /// Mark the session cookie `Secure` (set when the dashboard is served behind TLS).
        public var secureCookies = false
        /// Open TCP connections at most; more are closed as they arrive (keeps descriptors bounded).
        public var maxConnections = Self.defaultMaxConnections
        /// Open live feeds (`/api/live`) at most; more are answered `503` with `Retry-After`.
        /// Below `maxConnections`, so feeds always leave room for sign-ins and commands.
        public var maxLiveFeeds = Self.defaultMaxLiveFeeds

        /// Peers whose `X-Forwarded-For` is believed (a TLS proxy in front of the dashboard): the
        /// sign-in brake then counts the address the proxy saw. Empty: the header is ignored.
        public var trustedProxies: [String] = []

        public static let defaultMaxConnections = 256
        public static let defaultMaxLiveFeeds = 64
        public static let maxConnectionsRange: ClosedRange<Int64> = 2...16384

        public init() {}
    }

    public struct HostPort: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `HOST:PORT` (`[::1]:8080` for IPv6), or nil when it is not one.
        public init?(parsing text: String) {
            let host: Substring, port: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
                host = text[text.index(after: text.startIndex)..<close]
                port = text[text.index(close, offsetBy: 2)...]
            } else {
                guard let colon = text.lastIndex(of: ":") else { return nil }
                host = text[..<colon]
                port = text[text.index(after: colon)...]
                guard !host.contains(":") else { return nil }
            }
            guard !host.isEmpty, let number = Int(port), (1...65535).contains(number) else { return nil }
            self.host = String(host)
            self.port = number
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// `--http HOST:PORT` or `off`.
    public mutating func setHTTPListen(_ text: String) throws(Error) {
        if text == "off" {
            http.listen = nil
        } else if let listen = HostPort(parsing: text) {
            http.listen = listen
        } else {
            throw Error("HTTP listen address \"\(text)\" must be HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080) or off")
        }
    }

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    static let topKeys: Set<String> = [
        "broker", "username", "password_file", "database", "topic_root", "venue", "client_id", "policy", "roles", "tls_ca_file",
        "shared_topic_role", "http", "events", "pricing", "counter",
    ]
    static let counterKeys: Set<String> = ["prices_include_tax", "taxes", "cash_requires_shift", "venue_name", "venue_address", "printer"]
    static let eventsKeys: Set<String> = ["retention_days", "max_rows"]
    static let httpKeys: Set<String> = [
        "listen", "users_file", "board_token_file", "session_hours", "secure_cookies", "max_connections", "max_live_feeds",
        "trusted_proxies",
    ]
    static let policyKeys: Set<String> = [
        "warn_thresholds_s", "countdown_interval_s", "final_countdown_interval_s", "final_phase_s",
        "heartbeat_interval_s", "missed_heartbeats", "expired_hold_s", "max_session_minutes", "max_request_bytes",
        "plug_off_delay_s", "plug_failsafe_margin_s", "plug_retry_initial_s", "plug_retry_max_s",
        "plug_alarm_after_attempts", "plug_active_watts", "plug_max_watts", "void_window_minutes", "pin_max_attempts",
        "pin_lock_minutes",
    ]

    /// Applies a JSON config file (see README). Unknown keys are refused, so a typo never passes
    /// silently; a refused file changes nothing.
    public mutating func apply(configFile path: String) throws(Error) {
        var updated = self
        try updated.applyUnchecked(configFile: path)
        self = updated
    }

    private mutating func applyUnchecked(configFile path: String) throws(Error) {
        guard let bytes = FileManager.default.contents(atPath: path) else { throw Error("cannot read config file \(path)") }
        guard let object = (try? JSONCoding.decode(Array(bytes)))?.objectValue else {
            throw Error("config file \(path) is not a JSON object")
        }
        if let unknown = Set(object.keys).subtracting(Self.topKeys).sorted().first {
            throw Error("config file \(path): unknown key \"\(unknown)\"")
        }
        func string(_ key: String) throws(Error) -> String? {
            guard let value = object[key] else { return nil }
            guard let s = value.stringValue, !s.isEmpty else { throw Error("config file \(path): \"\(key)\" must be a non-empty string") }
            return s
        }
        if let v = try string("broker") { brokerURL = v }
        if let v = try string("username") { username = v }
        if let v = try string("password_file") { password = try Self.readPassword(v) }
        if let v = try string("database") { databasePath = v }
        if let v = try string("topic_root") { topicRoot = v }
        if let v = try string("venue") { venueFile = v }
        if let v = try string("client_id") { clientID = v }
        if let v = try string("tls_ca_file") { tlsCAFile = v }
        if object["roles"] != nil || object["shared_topic_role"] != nil {
            access = try Self.access(roles: object["roles"], shared: object["shared_topic_role"], source: path)
        }
        if let h = object["http"] {
            guard let fields = h.objectValue else { throw Error("config file \(path): \"http\" must be an object") }
            try applyHTTP(fields, source: path)
        }
        if let e = object["events"] {
            guard let fields = e.objectValue else { throw Error("config file \(path): \"events\" must be an object") }
            try applyEvents(fields, source: path)
        }
        if let p = object["policy"] {
            guard let fields = p.objectValue else { throw Error("config file \(path): \"policy\" must be an object") }
            try applyPolicy(fields, source: path)
        }
        if let p = object["pricing"] {
            pricing = try Self.pricing(p, source: path)
        }
        if let c = object["counter"] {
            guard let fields = c.objectValue else { throw Error("config file \(path): \"counter\" must be an object") }
            counter = try Self.counter(fields, source: path)
        }
    }

    /// `"counter": {"prices_include_tax": true, "taxes": {"drinks": 19, "time": 7.5}, "cash_requires_shift": true,
    /// "venue_name": "...", "venue_address": ["..."], "printer": {"host": "10.0.0.9", "port": 9100, "auto": true}}`.
    static func counter(_ fields: [String: JSONValue], source: String) throws(Error) -> Counter {
        _ = try Section(fields, name: "counter", source: source, allowed: counterKeys)
        var c = Counter()
        func flag(_ key: String) throws(Error) -> Bool? {
            guard let v = fields[key] else { return nil }
            guard let b = v.boolValue else { throw Error("config file \(source): counter \"\(key)\" must be true or false") }
            return b
        }
        if let b = try flag("prices_include_tax") { c.settings.pricesIncludeTax = b }
        if let b = try flag("cash_requires_shift") { c.settings.cashRequiresShift = b }
        if let t = fields["taxes"] {
            guard let rates = t.objectValue else { throw Error("config file \(source): counter \"taxes\" must map categories to percentages") }
            for (category, value) in rates {
                guard StationID.isValid(category) else { throw Error("config file \(source): counter taxes: \"\(category)\" is not a category id") }
                let percent: Double
                switch value {
                case .int(let n): percent = Double(n)
                case .double(let d): percent = d
                default: throw Error("config file \(source): counter taxes \"\(category)\" must be a percentage from 0 to 100")
                }
                let bp = (percent * 100).rounded()
                guard percent.isFinite, (0...100).contains(percent), abs(bp - percent * 100) < 1e-6 else {
                    throw Error("config file \(source): counter taxes \"\(category)\" must be a percentage from 0 to 100 with at most 2 decimals")
                }
                c.settings.taxRates[category] = Int64(bp)
            }
        }
        if let v = fields["venue_name"] {
            guard let name = v.stringValue.flatMap({ DisplayText.normalized($0, maxLength: 64) }) else {
                throw Error("config file \(source): counter \"venue_name\" must be a string of 1-64 characters")
            }
            c.venueName = name
        }
        if let v = fields["venue_address"] {
            guard let lines = v.arrayValue, lines.count <= 4 else {
                throw Error("config file \(source): counter \"venue_address\" must be a list of at most 4 lines")
            }
            for line in lines {
                guard let text = line.stringValue.flatMap({ DisplayText.normalized($0, maxLength: 64) }) else {
                    throw Error("config file \(source): counter \"venue_address\" lines must be strings of 1-64 characters")
                }
                c.venueAddress.append(text)
            }
        }
        if let p = fields["printer"] {
            guard let o = p.objectValue else { throw Error("config file \(source): counter \"printer\" must be an object") }
            let printer = try Section(o, name: "counter printer", source: source, allowed: ["host", "port", "auto"])
            guard let host = o["host"]?.stringValue, !host.isEmpty, host.utf8.count <= 253 else {
                throw Error("config file \(source): counter printer \"host\" must be a host name or address")
            }
            c.printerHost = host
            if let port = try printer.int("port", 1...65535) { c.printerPort = Int(port) }
            if let auto = o["auto"] {
                guard let b = auto.boolValue else { throw Error("config file \(source): counter printer \"auto\" must be true or false") }
                c.printAutomatically = b
            }
        }
        return c
    }

    /// One section of the config file (`http`, `events`, `policy`): refuses keys it does not
    /// know, and reads whole numbers within a range, with the same wording for every section.
    struct Section {
        let fields: [String: JSONValue]
        let name: String
        let source: String

        init(_ fields: [String: JSONValue], name: String, source: String, allowed: Set<String>) throws(Error) {
            if let unknown = Set(fields.keys).subtracting(allowed).sorted().first {
                throw Error("config file \(source): unknown \(name) key \"\(unknown)\"")
            }
            self.fields = fields
            self.name = name
            self.source = source
        }

        func int(_ key: String, _ range: ClosedRange<Int64>) throws(Error) -> Int64? {
            guard let value = fields[key] else { return nil }
            guard let i = value.intValue, range.contains(i) else {
                throw Error("config file \(source): \(name) \"\(key)\" must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return i
        }
    }

    mutating func applyHTTP(_ fields: [String: JSONValue], source: String) throws(Error) {
        let section = try Section(fields, name: "http", source: source, allowed: Self.httpKeys)
        func string(_ key: String) throws(Error) -> String? {
            guard let value = fields[key] else { return nil }
            guard let s = value.stringValue, !s.isEmpty else { throw Error("config file \(source): http \"\(key)\" must be a non-empty string") }
            return s
        }
        if let v = try string("listen") {
            do { try setHTTPListen(v) } catch { throw Error("config file \(source): \(error.description)") }
        }
        if let v = try string("users_file") { http.usersFile = v }
        if let v = try string("board_token_file") { http.boardTokenFile = v }
        if let hours = try section.int("session_hours", 1...168) { http.sessionHours = hours }
        if let v = fields["secure_cookies"] {
            guard let flag = v.boolValue else { throw Error("config file \(source): http \"secure_cookies\" must be true or false") }
            http.secureCookies = flag
        }
        if let v = fields["trusted_proxies"] {
            guard let items = v.arrayValue, items.count <= 16 else {
                throw Error("config file \(source): http \"trusted_proxies\" must be a list of at most 16 IP addresses")
            }
            var proxies: [String] = []
            for item in items {
                guard let text = item.stringValue, let canonical = Self.canonicalIP(text) else {
                    throw Error("config file \(source): http \"trusted_proxies\" entry \(String(decoding: JSONCoding.encode(item), as: UTF8.self)) is not an IP address")
                }
                proxies.append(canonical)
            }
            http.trustedProxies = proxies
        }
        if let n = try section.int("max_connections", HTTPSettings.maxConnectionsRange) { http.maxConnections = Int(n) }
        if let v = fields["max_live_feeds"] {
            guard let n = v.intValue, n >= 1, n < Int64(http.maxConnections) else {
                throw Error("config file \(source): http \"max_live_feeds\" must be a whole number from 1 to below max_connections (\(http.maxConnections))")
            }
            http.maxLiveFeeds = Int(n)
        } else if http.maxLiveFeeds >= http.maxConnections {
            // Only max_connections given, and small: feeds keep at least one connection free.
            http.maxLiveFeeds = max(1, http.maxConnections / 4)
        }
    }

    /// An IPv4 or IPv6 address in its canonical text form (as the dashboard prints a peer), or nil.
    public static func canonicalIP(_ text: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            return inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count)).map { _ in String(cString: buffer) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            return inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)).map { _ in String(cString: buffer) }
        }
        return nil
    }

    /// The `pricing` section: the contract's catalogue, whose timezone must exist here.
    static func pricing(_ json: JSONValue, source: String) throws(Error) -> PricingCatalog {
        let catalog: PricingCatalog
        do { catalog = try PricingCatalog.parse(json) } catch { throw Error("config file \(source): pricing: \(error.message)") }
        do { _ = try TimeZoneOffsets(identifier: catalog.timezone) } catch { throw Error("config file \(source): pricing: \(error.description)") }
        return catalog
    }

    mutating func applyEvents(_ fields: [String: JSONValue], source: String) throws(Error) {
        let section = try Section(fields, name: "events", source: source, allowed: Self.eventsKeys)
        if let v = try section.int("retention_days", EventRetention.retentionDaysRange) { events.retentionDays = v }
        if let v = try section.int("max_rows", EventRetention.maxRowsRange) { events.maxRows = Int(v) }
    }

    mutating func applyPolicy(_ fields: [String: JSONValue], source: String) throws(Error) {
        let section = try Section(fields, name: "policy", source: source, allowed: Self.policyKeys)
        if let list = fields["warn_thresholds_s"] {
            guard case .array(let items) = list else { throw Error("config file \(source): \"warn_thresholds_s\" must be a list") }
            var thresholds: [Int64] = []
            for item in items {
                guard let t = item.intValue, (1...86_400).contains(t) else {
                    throw Error("config file \(source): \"warn_thresholds_s\" entries must be whole seconds in 1...86400")
                }
                thresholds.append(t)
            }
            policy.warnThresholdsSeconds = Array(Set(thresholds)).sorted(by: >)
        }
        if let v = try section.int("countdown_interval_s", 1...3600) { policy.countdownIntervalSeconds = v }
        if let v = try section.int("final_countdown_interval_s", 1...3600) { policy.finalCountdownIntervalSeconds = v }
        if let v = try section.int("final_phase_s", 0...86_400) { policy.finalPhaseSeconds = v }
        if let v = try section.int("heartbeat_interval_s", 1...3600) { policy.heartbeatIntervalSeconds = v }
        if let v = try section.int("missed_heartbeats", 1...100) { policy.missedHeartbeats = v }
        if let v = try section.int("expired_hold_s", 0...86_400) { policy.expiredHoldSeconds = v }
        if let v = try section.int("max_session_minutes", 1...(7 * 24 * 60)) { policy.maxSessionSeconds = v * 60 }
        if let v = try section.int("max_request_bytes", 256...(1 << 20)) { policy.maxRequestBytes = Int(v) }
        if let v = try section.int("plug_off_delay_s", 0...3600) { policy.plugOffDelaySeconds = v }
        if let v = try section.int("plug_failsafe_margin_s", 5...3600) { policy.plugFailsafeMarginSeconds = v }
        if let v = try section.int("plug_retry_initial_s", 1...600) { policy.plugRetryInitialSeconds = v }
        if let v = try section.int("plug_retry_max_s", 1...3600) { policy.plugRetryMaxSeconds = v }
        if let v = try section.int("plug_alarm_after_attempts", 1...100) { policy.plugAlarmAfterAttempts = Int(v) }
        if let v = try section.int("void_window_minutes", 0...1440) { policy.voidWindowSeconds = v * 60 }
        if let v = try section.int("pin_max_attempts", 1...100) { policy.pinMaxAttempts = Int(v) }
        if let v = try section.int("pin_lock_minutes", 1...1440) { policy.pinLockSeconds = v * 60 }
        if let watts = fields["plug_active_watts"] {
            guard watts.isNumber, let w = watts.doubleValue, w > 0, w <= 10_000 else {
                throw Error("config file \(source): policy \"plug_active_watts\" must be a number in (0, 10000]")
            }
            policy.plugActiveWatts = w
        }
        if let watts = fields["plug_max_watts"] {
            guard watts.isNumber, let w = watts.doubleValue, w >= 100, w <= 100_000 else {
                throw Error("config file \(source): policy \"plug_max_watts\" must be a number in [100, 100000]")
            }
            policy.plugMaxWatts = w
        }
        guard policy.plugActiveWatts < policy.plugMaxWatts else {
            throw Error("config file \(source): policy \"plug_active_watts\" must be below \"plug_max_watts\"")
        }
    }

    /// `"roles": {"alice": "cashier", ...}` and `"shared_topic_role": "viewer" | "none"`.
    static func access(roles: JSONValue?, shared: JSONValue?, source: String) throws(Error) -> AccessPolicy {
        var map: [String: StaffRole] = [:]
        if let roles {
            guard let fields = roles.objectValue else { throw Error("config file \(source): \"roles\" must map account names to roles") }
            for (account, value) in fields {
                guard AccountName.isValid(account) else {
                    throw Error("config file \(source): account \"\(account)\" must be 1-64 of A-Z a-z 0-9 _ - .")
                }
                guard let name = value.stringValue, let role = StaffRole(rawValue: name) else {
                    throw Error("config file \(source): role of \"\(account)\" must be one of viewer, cashier, manager")
                }
                map[account] = role
            }
        }
        switch shared {
        case nil:
            return AccessPolicy(roles: map)
        case .string("none")?:
            return AccessPolicy(roles: map, sharedTopicRole: .some(nil))
        case .string(let name)?:
            guard let role = StaffRole(rawValue: name) else {
                throw Error("config file \(source): \"shared_topic_role\" must be viewer, cashier, manager or none")
            }
            return AccessPolicy(roles: map, sharedTopicRole: role)
        default:
            throw Error("config file \(source): \"shared_topic_role\" must be viewer, cashier, manager or none")
        }
    }

    /// Reads a broker password from a file (its first line).
    public static func readPassword(_ path: String) throws(Error) -> String {
        do {
            return try MQTTClientConfiguration.password(fromFile: path)
        } catch {
            throw Error(error.description)
        }
    }

    /// Reads a venue file: `{"stations": [{"station": "PC-01", "name": "PC 01", "kind": "pc", "zone": "PC floor"}, ...]}`.
    public static func readVenue(_ path: String) throws(Error) -> [Station] {
        guard let bytes = FileManager.default.contents(atPath: path) else { throw Error("cannot read venue file \(path)") }
        guard case .array(let items)? = (try? JSONCoding.decode(Array(bytes)))?["stations"] else {
            throw Error("venue file \(path) must be a JSON object with a \"stations\" list")
        }
        var stations: [Station] = []
        var seen: Set<StationID> = []
        for (index, item) in items.enumerated() {
            guard let fields = item.objectValue else { throw Error("venue file \(path): entry \(index) is not an object") }
            let command: Command
            do {
                command = try Request.parse(verb: Verb.stationAdd.rawValue, body: fields, policy: HubPolicy())
            } catch {
                throw Error("venue file \(path): entry \(index): \(error.message)")
            }
            guard case .stationAdd(let id, let name, let kind, let plug, let zone) = command else { continue }
            guard seen.insert(id).inserted else { throw Error("venue file \(path): station \(id) appears twice") }
            stations.append(Station(id: id, name: name, kind: kind, plug: plug, zone: zone))
        }
        return stations
    }
}
