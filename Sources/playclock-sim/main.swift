import ArgumentParser
import Foundation
import Logging
import PlayclockCore
import PlayclockMQTT

// A main.swift next to other source files is top-level code, where `@main` is not allowed.
await PlayclockSim.start()

struct PlayclockSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playclock-sim",
        abstract: "Simulated PC agents and smart plugs for demos and tests.",
        discussion: """
            Each simulated agent has its own MQTT connection, announces itself on \
            <root>/stations/<id>/agent ("online", with "offline" as its will), heartbeats \
            {"seq", "agent", "version", "locked"} on <root>/stations/<id>/heartbeat, obeys \
            lock/unlock from <root>/stations/<id>/control, and prints one line per control \
            message it receives: "<time> <station> <action> <json>".

            Each simulated plug (--tasmota, --shelly1, --shelly2) has its own MQTT connection \
            (client id = its name), speaks its firmware's topics, starts with the relay off and \
            prints one line per command and state change: "<time> <name> <kind> <detail>". \
            Tests inject faults on playclock-sim/plugs/<name>/fault: press, powercut, silent, \
            answer, idle, play.
            """)

    @Option(name: .long, help: "Broker URL (default mqtt://127.0.0.1:1883).")
    var broker: String = "mqtt://127.0.0.1:1883"
    @Option(name: .long, help: "Broker username.")
    var username: String?
    @Option(name: .long, help: "Broker password.")
    var password: String?
    @Option(name: .long, help: "Topic root (default playclock).")
    var topicRoot: String = "playclock"
    @Option(name: .long, help: "Comma-separated station ids to simulate, e.g. PC-01,PC-02.")
    var stations: String?
    @Option(name: .long, help: "Simulate this many PCs named <prefix>01, <prefix>02, ... (default 8 when neither --stations nor a plug is given).")
    var pcs: Int?
    @Option(name: .long, help: "Prefix for --pcs (default PC-).")
    var prefix: String = "PC-"
    @Option(name: .long, help: "Heartbeat interval in seconds (default 5).")
    var heartbeatInterval: Double = 5
    @OptionGroup(title: "Smart plugs")
    var plugs: PlugOptions

    func validate() throws {
        guard TopicScheme(root: topicRoot) != nil else { throw ValidationError("invalid --topic-root") }
        guard heartbeatInterval > 0, heartbeatInterval <= 3600 else { throw ValidationError("--heartbeat-interval must be in (0, 3600]") }
        for id in try stationIDs() where StationID(id) == nil {
            throw ValidationError("invalid station id \"\(id)\": use 1-64 of A-Z a-z 0-9 _ -")
        }
    }

    func stationIDs() throws -> [String] {
        if let stations { return stations.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if pcs == nil, !plugs.specs.isEmpty { return [] }
        let count = pcs ?? 8
        guard (1...10_000).contains(count) else { throw ValidationError("--pcs must be in 1...10000") }
        return (1...count).map { "\(prefix)\($0 < 10 ? "0" : "")\($0)" }
    }

    /// Top-level code resolves `main()` to ParsableCommand's synchronous one, which refuses async
    /// commands; in an async function it resolves to AsyncParsableCommand's.
    static func start() async {
        await main()
    }

    func run() async throws {
        let topics = TopicScheme(root: topicRoot)!
        let logger = {
            var logger = Logger(label: "playclock-sim")
            logger.logLevel = .warning
            return logger
        }()
        let ids = try stationIDs().compactMap(StationID.init)
        let output = LineWriter()
        let settings = AgentSettings(broker: broker, username: username, password: password, heartbeatInterval: heartbeatInterval)
        let plugSettings = PlugSettings(
            broker: broker, username: username, password: password, idleWatts: plugs.plugIdleWatts,
            activeWatts: plugs.plugActiveWatts, telemetryInterval: plugs.plugTelemetryInterval)
        await withTaskGroup(of: Void.self) { group in
            for spec in plugs.specs {
                group.addTask {
                    let plug = SimulatedPlug(spec: spec, settings: plugSettings, logger: logger, output: output)
                    do {
                        try await plug.run()
                    } catch {
                        await plug.log("error \(error)")
                    }
                }
            }
            for id in ids {
                group.addTask {
                    do {
                        try await SimulatedAgent(id: id, topics: topics, sim: settings, logger: logger, output: output).run()
                    } catch {
                        output.write("\(ISO8601.string(fromMillis: Int64(Date().timeIntervalSince1970 * 1000))) \(id) error \(error)")
                    }
                }
            }
        }
    }
}

/// Serialises whole lines on stdout across agents.
final class LineWriter: Sendable {
    private let lock = NSLock()
    func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

struct AgentSettings: Sendable {
    var broker: String
    var username: String?
    var password: String?
    var heartbeatInterval: Double
}

struct SimulatedAgent {
    let id: StationID
    let topics: TopicScheme
    let sim: AgentSettings
    let logger: Logger
    let output: LineWriter

    func run() async throws {
        var config = try MQTTClientConfiguration(url: sim.broker, clientID: "playclock-sim-\(id)")
        config.username = sim.username
        config.password = sim.password
        let agentTopic = try MQTTTopic(topics.agent(id))
        config.will = MQTTWill(topic: agentTopic, payload: Array("offline".utf8), qos: .atLeastOnce, retain: false)
        let client = MQTTClient(configuration: config, logger: logger)
        client.subscribe(try MQTTTopicFilter(topics.control(id)), qos: .atLeastOnce)
        client.start()
        defer { client.stop() }

        let heartbeat = try MQTTTopic(topics.heartbeat(id))
        let locked = LockedFlag()
        let interval = sim.heartbeatInterval
        let beats = Task {
            var seq: Int64 = 0
            while !Task.isCancelled {
                seq += 1
                let body: JSONValue = ["seq": .int(seq), "agent": "playclock-sim", "version": "1", "locked": .bool(locked.value)]
                client.publish(heartbeat, payload: JSONCoding.encode(body))
                try? await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
            }
        }
        defer { beats.cancel() }

        for await event in client.events {
            switch event {
            case .connected:
                client.publish(agentTopic, payload: Array("online".utf8), qos: .atLeastOnce)
            case .disconnected:
                break
            case .message(let message):
                guard let control = try? JSONCoding.decode(message.payload), let action = control["action"]?.stringValue else { continue }
                switch action {
                case "lock": locked.value = true
                case "unlock": locked.value = false
                default: break
                }
                let now = ISO8601.string(fromMillis: Int64(Date().timeIntervalSince1970 * 1000))
                output.write("\(now) \(id) \(action) \(String(decoding: message.payload, as: UTF8.self))")
            }
        }
    }
}

/// The agent's lock state, shared between its heartbeat task and its message loop.
final class LockedFlag: Sendable {
    private let lock = NSLock()
    nonisolated(unsafe) private var locked = true
    var value: Bool {
        get { lock.lock(); defer { lock.unlock() }; return locked }
        set { lock.lock(); locked = newValue; lock.unlock() }
    }
}
