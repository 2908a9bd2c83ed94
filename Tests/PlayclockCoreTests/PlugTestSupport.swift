import PlayclockContract
@testable import PlayclockCore
import Testing

// MARK: - Plug fixtures

let tasStation = StationID("PS-TAS")!
let sh1Station = StationID("PS-SH1")!
let sh2Station = StationID("PS-SH2")!

let tasBinding = PlugBinding.tasmota(topic: "ps5plug", relay: 1)
let sh1Binding = PlugBinding.shelly1(id: "shelly1-AB12", relay: 0)
let sh2Binding = PlugBinding.shelly2(prefix: "venue/shellyplus-01", switchID: 0)

func plugStation(_ id: StationID, _ binding: PlugBinding?, kind: StationKind = .console) -> Station {
    Station(id: id, name: id.value, kind: kind, plug: binding)
}

let allPlugStations = [
    plugStation(tasStation, tasBinding), plugStation(sh1Station, sh1Binding), plugStation(sh2Station, sh2Binding),
]

// MARK: - Outbound helpers

extension Outbound {
    var text: String { String(decoding: payload, as: UTF8.self) }
    /// Whether the hub addressed this to a plug (anything outside the hub's own topic root).
    var isPlugCommand: Bool { !topic.hasPrefix(testTopics.root + "/") }
}

extension Array where Element == HubAction {
    /// Every message the hub sent to a plug, in order.
    var plugCommands: [Outbound] { outbounds.filter(\.isPlugCommand) }

    /// Payload texts sent to `topic`, in order.
    func texts(to topic: String) -> [String] { published(to: topic).map(\.text) }

    /// Shelly Gen2 RPC bodies sent to `<prefix>/rpc`.
    func rpcs(_ prefix: String) -> [JSONValue] { published(to: "\(prefix)/rpc").compactMap(\.json) }

    func events(_ type: String) -> [HubEvent] { events.filter { $0.type == type } }
}

/// Whether a plug command switches the plug on (true), off (false), or is no switch command (nil).
func switchState(_ o: Outbound) -> Bool? {
    if o.topic.hasPrefix("cmnd/"), o.topic.split(separator: "/").last?.hasPrefix("POWER") == true {
        return o.text == "ON" ? true : o.text == "OFF" ? false : nil
    }
    if o.topic.hasPrefix("shellies/"), o.topic.hasSuffix("/command") {
        return o.text == "on" ? true : o.text == "off" ? false : nil
    }
    if o.topic.hasSuffix("/rpc"), let json = o.json, json["method"] == "Switch.Set" {
        return json["params"]?["on"]?.boolValue
    }
    return nil
}

/// The report a plug sends when its relay is `on`, on its most specific topic.
func powerReport(_ binding: PlugBinding, on: Bool) -> (topic: String, payload: String) {
    switch binding {
    case .tasmota(let t, let n):
        return ("stat/\(t)/RESULT", "{\"POWER\(n == 1 ? "" : String(n))\":\"\(on ? "ON" : "OFF")\"}")
    case .shelly1(let id, let n):
        return ("shellies/\(id)/relay/\(n)", on ? "on" : "off")
    case .shelly2(let p, let s):
        return ("\(p)/events/rpc", "{\"src\":\"dev\",\"method\":\"NotifyStatus\",\"params\":{\"switch:\(s)\":{\"id\":\(s),\"output\":\(on)}}}")
    }
}

/// The plug's presence message.
func onlineReport(_ binding: PlugBinding, online: Bool) -> (topic: String, payload: String) {
    switch binding {
    case .tasmota(let t, _): return ("tele/\(t)/LWT", online ? "Online" : "Offline")
    case .shelly1(let id, _): return ("shellies/\(id)/online", online ? "true" : "false")
    case .shelly2(let p, _): return ("\(p)/online", online ? "true" : "false")
    }
}

// MARK: - Harness

/// A `TestHub` whose every step checks that nothing sent to a plug is retained (a plug would
/// re-execute a retained command each time it reconnects) and that it goes at QoS 1.
struct PlugHub {
    var hub: TestHub

    init(policy: HubPolicy = HubPolicy(), stations: [Station] = allPlugStations) {
        hub = TestHub(policy: policy, stations: stations)
    }

    var core: HubCore { hub.core }
    var now: Timestamp { hub.now }
    var mono: Int64 { hub.now.monoNanos }

    @discardableResult
    func checked(_ actions: [HubAction], sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        for o in actions.plugCommands {
            #expect(o.retain == false, "plug command retained: \(o.topic) \(o.text)", sourceLocation: sourceLocation)
            #expect(o.qos == .atLeastOnce, "plug command not QoS 1: \(o.topic)", sourceLocation: sourceLocation)
        }
        return actions
    }

    @discardableResult
    mutating func request(
        _ verb: String, _ body: JSONValue, sourceLocation: SourceLocation = #_sourceLocation
    ) -> (result: Result<JSONValue, CommandError>, actions: [HubAction]) {
        let r = hub.request(verb, body)
        checked(r.actions, sourceLocation: sourceLocation)
        return r
    }

    /// A request that must succeed.
    @discardableResult
    mutating func ok(_ verb: String, _ body: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        let r = request(verb, body, sourceLocation: sourceLocation)
        if case .failure(let e) = r.result { Issue.record("\(verb) refused: \(e)", sourceLocation: sourceLocation) }
        return r.actions
    }

