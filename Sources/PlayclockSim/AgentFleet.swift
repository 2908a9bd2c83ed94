import Foundation
import Logging
import PlayclockContract
import PlayclockMQTT
import Synchronization

/// What a simulated device saw arrive from the hub, timed on the MQTT network thread.
public struct Arrival: Sendable {
    public enum Kind: String, Sendable {
        case lock, unlock, warn
        /// Any other control action (the hub's contract may grow).
        case control
        case plugOn = "plug_on"
        case plugOff = "plug_off"
    }

    /// The station id for agents, the plug's Tasmota topic for plugs.
    public var device: String
    public var kind: Kind
    /// The control message's `session` (nil for plugs and for locks without a session).
    public var session: String?
    /// The control message's `reason` (locks), e.g. `expired`, `stopped`, `idle`.
    public var reason: String?
    /// CLOCK_REALTIME nanoseconds at which the message was received.
    public var wallNanos: Int64
    public var payload: [UInt8]

    public init(device: String, kind: Kind, session: String?, reason: String?, wallNanos: Int64, payload: [UInt8]) {
        self.device = device
        self.kind = kind
        self.session = session
        self.reason = reason
        self.wallNanos = wallNanos
        self.payload = payload
    }
}

/// How a fleet connects and behaves.
public struct FleetConfiguration: Sendable {
    public var broker: String
    public var username: String?
    public var password: String?
    public var topics: TopicScheme
    /// PC agents to simulate.
    public var stations: [StationID]
    /// Tasmota plugs (their topics) to simulate: they switch on `cmnd/<topic>/POWER` and answer
    /// on `stat/<topic>/POWER`, as Tasmota does.
    public var plugs: [String]
    /// nil: one MQTT connection per station and per plug, each with its own will (the realistic
    /// mode). A number: stations and plugs are spread over that many connections (multiplexed
    /// mode, for venue-scale loads); presence then comes from `online`/`offline` messages and
    /// heartbeats, since one will cannot speak for many stations.
    public var connections: Int?
    public var heartbeatInterval: Duration
    /// Each heartbeat comes up to this fraction of the interval early or late (0...0.5).
    public var jitter: Double
    public var clientIDPrefix: String
    /// Per connection; a multiplexed connection receives bursts of thousands of messages.
    public var eventBufferSize: Int

    public init(broker: String, topics: TopicScheme, stations: [StationID], plugs: [String] = []) {
        self.broker = broker
        self.topics = topics
        self.stations = stations
        self.plugs = plugs
        self.connections = nil
        self.heartbeatInterval = .seconds(5)
        self.jitter = 0.1
        self.clientIDPrefix = "playclock-sim"
        self.eventBufferSize = 4096
    }
}

/// Simulated PC agents and Tasmota plugs, one connection each or multiplexed over a few.
///
/// Agents announce `online`, heartbeat `{"seq","agent","version","locked"}` at the configured
/// interval with jitter, and obey lock/unlock. Plugs switch their relay and confirm it. Every
/// control and plug command is reported to `onArrival` with its receive time. Faults: agents
/// dropping off and coming back (`drop`), plugs that never answer (`setSilent`), a burst of
/// malformed payloads (`publishMalformed`).
public final class AgentFleet: Sendable {
    private let configuration: FleetConfiguration
    private let logger: Logger
    private let onArrival: @Sendable (Arrival) -> Void
    private let connections: [Connection]
    private let stationHome: [StationID: Int]
    private let plugHome: [String: Int]

