import Foundation
import PlayclockContract
import PlayclockMQTT

/// Tasmota with the default FullTopic `%prefix%/%topic%/`, one relay (so results use the key
/// "POWER") and energy monitoring.
final class TasmotaFirmware: PlugFirmware {
    static let voltage = 230.0

    let topic: String
    /// The PulseTime setting: 0 = off, 1...111 = tenths of a second, 112...64900 = seconds + 100.
    /// Like every Tasmota setting it survives a power cut.
    private var pulseTime = 0

    init(topic: String) {
        self.topic = topic
    }

    var will: (topic: String, payload: String) { ("tele/\(topic)/LWT", "Offline") }
    var commandFilters: [String] { ["cmnd/\(topic)/#"] }

    func announce(on plug: isolated SimulatedPlug) {
        plug.publish("tele/\(topic)/LWT", "Online", retain: true)
        plug.publish("tele/\(topic)/STATE", state(plug))
    }

    func handle(_ command: MQTTMessage, on plug: isolated SimulatedPlug) {
        let name = command.topic.dropFirst("cmnd/\(topic)/".count).uppercased()
        let payload = String(decoding: command.payload, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        if command.retain {
            // Real Tasmota executes a retained command again on every reconnect (after a power cut
            // the console comes back on): reported so that tests catch a hub that retains commands.
            plug.log("RETAINED-COMMAND \(command.topic) \(payload)")
        }
        plug.log(payload.isEmpty ? name : "\(name) \(payload)")
        switch name {
        case "POWER", "POWER1": power(payload, plug)
        case "PULSETIME", "PULSETIME1": setPulseTime(payload, plug)
        default: plug.publish("stat/\(topic)/RESULT", ["Command": "Unknown"])
        }
    }

    func press(on plug: isolated SimulatedPlug) {
        switchRelay(on: !plug.isOn, source: .button, plug)
    }

    func reportSwitch(wasOn: Bool, source: SwitchSource, on plug: isolated SimulatedPlug) {
        reportPowerState(plug)
    }

    /// Tasmota reports power only in its telemetry (tele/SENSOR).
    func reportPower(on plug: isolated SimulatedPlug) {}

    func reportTelemetry(on plug: isolated SimulatedPlug) {
        plug.publish("tele/\(topic)/STATE", state(plug))
        let kilowattHours = rounded(plug.energyWattHours() / 1000, places: 3)
        let energy: JSONValue = [
            "Power": .int(Int64(plug.watts.rounded())), "Voltage": .int(Int64(Self.voltage)),
            "Current": .double(rounded(plug.watts / Self.voltage, places: 3)),
            "Today": .double(kilowattHours), "Total": .double(kilowattHours),
        ]
        plug.publish("tele/\(topic)/SENSOR", ["Time": .string(localTime()), "ENERGY": energy])
    }

    /// ON/OFF/TOGGLE/1/0/2 in any case; anything else (such as an empty payload) is a query.
    private func power(_ payload: String, _ plug: isolated SimulatedPlug) {
        switch payload.uppercased() {
        case "ON", "1": switchRelay(on: true, source: .command, plug)
        case "OFF", "0": switchRelay(on: false, source: .command, plug)
        case "TOGGLE", "2": switchRelay(on: !plug.isOn, source: .command, plug)
        default: reportPowerState(plug)
        }
    }

    /// Every switch on, even when already on, (re)starts the pulse timer, which switches the relay off.
    private func switchRelay(on: Bool, source: SwitchSource, _ plug: isolated SimulatedPlug) {
        plug.switchRelay(on: on, source: source, flipBackAfter: on ? Self.seconds(pulseTime: pulseTime) : nil)
    }

    /// A number sets the PulseTime; anything else is a query.
    private func setPulseTime(_ payload: String, _ plug: isolated SimulatedPlug) {
        if let value = Int(payload) { pulseTime = min(max(value, 0), 64_900) }
        let remaining = plug.flipBack.map { Self.pulseTime(seconds: $0.remaining) } ?? 0
        plug.publish("stat/\(topic)/RESULT", ["PulseTime1": ["Set": .int(Int64(pulseTime)), "Remaining": .int(Int64(remaining))]])
    }

    private func reportPowerState(_ plug: isolated SimulatedPlug) {
        let state = plug.isOn ? "ON" : "OFF"
        plug.publish("stat/\(topic)/RESULT", ["POWER": .string(state)])
        plug.publish("stat/\(topic)/POWER", state)
    }

    private func state(_ plug: isolated SimulatedPlug) -> JSONValue {
        let uptime = Int((ContinuousClock.now - plug.bootedAt).seconds)
        let clock = String(format: "%02d:%02d:%02d", uptime / 3600 % 24, uptime / 60 % 60, uptime % 60)
        return ["Time": .string(localTime()), "Uptime": .string("\(uptime / 86_400)T\(clock)"), "POWER": plug.isOn ? "ON" : "OFF"]
    }

    /// Local time without a zone, as Tasmota writes it: `2026-11-22T00:05:01`.
    private func localTime() -> String {
        let now = Date()
        let localMillis = Int64((now.timeIntervalSince1970 + Double(TimeZone.current.secondsFromGMT(for: now))) * 1000)
        return String(ISO8601.string(fromMillis: localMillis).prefix(19))
    }

    static func seconds(pulseTime value: Int) -> Double? {
        switch value {
        case 0: nil
        case 1...111: Double(value) / 10
        default: Double(value - 100)
        }
    }

    static func pulseTime(seconds: Double) -> Int {
        switch seconds {
        case ...0: 0
        case ...11.1: Int((seconds * 10).rounded(.up))
        default: Int(seconds.rounded(.up)) + 100
        }
    }
}
