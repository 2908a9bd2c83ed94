import Foundation
import PlayclockContract
import PlayclockMQTT

/// Shelly Gen2/Plus with JSON-RPC over MQTT under its topic_prefix, switch 0, such as a Plus Plug S.
///
/// Requests arrive on `<prefix>/rpc` and are answered on `<src>/rpc`; status changes are sent as
/// NotifyStatus on `<prefix>/events/rpc`.
struct Shelly2Firmware: PlugFirmware {
    static let voltage = 230.1

    let prefix: String

    /// The device id, which is also the default topic_prefix.
    private var deviceID: String { prefix.hasPrefix("shelly") ? prefix : "shellyplusplugs-\(prefix)" }
    var will: (topic: String, payload: String) { ("\(prefix)/online", "false") }
    var commandFilters: [String] { ["\(prefix)/rpc"] }

    func announce(on plug: isolated SimulatedPlug) {
        plug.publish("\(prefix)/online", "true", retain: true)
    }

    /// Malformed requests are ignored; so are requests without a `src` to answer to.
    func handle(_ command: MQTTMessage, on plug: isolated SimulatedPlug) {
        guard let request = try? JSONCoding.decode(command.payload), let method = request["method"]?.stringValue else {
            plug.log("MALFORMED \(String(decoding: command.payload, as: UTF8.self))")
            return
        }
        let params = request["params"] ?? [:]
        plug.log("\(method) \(String(decoding: JSONCoding.encode(params), as: UTF8.self))")
        guard let source = request["src"]?.stringValue else { return }
        var reply: [String: JSONValue] = ["id": request["id"] ?? .null, "src": .string(deviceID), "dst": .string(source)]
        switch call(method, params, plug) {
        case .success(let result): reply["result"] = result
        case .failure(let error): reply["error"] = ["code": .int(error.code), "message": .string(error.message)]
        }
        plug.publish("\(source)/rpc", .object(reply))
    }

    func press(on plug: isolated SimulatedPlug) {
        plug.switchRelay(on: !plug.isOn, source: .button)
    }

    /// NotifyStatus only when the output changed.
    func reportSwitch(wasOn: Bool, source: SwitchSource, on plug: isolated SimulatedPlug) {
        guard wasOn != plug.isOn else { return }
        var status: [String: JSONValue] = ["output": .bool(plug.isOn), "source": .string(Self.name(of: source))]
        status.merge(timer(plug)) { $1 }
        notify(status, plug)
    }

    func reportPower(on plug: isolated SimulatedPlug) {
        notify(["apower": .double(plug.watts), "current": .double(current(plug))], plug)
    }

    func reportTelemetry(on plug: isolated SimulatedPlug) {
        notify(
            ["apower": .double(plug.watts), "voltage": .double(Self.voltage), "current": .double(current(plug)),
             "aenergy": ["total": .double(rounded(plug.energyWattHours(), places: 3))]], plug)
    }

    private struct RPCError: Error {
        let code: Int64
        let message: String
    }

    private func call(_ method: String, _ params: JSONValue, _ plug: isolated SimulatedPlug) -> Result<JSONValue, RPCError> {
        switch method {
        case "Switch.Set", "Switch.GetStatus":
            guard let id = params["id"]?.intValue else { return .failure(RPCError(code: -103, message: "Missing required argument 'id'!")) }
            guard id == 0 else { return .failure(RPCError(code: -105, message: "Argument 'id', value \(id) not found!")) }
            return method == "Switch.Set" ? set(params, plug) : .success(status(plug))
        case "Shelly.GetStatus":
            return .success(["switch:0": status(plug)])
        default:
            return .failure(RPCError(code: 404, message: "No handler for \(method)"))
        }
    }

    /// `{"id": 0, "on": true, "toggle_after": 60}`: toggle_after flips the output back after that many seconds.
    private func set(_ params: JSONValue, _ plug: isolated SimulatedPlug) -> Result<JSONValue, RPCError> {
        guard let on = params["on"]?.boolValue else { return .failure(RPCError(code: -103, message: "Missing required argument 'on'!")) }
        var toggleAfter: Double?
        switch params["toggle_after"] {
        case nil: break
        case .int(let seconds) where seconds > 0: toggleAfter = Double(seconds)
        case .double(let seconds) where seconds > 0: toggleAfter = seconds
        default: return .failure(RPCError(code: -103, message: "Invalid argument 'toggle_after'!"))
        }
        let wasOn = plug.switchRelay(on: on, source: .command, flipBackAfter: toggleAfter)
        return .success(["was_on": .bool(wasOn)])
    }

    private func status(_ plug: isolated SimulatedPlug) -> JSONValue {
        var status: [String: JSONValue] = [
            "id": 0, "source": .string(Self.name(of: plug.lastSwitchSource)), "output": .bool(plug.isOn),
            "apower": .double(plug.watts), "voltage": .double(Self.voltage), "current": .double(current(plug)),
            "aenergy": ["total": .double(rounded(plug.energyWattHours(), places: 3))],
        ]
        status.merge(timer(plug)) { $1 }
        return .object(status)
    }

    private func timer(_ plug: isolated SimulatedPlug) -> [String: JSONValue] {
        guard let timer = plug.flipBack else { return [:] }
        return ["timer_started_at": .double(rounded(timer.startedAt.timeIntervalSince1970, places: 2)), "timer_duration": .double(timer.seconds)]
    }

    private func current(_ plug: isolated SimulatedPlug) -> Double {
        rounded(plug.watts / Self.voltage, places: 3)
    }

    private func notify(_ status: [String: JSONValue], _ plug: isolated SimulatedPlug) {
        var status = status
        status["id"] = 0
        let params: JSONValue = ["ts": .double(rounded(Date().timeIntervalSince1970, places: 2)), "switch:0": .object(status)]
        plug.publish(
            "\(prefix)/events/rpc",
            ["src": .string(deviceID), "dst": .string("\(prefix)/events"), "method": "NotifyStatus", "params": params])
    }

    private static func name(of source: SwitchSource) -> String {
        switch source {
        case .powerOn: "init"
        case .command: "MQTT"
        case .button: "button"
        case .timer: "timer"
        }
    }
}