    public init(configuration: FleetConfiguration, logger: Logger, onArrival: @escaping @Sendable (Arrival) -> Void) {
        self.configuration = configuration
        self.logger = logger
        self.onArrival = onArrival
        let stations = configuration.stations
        let plugs = configuration.plugs
        var groups: [(stations: [StationID], plugs: [String])]
        if let count = configuration.connections {
            let n = max(1, min(count, stations.count + plugs.count))
            groups = Array(repeating: ([], []), count: n)
            for (i, s) in stations.enumerated() { groups[i % n].stations.append(s) }
            for (i, p) in plugs.enumerated() { groups[(stations.count + i) % n].plugs.append(p) }
        } else {
            groups = stations.map { ([$0], []) } + plugs.map { ([], [$0]) }
        }
        var stationHome: [StationID: Int] = [:]
        var plugHome: [String: Int] = [:]
        var connections: [Connection] = []
        for (index, group) in groups.enumerated() {
            for s in group.stations { stationHome[s] = index }
            for p in group.plugs { plugHome[p] = index }
            let name: String
            if configuration.connections == nil {
                name = group.stations.first.map { "\(configuration.clientIDPrefix)-\($0)" }
                    ?? "\(configuration.clientIDPrefix)-plug-\(group.plugs[0])"
            } else {
                name = "\(configuration.clientIDPrefix)-mux-\(index)"
            }
            connections.append(Connection(
                clientID: name, stations: group.stations, plugs: group.plugs, willPerStation: configuration.connections == nil,
                configuration: configuration, logger: logger, onArrival: onArrival))
        }
        self.connections = connections
        self.stationHome = stationHome
        self.plugHome = plugHome
    }

    public var connectionCount: Int { connections.count }

    /// Connects everything and runs until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask { await connection.run() }
            }
        }
    }

    /// The agent's lock state as it would report it (nil for an unknown station).
    public func isLocked(_ station: StationID) -> Bool? {
        stationHome[station].flatMap { connections[$0].isLocked(station) }
    }

    /// Agents drop off (say `offline`, stop heartbeating, miss every control message) and come
    /// back after `duration` (say `online` again and resume).
    public func drop(_ stations: [StationID], for duration: Duration) {
        for station in stations {
            guard let home = stationHome[station] else { continue }
            connections[home].setAway(station, true)
            Task {
                try? await Task.sleep(for: duration)
                self.connections[home].setAway(station, false)
            }
        }
    }

    /// A silent plug still receives commands (they are reported) but never switches or answers.
    public func setSilent(_ plug: String, _ silent: Bool) {
        guard let home = plugHome[plug] else { return }
        connections[home].setSilent(plug, silent)
    }

    /// Publishes `count` malformed payloads spread over the stations' heartbeat and agent topics
    /// and the hub's request topic: broken JSON, wrong types, oversize, binary junk and empty.
    public func publishMalformed(count: Int) {
        guard let connection = connections.first else { return }
        let topics = configuration.topics
        let junk: [[UInt8]] = [
            Array("{not json".utf8), Array("[1,2,3]".utf8), Array("{\"seq\":\"x\",\"locked\":\"maybe\"}".utf8),
            // Over the hub's default 16 KiB request limit, under the brokers' 64 KiB packet limit
            // (a larger one would get the simulator's own connection dropped).
            [0xff, 0xfe, 0x00, 0x01], Array(repeating: UInt8(ascii: "{"), count: 20_000), [],
        ]
        for i in 0..<count {
            let payload = junk[i % junk.count]
            let topic: String
            switch i % 3 {
            case 0 where !configuration.stations.isEmpty:
                topic = topics.heartbeat(configuration.stations[i % configuration.stations.count])
            case 1 where !configuration.stations.isEmpty:
                topic = topics.agent(configuration.stations[i % configuration.stations.count])
            default:
                topic = topics.request(Verb.sessionStart.rawValue)
            }
            guard let t = try? MQTTTopic(topic) else { continue }
            connection.client.publish(t, payload: payload, qos: .atMostOnce)
        }
    }
}

/// One MQTT connection serving some agents and plugs.
private final class Connection: Sendable {
    struct AgentState {
        var station: StationID
        var heartbeat: MQTTTopic
        var agent: MQTTTopic
        var locked = true
        var away = false
        var seq: Int64 = 0
        var nextBeatNanos: Int64 = 0
    }

    struct PlugState {
        var topic: String
        var on = false
        var silent = false
    }

    struct State {
        var agents: [AgentState] = []
        var agentIndex: [StationID: Int] = [:]
        var plugs: [String: PlugState] = [:]
    }

