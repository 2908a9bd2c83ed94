import PlayclockContract

extension PlugBinding {
    // MARK: - Topics

    /// Every topic the hub must subscribe to for this plug. `rpcSource` is the hub's Shelly RPC `src`.
    public func statusTopics(rpcSource: String) -> [String] {
        switch self {
        case .tasmota(let t, let n):
            var topics = ["tele/\(t)/LWT", "tele/\(t)/STATE", "tele/\(t)/SENSOR", "stat/\(t)/RESULT", "stat/\(t)/POWER\(n)"]
            if n == 1 { topics.append("stat/\(t)/POWER") }
            return topics
        case .shelly1(let id, let n):
            return ["shellies/\(id)/online", "shellies/\(id)/relay/\(n)", "shellies/\(id)/relay/\(n)/power"]
        case .shelly2(let p, _):
            return ["\(p)/online", "\(p)/events/rpc", "\(rpcSource)/rpc"]
        }
    }

    /// What a switch on does to the plug's own off-timer (Tasmota PulseTime, Shelly Gen2 toggle_after).
    public enum OffTimer: Sendable, Equatable {
        /// Nothing is said about it (Tasmota keeps its PulseTime setting; Shelly Gen2 sets none).
        case unchanged
        /// The plug switches itself off after this many seconds.
        case after(seconds: Int64)
        /// The plug stays on until told otherwise (Tasmota: PulseTime 0).
        case disarmed
    }

    /// The messages that switch the plug. `offTimer` arms or disarms the plug's own off-timer where
    /// it has one (Tasmota PulseTime, Shelly Gen2 toggle_after); it only matters when switching on.
    /// Never retained: a plug would re-execute a retained command every time it reconnects.
    public func switchCommands(on: Bool, offTimer: OffTimer = .unchanged, rpcSource: String, rpcID: Int64) -> [Outbound] {
        switch self {
        case .tasmota(let t, let n):
            var out: [Outbound] = []
            if on {
                switch offTimer {
                case .unchanged: break
                case .after(let seconds): out.append(command("cmnd/\(t)/PulseTime\(n)", String(Self.tasmotaPulseTime(seconds: seconds))))
                case .disarmed: out.append(command("cmnd/\(t)/PulseTime\(n)", "0"))
                }
            }
            out.append(command("cmnd/\(t)/POWER\(n)", on ? "ON" : "OFF"))
            return out
        case .shelly1(let id, let n):
            return [command("shellies/\(id)/relay/\(n)/command", on ? "on" : "off")]
        case .shelly2(let p, let s):
            var params: [String: JSONValue] = ["id": .int(Int64(s)), "on": .bool(on)]
            // Gen2 keeps no timer setting: it only runs one when a Switch.Set asks for it.
            if on, case .after(let seconds) = offTimer { params["toggle_after"] = .int(seconds) }
            let rpc: JSONValue = ["id": .int(rpcID), "src": .string(rpcSource), "method": "Switch.Set", "params": .object(params)]
            return [Outbound(topic: "\(p)/rpc", payload: JSONCoding.encode(rpc), qos: .atLeastOnce, retain: false)]
        }
    }

    /// Asks the plug for its state, where the protocol has a way to (Tasmota: empty POWER, Shelly Gen2:
    /// Switch.GetStatus). Shelly Gen1 reports its retained relay state on subscription.
    public func statusQuery(rpcSource: String, rpcID: Int64) -> Outbound? {
        switch self {
        case .tasmota(let t, let n):
            return command("cmnd/\(t)/POWER\(n)", "")
        case .shelly1:
            return nil
        case .shelly2(let p, let s):
            let rpc: JSONValue = ["id": .int(rpcID), "src": .string(rpcSource), "method": "Switch.GetStatus", "params": ["id": .int(Int64(s))]]
            return Outbound(topic: "\(p)/rpc", payload: JSONCoding.encode(rpc), qos: .atLeastOnce, retain: false)
        }
    }

    private func command(_ topic: String, _ payload: String) -> Outbound {
        Outbound(topic: topic, payload: Array(payload.utf8), qos: .atLeastOnce, retain: false)
    }

    /// Tasmota PulseTime: 1-111 are tenths of a second, 112-64900 are (value - 100) seconds.
    public static func tasmotaPulseTime(seconds: Int64) -> Int64 {
        if seconds <= 11 { return max(1, seconds * 10) }
        return min(seconds, 64_800) + 100
    }

    // MARK: - Reports

    /// What a plug said, in the hub's terms.
    public enum Report: Sendable, Equatable {
        case online(Bool)
        case power(Bool)
        /// A finite, non-negative reading written as a plain decimal number.
        case watts(Double)
        /// A power field that was present but is no reading: not a plain decimal number
        /// (`inf`, `nan`, `0x10`, text), negative, or not finite. Ignored, and counted.
        case implausibleWatts
    }

