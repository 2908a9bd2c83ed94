import Foundation
import PlayclockContract
import PlayclockMQTT

/// Shelly Gen1 (`shellies/<id>/...`), relay 0, such as a Shelly Plug S.
///
/// Gen1 has no off-timer over MQTT: its only one is the device's auto_off setting, set over HTTP,
/// so a hub cannot arm a fail-safe with a command and must switch the plug off itself.
struct Shelly1Firmware: PlugFirmware {
    let id: String

    private var base: String { "shellies/\(id)" }
    var will: (topic: String, payload: String) { ("\(base)/online", "false") }
    var commandFilters: [String] { ["\(base)/relay/0/command"] }

    func announce(on plug: isolated SimulatedPlug) {
        plug.publish("\(base)/online", "true", retain: true)
        reportRelay(plug)
        let announcement: JSONValue = [
            "id": .string(id), "model": "SHPLG-S", "mac": .string(mac), "ip": "127.0.0.1", "fw_ver": "sim", "new_fw": false,
        ]
        plug.publish("shellies/announce", announcement)
    }

    /// `on`, `off` or `toggle`; anything else is ignored.
    func handle(_ command: MQTTMessage, on plug: isolated SimulatedPlug) {
        let payload = String(decoding: command.payload, as: UTF8.self)
        plug.log("command \(payload)")
        switch payload {
        case "on": plug.switchRelay(on: true, source: .command)
        case "off": plug.switchRelay(on: false, source: .command)
        case "toggle": plug.switchRelay(on: !plug.isOn, source: .command)
        default: break
        }
    }

    func press(on plug: isolated SimulatedPlug) {
        plug.switchRelay(on: !plug.isOn, source: .button)
    }

    func reportSwitch(wasOn: Bool, source: SwitchSource, on plug: isolated SimulatedPlug) {
        reportRelay(plug)
    }

    func reportPower(on plug: isolated SimulatedPlug) {
        plug.publish("\(base)/relay/0/power", String(format: "%.2f", plug.watts))
    }

    func reportTelemetry(on plug: isolated SimulatedPlug) {
        reportPower(on: plug)
    }

    /// The real device retains its relay state.
    private func reportRelay(_ plug: isolated SimulatedPlug) {
        plug.publish("\(base)/relay/0", plug.isOn ? "on" : "off", retain: true)
    }

    /// A stable made-up MAC: FNV-1a of the id.
    private var mac: String {
        let hash = id.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        return String(format: "%012llX", hash & 0xFFFF_FFFF_FFFF)
    }
}