    let client: MQTTClient
    private let state: Mutex<State>
    /// Control topic -> station, plug command topic -> plug topic.
    private let controlStation: [String: StationID]
    private let plugCommand: [String: String]
    private let configuration: FleetConfiguration
    private let onArrival: @Sendable (Arrival) -> Void
    private let logger: Logger

    init(
        clientID: String, stations: [StationID], plugs: [String], willPerStation: Bool, configuration: FleetConfiguration,
        logger: Logger, onArrival: @escaping @Sendable (Arrival) -> Void
    ) {
        let topics = configuration.topics
        var mqtt = (try? MQTTClientConfiguration(url: configuration.broker, clientID: clientID))
            ?? MQTTClientConfiguration(host: "127.0.0.1", port: 1883, clientID: clientID)
        mqtt.username = configuration.username
        mqtt.password = configuration.password
        mqtt.eventBufferSize = configuration.eventBufferSize
        if willPerStation, let station = stations.first, let agent = try? MQTTTopic(topics.agent(station)) {
            mqtt.will = MQTTWill(topic: agent, payload: Array("offline".utf8), qos: .atLeastOnce)
        } else if willPerStation, let plug = plugs.first, let lwt = try? MQTTTopic("tele/\(plug)/LWT") {
            mqtt.will = MQTTWill(topic: lwt, payload: Array("Offline".utf8), qos: .atLeastOnce, retain: true)
        }
        client = MQTTClient(configuration: mqtt, logger: logger)
        var s = State()
        var controls: [String: StationID] = [:]
        for station in stations {
            guard let hb = try? MQTTTopic(topics.heartbeat(station)), let agent = try? MQTTTopic(topics.agent(station)),
                  let control = try? MQTTTopicFilter(topics.control(station))
            else { continue }
            s.agentIndex[station] = s.agents.count
            s.agents.append(AgentState(station: station, heartbeat: hb, agent: agent))
            controls[topics.control(station)] = station
            client.subscribe(control, qos: .atLeastOnce)
        }
        var commands: [String: String] = [:]
        for plug in plugs {
            guard let filter = try? MQTTTopicFilter("cmnd/\(plug)/+") else { continue }
            s.plugs[plug] = PlugState(topic: plug)
            commands["cmnd/\(plug)/POWER"] = plug
            commands["cmnd/\(plug)/POWER1"] = plug
            client.subscribe(filter, qos: .atLeastOnce)
        }
        state = Mutex(s)
        controlStation = controls
        plugCommand = commands
        self.configuration = configuration
        self.onArrival = onArrival
        self.logger = logger
    }

    func isLocked(_ station: StationID) -> Bool? {
        state.withLock { s in s.agentIndex[station].map { s.agents[$0].locked } }
    }

    func setAway(_ station: StationID, _ away: Bool) {
        let topic: MQTTTopic? = state.withLock { s in
            guard let i = s.agentIndex[station], s.agents[i].away != away else { return nil }
            s.agents[i].away = away
            s.agents[i].nextBeatNanos = 0
            return s.agents[i].agent
        }
        if let topic { client.publish(topic, payload: Array((away ? "offline" : "online").utf8), qos: .atLeastOnce) }
    }

    func setSilent(_ plug: String, _ silent: Bool) {
        state.withLock { $0.plugs[plug]?.silent = silent }
    }

    func run() async {
        client.start()
        let beats = Task { await heartbeatLoop() }
        defer {
            beats.cancel()
            client.stop()
        }
        for await event in client.events {
            switch event {
            case .connected:
                announce()
            case .disconnected:
                break
            case .message(let message):
                receive(message)
            }
        }
    }

    private func announce() {
        let (agents, plugs) = state.withLock { s in (s.agents.filter { !$0.away }.map(\.agent), Array(s.plugs.values)) }
        for agent in agents { client.publish(agent, payload: Array("online".utf8), qos: .atLeastOnce) }
        for plug in plugs {
            if let lwt = try? MQTTTopic("tele/\(plug.topic)/LWT") {
                client.publish(lwt, payload: Array("Online".utf8), qos: .atLeastOnce, retain: true)
            }
            if let stat = try? MQTTTopic("stat/\(plug.topic)/POWER") {
                client.publish(stat, payload: Array((plug.on ? "ON" : "OFF").utf8), qos: .atLeastOnce)
            }
        }
    }