    @discardableResult
    mutating func start(_ id: StationID, seconds: Int64, sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        checked(hub.start(id, seconds: seconds, sourceLocation: sourceLocation), sourceLocation: sourceLocation)
    }

    /// A plug message; nil when the core does not know the topic.
    @discardableResult
    mutating func message(_ topic: String, _ payload: String, sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction]? {
        guard let actions = hub.core.plugMessage(topic: topic, payload: Array(payload.utf8), now: hub.now) else { return nil }
        hub.record(actions)
        return checked(actions, sourceLocation: sourceLocation)
    }

    /// A plug message on a topic the core must know.
    @discardableResult
    mutating func report(_ topic: String, _ payload: String, sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        guard let actions = message(topic, payload, sourceLocation: sourceLocation) else {
            Issue.record("plugMessage(\(topic)) returned nil: topic not bound", sourceLocation: sourceLocation)
            return []
        }
        return actions
    }

    @discardableResult
    mutating func report(_ r: (topic: String, payload: String), sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        report(r.topic, r.payload, sourceLocation: sourceLocation)
    }

    /// The plug confirms it is `on`.
    @discardableResult
    mutating func confirm(_ binding: PlugBinding, on: Bool, sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        report(powerReport(binding, on: on), sourceLocation: sourceLocation)
    }

    @discardableResult
    mutating func run(seconds: Int64, sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        checked(hub.run(seconds: seconds), sourceLocation: sourceLocation)
    }

    @discardableResult
    mutating func run(millis: Int64, sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        checked(hub.run(millis: millis), sourceLocation: sourceLocation)
    }

    @discardableResult
    mutating func run(untilMono target: Int64, sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        checked(hub.run(untilMono: target), sourceLocation: sourceLocation)
    }

    /// Like `run(seconds:)`, but keeps each tick's actions with its time (ms after the call).
    mutating func steps(seconds: Int64, sourceLocation: SourceLocation = #_sourceLocation) -> [(atMillis: Int64, actions: [HubAction])] {
        let origin = mono
        let target = origin + seconds * 1_000_000_000
        var out: [(Int64, [HubAction])] = []
        var guardCount = 0
        while let d = hub.core.nextDeadline(), d <= target {
            guardCount += 1
            if guardCount > 10_000 { Issue.record("deadlines never settle", sourceLocation: sourceLocation); break }
            if d > mono { hub.clock.advance(toMono: d) }
            let actions = checked(hub.tick(), sourceLocation: sourceLocation)
            if !actions.isEmpty { out.append(((mono - origin) / 1_000_000, actions)) }
        }
        if target > mono { hub.clock.advance(toMono: target) }
        let last = checked(hub.tick(), sourceLocation: sourceLocation)
        if !last.isEmpty { out.append(((mono - origin) / 1_000_000, last)) }
        return out
    }

    @discardableResult
    mutating func resync(sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        let actions = hub.core.resync(now: hub.now)
        hub.record(actions)
        return checked(actions, sourceLocation: sourceLocation)
    }

    mutating func advance(seconds: Int64) { hub.advance(seconds: seconds) }

    func state(_ id: StationID) -> JSONValue? { hub.state(id) }
    func plug(_ id: StationID) -> JSONValue? { hub.state(id)?["plug"] }
    func status(_ id: StationID) -> String? { hub.status(id) }
    func remainingSeconds(_ id: StationID) -> Int64? { hub.remainingSeconds(id) }
}

// MARK: - Expectations

let plugX = StationID("PS-X")!

/// A hub with one console station `PS-X` bound to `binding`.
func singlePlugHub(_ binding: PlugBinding, policy: HubPolicy = HubPolicy()) -> PlugHub {
    PlugHub(policy: policy, stations: [plugStation(plugX, binding)])
}

/// Expects `cmds` to be exactly the native switch command(s) for `binding`: Tasmota PulseTime (when
/// on with a timer) then POWER; Shelly Gen1 relay command; Shelly Gen2 one Switch.Set.
func expectSwitch(
    _ cmds: [Outbound], _ binding: PlugBinding, on: Bool, offAfter: Int64? = nil, src: String = "playclock-hub",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let lines = cmds.map { "\($0.topic) \($0.text)" }
    switch binding {
    case .tasmota(let t, let n):
        var want: [String] = []
        if on, let s = offAfter { want.append("cmnd/\(t)/PulseTime\(n) \(TasmotaDriver.pulseTime(seconds: s))") }
        want.append("cmnd/\(t)/POWER\(n) \(on ? "ON" : "OFF")")
        #expect(lines == want, sourceLocation: sourceLocation)
    case .shelly1(let id, let n):
        #expect(lines == ["shellies/\(id)/relay/\(n)/command \(on ? "on" : "off")"], sourceLocation: sourceLocation)
    case .shelly2(let p, let s):
        #expect(cmds.map(\.topic) == ["\(p)/rpc"], sourceLocation: sourceLocation)
        let rpc = cmds.first?.json
        #expect(rpc?["method"] == "Switch.Set", sourceLocation: sourceLocation)
        #expect(rpc?["src"] == .string(src), sourceLocation: sourceLocation)
        #expect(rpc?["id"]?.intValue != nil, sourceLocation: sourceLocation)
        var params: [String: JSONValue] = ["id": .int(Int64(s)), "on": .bool(on)]
        if on, let secs = offAfter { params["toggle_after"] = .int(secs) }
        #expect(rpc?["params"] == .object(params), sourceLocation: sourceLocation)
    }
}
