import ArgumentParser
import Foundation
import Logging
import PlayclockContract
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
            --connections N multiplexes them over N connections (10,000 agents and more). \
            libmosquitto's loop cannot serve sockets numbered above 1023, so past \
            \(Self.agentsPerProcess) agents with one connection each the simulator runs child \
            processes of \(Self.agentsPerProcess) agents (they die with it).

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
    @Option(name: .long, help: "Simulate this many PCs named <prefix>01, <prefix>02, ... (zero-padded to the digits of N, at least 2; default 8 when neither --stations nor a plug is given).")
    var pcs: Int?
    @Option(name: .long, help: "Prefix for --pcs (default PC-).")
    var prefix: String = "PC-"
    @Option(name: .long, help: "Heartbeat interval in seconds (default 5).")
    var heartbeatInterval: Double = 5
    @Option(name: .long, help: "Each heartbeat comes up to this fraction of the interval early or late, 0...0.5 (default 0.1).")
    var jitter: Double = 0.1
    @Option(name: .long, help: "Multiplex the agents over this many MQTT connections (default: one connection per agent).")
    var connections: Int?
    @Option(name: .long, help: "Also append every control message received to this CSV file: wall_ns,station,action,session,reason.")
    var record: String?
    @Flag(name: .long, help: .hidden)
    var child = false
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
        if child {
            // A child of a fanned-out simulator never outlives it (even a SIGKILLed one).
            let parent = getppid()
            Task.detached {
                while getppid() == parent { try? await Task.sleep(for: .milliseconds(250)) }
                Foundation.exit(0)
            }
        }
        let output = LineWriter()
        let recorder = try record.map(RecordFile.init(path:))
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
            recorder?.append(arrival)
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
            if connections == nil, ids.count > Self.agentsPerProcess {
                group.addTask { await self.fanOut(ids) }
            } else if !ids.isEmpty {
                group.addTask { await fleet.run() }
                group.addTask { await Self.listenForFaults(fleet: fleet, broker: broker, username: username, password: password, logger: logger) }
            }
        }
    }

    static let agentsPerProcess = 250

    /// Runs the agents in child processes of `agentsPerProcess` each (same options), until
    /// cancelled or a child ends; their output goes straight to this process's stdout.
    func fanOut(_ ids: [StationID]) async {
        var children: [Process] = []
        defer {
            for c in children where c.isRunning { kill(c.processIdentifier, SIGKILL) }
        }
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for start in stride(from: 0, to: ids.count, by: Self.agentsPerProcess) {
            let slice = ids[start..<min(ids.count, start + Self.agentsPerProcess)]
            var arguments = [
                "--child", "--broker", broker, "--topic-root", topicRoot, "--heartbeat-interval", String(heartbeatInterval),
                "--jitter", String(jitter), "--stations", slice.map(\.value).joined(separator: ","),
            ]
            if let username { arguments += ["--username", username] }
            if let password { arguments += ["--password", password] }
            if let record { arguments += ["--record", record] }
            let process = Process()
            process.executableURL = me
            process.arguments = arguments
            do {
                try process.run()
                children.append(process)
            } catch {
                FileHandle.standardError.write(Data("playclock-sim: cannot start a child simulator: \(error)\n".utf8))
                return
            }
        }
        while !Task.isCancelled, children.allSatisfy(\.isRunning) {
            try? await Task.sleep(for: .milliseconds(200))
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

/// Appends arrivals to a CSV file, one whole line per write (O_APPEND: child simulators share it).
final class RecordFile: Sendable {
    private let fd: Int32

    init(path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot open --record file \(path)") }
    }

    func append(_ a: Arrival) {
        let line = "\(a.wallNanos),\(a.device),\(a.kind.rawValue),\(a.session ?? ""),\(a.reason ?? "")\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
    }

    deinit { close(fd) }
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