    private func receive(_ message: MQTTMessage) {
        if let station = controlStation[message.topic] {
            // An agent that dropped off misses what is sent meanwhile.
            let away = state.withLock { s in s.agentIndex[station].map { s.agents[$0].away } ?? true }
            guard !away, let control = try? ControlMessage(payload: message.payload) else { return }
            let kind = Arrival.Kind(rawValue: control.action.rawValue) ?? .control
            let (session, reason): (String?, String?) = switch control {
            case .lock(let lock): (lock.session, lock.reasonText)
            case .unlock(let grant), .warn(let grant, _), .extend(let grant, _): (grant.session, nil)
            case .order: (nil, nil)
            }
            if kind == .lock || kind == .unlock {
                state.withLock { s in
                    if let i = s.agentIndex[station] { s.agents[i].locked = kind == .lock }
                }
            }
            onArrival(Arrival(
                device: station.value, kind: kind, session: session,
                reason: reason, wallNanos: message.receivedAtWallNanos, payload: message.payload))
        } else if let plug = plugCommand[message.topic] {
            let word = String(decoding: message.payload, as: UTF8.self).uppercased()
            let answer: Bool? = state.withLock { s in
                guard var p = s.plugs[plug] else { return nil }
                switch word {
                case "ON", "1": if !p.silent { p.on = true }
                case "OFF", "0": if !p.silent { p.on = false }
                case "TOGGLE", "2": if !p.silent { p.on.toggle() }
                default: break  // an empty POWER is a status query
                }
                s.plugs[plug] = p
                return p.silent ? nil : p.on
            }
            if word == "ON" || word == "1" || word == "OFF" || word == "0" {
                onArrival(Arrival(
                    device: plug, kind: (word == "ON" || word == "1") ? .plugOn : .plugOff, session: nil, reason: nil,
                    wallNanos: message.receivedAtWallNanos, payload: message.payload))
            }
            if let on = answer, let stat = try? MQTTTopic("stat/\(plug)/POWER") {
                client.publish(stat, payload: Array((on ? "ON" : "OFF").utf8), qos: .atLeastOnce)
            }
        }
    }

    /// Sends each agent's heartbeat when it is due; every beat lands within ±jitter of the interval.
    private func heartbeatLoop() async {
        let interval = configuration.heartbeatInterval
        let intervalNanos = interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000
        let jitter = min(max(configuration.jitter, 0), 0.5)
        var generator = SystemRandomNumberGenerator()
        // Spread the first beats over one interval so thousands of agents do not beat in step.
        state.withLock { s in
            let start = monotonicNanos()
            for i in s.agents.indices { s.agents[i].nextBeatNanos = start + Int64.random(in: 0...max(0, intervalNanos), using: &generator) }
        }
        let tick = Duration.milliseconds(max(5, min(50, Int(intervalNanos / 1_000_000 / 20))))
        while !Task.isCancelled {
            let now = monotonicNanos()
            let due: [(MQTTTopic, [UInt8])] = state.withLock { s in
                var out: [(MQTTTopic, [UInt8])] = []
                for i in s.agents.indices where !s.agents[i].away && s.agents[i].nextBeatNanos <= now {
                    s.agents[i].seq += 1
                    let spread = jitter == 0 ? 0 : Double.random(in: -jitter...jitter, using: &generator)
                    s.agents[i].nextBeatNanos = now + Int64(Double(intervalNanos) * (1 + spread))
                    let beat = HeartbeatMessage(
                        seq: s.agents[i].seq, info: ["agent": "playclock-sim", "version": "1", "locked": .bool(s.agents[i].locked)])
                    out.append((s.agents[i].heartbeat, beat.payload))
                }
                return out
            }
            if client.isConnected {
                for (topic, payload) in due { client.publish(topic, payload: payload) }
            }
            try? await Task.sleep(for: tick)
        }
    }
}

func monotonicNanos() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

/// CLOCK_REALTIME in nanoseconds, comparable with `Arrival.wallNanos`.
public func wallClockNanos() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_REALTIME, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}