    /// Interprets a message on one of `statusTopics`. Unknown or malformed content yields nothing.
    /// All Gen2 plugs answer on the hub's one reply topic, so a reply counts only when it carries
    /// `queryID`, the id of the status query sent to this plug.
    public func interpret(topic: String, payload: [UInt8], rpcSource: String, queryID: Int64? = nil) -> [Report] {
        let text = String(decoding: payload, as: UTF8.self)
        switch self {
        case .tasmota(let t, let n):
            let powerKeys = n == 1 ? ["POWER1", "POWER"] : ["POWER\(n)"]
            switch topic {
            case "tele/\(t)/LWT":
                return text == "Online" ? [.online(true)] : text == "Offline" ? [.online(false)] : []
            case "stat/\(t)/POWER\(n)", "stat/\(t)/POWER" where n == 1:
                return Self.onOff(text).map { [.power($0)] } ?? []
            case "stat/\(t)/RESULT", "tele/\(t)/STATE":
                guard let json = try? JSONCoding.decode(payload) else { return [] }
                var reports: [Report] = topic.hasPrefix("tele/") ? [.online(true)] : []
                if let value = powerKeys.lazy.compactMap({ json[$0]?.stringValue }).first, let on = Self.onOff(value) {
                    reports.append(.power(on))
                }
                return reports
            case "tele/\(t)/SENSOR":
                guard let power = (try? JSONCoding.decode(payload))?["ENERGY"]?["Power"] else { return [] }
                let reading: Report
                if case .array(let perRelay) = power {
                    guard perRelay.indices.contains(n - 1) else { return [] }
                    reading = Self.wattsReport(perRelay[n - 1])
                } else {
                    reading = Self.wattsReport(power)
                }
                // A garbled report says nothing, not even that the plug is there.
                return reading == .implausibleWatts ? [reading] : [.online(true), reading]
            default:
                return []
            }
        case .shelly1(let id, let n):
            switch topic {
            case "shellies/\(id)/online":
                return text == "true" ? [.online(true)] : text == "false" ? [.online(false)] : []
            case "shellies/\(id)/relay/\(n)":
                return Self.onOff(text).map { [.power($0)] } ?? []
            case "shellies/\(id)/relay/\(n)/power":
                return [Self.wattsReport(.string(text))]
            default:
                return []
            }
        case .shelly2(let p, let s):
            switch topic {
            case "\(p)/online":
                return text == "true" ? [.online(true)] : text == "false" ? [.online(false)] : []
            case "\(p)/events/rpc":
                guard let json = try? JSONCoding.decode(payload), json["method"] == "NotifyStatus",
                    let status = json["params"]?["switch:\(s)"]
                else { return [] }
                return [.online(true)] + Self.switchStatus(status)
            case "\(rpcSource)/rpc":
                guard let queryID, let json = try? JSONCoding.decode(payload), json["id"]?.intValue == queryID,
                    let result = json["result"], result["id"]?.intValue == Int64(s)
                else { return [] }
                return [.online(true)] + Self.switchStatus(result)
            default:
                return []
            }
        }
    }

    private static func switchStatus(_ status: JSONValue) -> [Report] {
        var reports: [Report] = []
        if let output = status["output"]?.boolValue { reports.append(.power(output)) }
        if let watts = status["apower"] { reports.append(wattsReport(watts)) }
        return reports
    }

    private static func onOff(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "on", "1": return true
        case "off", "0": return false
        default: return nil
        }
    }

    /// A power reading: a JSON number, or a string holding a plain decimal number (`64.8`,
    /// `0`), finite and not negative. Swift's `Double("0x10")` and `Double("inf")` would accept
    /// hexadecimal and infinities, which no plug sends: they are implausible here.
    static func wattsReport(_ value: JSONValue) -> Report {
        let watts: Double?
        switch value {
        case .int(let i): watts = Double(i)
        case .double(let d): watts = d
        case .string(let s): watts = plainDecimal(s)
        default: watts = nil
        }
        guard let watts, watts.isFinite, watts >= 0 else { return .implausibleWatts }
        return .watts(watts)
    }

    /// `digits[.digits]`, at most 32 characters; nil for anything else.
    static func plainDecimal(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 32 else { return nil }
        var sawDot = false
        var digitsBefore = 0
        var digitsAfter = 0
        for b in bytes {
            if b == UInt8(ascii: ".") {
                guard !sawDot else { return nil }
                sawDot = true
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) {
                if sawDot { digitsAfter += 1 } else { digitsBefore += 1 }
            } else {
                return nil
            }
        }
        guard digitsBefore > 0, !sawDot || digitsAfter > 0 else { return nil }
        return Double(text)
    }
}

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
