import ArgumentParser
import Foundation
import Logging
import PlayclockCore
import PlayclockMQTT
import PlayclockSim

// A main.swift next to other source files is top-level code, where `@main` is not allowed.
await PlayclockSim.start()

struct PlayclockSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playclock-sim",
        abstract: "Simulated PC agents and smart plugs for demos and tests.",
        discussion: """
            Each simulated agent announces itself on <root>/stations/<id>/agent ("online"), \
            heartbeats {"seq", "agent", "version", "locked"} on <root>/stations/<id>/heartbeat \
            every --heartbeat-interval seconds (± --jitter), obeys lock/unlock from \
            <root>/stations/<id>/control, and prints one line per control message it receives: \
            "<time> <station> <action> <json>". By default every agent has its own MQTT \
            connection with "offline" as its will (up to a few thousand agents); \
            --connections N multiplexes them over N connections (10,000 agents and more).

            Agent faults: publish "drop:<seconds>" on playclock-sim/agents/<id>/fault (the agent \
            says "offline", stops heartbeating and misses control messages, then comes back), or \
            "<count>" on playclock-sim/malformed (a burst of malformed payloads on heartbeat, \
            agent and request topics).

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
    @Option(name: .long, help: "Each heartbeat comes up to this fraction of the interval early or late, 0...0.5 (default 0.1).")
    var jitter: Double = 0.1
    @Option(name: .long, help: "Multiplex the agents over this many MQTT connections (default: one connection per agent).")
    var connections: Int?
    @OptionGroup(title: "Smart plugs")
    var plugs: PlugOptions

    func validate() throws {
        guard TopicScheme(root: topicRoot) != nil else { throw ValidationError("invalid --topic-root") }
        guard heartbeatInterval > 0, heartbeatInterval <= 3600 else { throw ValidationError("--heartbeat-interval must be in (0, 3600]") }
        guard (0...0.5).contains(jitter) else { throw ValidationError("--jitter must be in 0...0.5") }
        if let connections, !(1...1000).contains(connections) { throw ValidationError("--connections must be in 1...1000") }
        for id in try stationIDs() where StationID(id) == nil {
            throw ValidationError("invalid station id \"\(id)\": use 1-64 of A-Z a-z 0-9 _ -")
        }
    }

    func stationIDs() throws -> [String] {
        if let stations { return stations.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if pcs == nil, !plugs.specs.isEmpty { return [] }
        let count = pcs ?? 8
        guard (1...100_000).contains(count) else { throw ValidationError("--pcs must be in 1...100000") }
        let width = max(2, String(count).count)
        return (1...count).map { n in
            let digits = String(n)
            return prefix + String(repeating: "0", count: width - digits.count) + digits
        }
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
        let plugSettings = PlugSettings(
            broker: broker, username: username, password: password, idleWatts: plugs.plugIdleWatts,
            activeWatts: plugs.plugActiveWatts, telemetryInterval: plugs.plugTelemetryInterval)
        var fleetConfig = FleetConfiguration(broker: broker, topics: topics, stations: ids)
        fleetConfig.username = username
        fleetConfig.password = password
        fleetConfig.connections = connections
        fleetConfig.heartbeatInterval = .milliseconds(Int64(heartbeatInterval * 1000))
        fleetConfig.jitter = jitter
        fleetConfig.eventBufferSize = connections == nil ? 4096 : 1 << 20
        let fleet = AgentFleet(configuration: fleetConfig, logger: logger) { arrival in
            output.write("\(ISO8601.string(fromMillis: arrival.wallNanos / 1_000_000)) \(arrival.device) \(arrival.kind.rawValue) "
                + String(decoding: arrival.payload, as: UTF8.self))
        }
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
            if !ids.isEmpty {
                group.addTask { await fleet.run() }
                group.addTask { await Self.listenForFaults(fleet: fleet, broker: broker, username: username, password: password, logger: logger) }
            }
        }
    }

    /// Agent faults arrive on their own connection, so they work in both modes.
    static func listenForFaults(fleet: AgentFleet, broker: String, username: String?, password: String?, logger: Logger) async {
        guard var config = try? MQTTClientConfiguration(url: broker, clientID: "playclock-sim-faults-\(getpid())") else { return }
        config.username = username
        config.password = password
        let client = MQTTClient(configuration: config, logger: logger)
        if let filter = try? MQTTTopicFilter("playclock-sim/agents/+/fault") { client.subscribe(filter, qos: .atLeastOnce) }
        if let filter = try? MQTTTopicFilter("playclock-sim/malformed") { client.subscribe(filter, qos: .atLeastOnce) }
        client.start()
        defer { client.stop() }
        for await event in client.events {
            guard case .message(let message) = event else { continue }
            let text = String(decoding: message.payload, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if message.topic == "playclock-sim/malformed" {
                if let count = Int(text), (1...100_000).contains(count) { fleet.publishMalformed(count: count) }
                continue
            }
            let parts = message.topic.split(separator: "/")
            guard parts.count == 4, let station = StationID(String(parts[2])), text.hasPrefix("drop:"),
                  let seconds = Double(text.dropFirst(5)), seconds > 0, seconds <= 86_400
            else { continue }
            fleet.drop([station], for: .milliseconds(Int64(seconds * 1000)))
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

