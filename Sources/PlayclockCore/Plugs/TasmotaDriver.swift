import PlayclockContract

/// Tasmota with the default FullTopic `%prefix%/%topic%/`; relay 1-8.
/// Commands on `cmnd/<topic>/...`, reports on `stat/` and `tele/` (LWT, STATE, SENSOR).
struct TasmotaDriver: PlugDriver {
    let topic: String
    let relay: Int

    var account: String { topic }
    var vendorName: String { "Tasmota" }
    var hasOffTimer: Bool { true }

    func statusTopics(rpcSource: String) -> [String] {
        var topics = ["tele/\(topic)/LWT", "tele/\(topic)/STATE", "tele/\(topic)/SENSOR", "stat/\(topic)/RESULT", "stat/\(topic)/POWER\(relay)"]
        if relay == 1 { topics.append("stat/\(topic)/POWER") }
        return topics
    }

    func switchCommands(on: Bool, offTimer: PlugOffTimer, rpcSource: String, rpcID: Int64) -> [Outbound] {
        var out: [Outbound] = []
        if on {
            switch offTimer {
            case .unchanged: break
            case .after(let seconds): out.append(PlugReading.command("cmnd/\(topic)/PulseTime\(relay)", String(Self.pulseTime(seconds: seconds))))
            case .disarmed: out.append(PlugReading.command("cmnd/\(topic)/PulseTime\(relay)", "0"))
            }
        }
        out.append(PlugReading.command("cmnd/\(topic)/POWER\(relay)", on ? "ON" : "OFF"))
        return out
    }

    /// An empty `POWER<n>` makes Tasmota report the relay's state.
    func statusQuery(rpcSource: String, rpcID: Int64) -> Outbound? {
        PlugReading.command("cmnd/\(topic)/POWER\(relay)", "")
    }

    func interpret(topic received: String, payload: [UInt8], rpcSource: String, queryID: Int64?) -> [PlugReport] {
        let text = String(decoding: payload, as: UTF8.self)
        let powerKeys = relay == 1 ? ["POWER1", "POWER"] : ["POWER\(relay)"]
        switch received {
        case "tele/\(topic)/LWT":
            return text == "Online" ? [.online(true)] : text == "Offline" ? [.online(false)] : []
        case "stat/\(topic)/POWER\(relay)":
            return PlugReading.onOff(text).map { [.power($0)] } ?? []
        case "stat/\(topic)/POWER" where relay == 1:
            return PlugReading.onOff(text).map { [.power($0)] } ?? []
        case "stat/\(topic)/RESULT", "tele/\(topic)/STATE":
            guard let json = try? JSONCoding.decode(payload) else { return [] }
            var reports: [PlugReport] = received.hasPrefix("tele/") ? [.online(true)] : []
            if let value = powerKeys.lazy.compactMap({ json[$0]?.stringValue }).first, let on = PlugReading.onOff(value) {
                reports.append(.power(on))
            }
            return reports
        case "tele/\(topic)/SENSOR":
            guard let power = (try? JSONCoding.decode(payload))?["ENERGY"]?["Power"] else { return [] }
            let reading: PlugReport
            if case .array(let perRelay) = power {
                guard perRelay.indices.contains(relay - 1) else { return [] }
                reading = PlugReading.watts(perRelay[relay - 1])
            } else {
                reading = PlugReading.watts(power)
            }
            // A garbled report says nothing, not even that the plug is there.
            return reading == .implausibleWatts ? [reading] : [.online(true), reading]
        default:
            return []
        }
    }

    func aclTopics(rpcSource: String) -> [String] {
        ["topic read cmnd/\(topic)/#", "topic write stat/\(topic)/#", "topic write tele/\(topic)/#"]
    }

    /// Tasmota PulseTime: 1-111 are tenths of a second, 112-64900 are (value - 100) seconds.
    static func pulseTime(seconds: Int64) -> Int64 {
        if seconds <= 11 { return max(1, seconds * 10) }
        return min(seconds, 64_800) + 100
    }
}
