import Foundation
import Logging
import PlayclockContract
import PlayclockMQTT
import PlayclockSim

/// One phase's world: a private broker, a playclockd on a fresh database, simulated PCs and
/// plug-switched consoles, and the bench's probe. `close()` SIGKILLs everything it started.
final class Venue {
    let directory: URL
    let broker: Broker
    let hub: HubProcess
    let pcs: [String]
    let consoles: [(station: String, plug: String)]
    let arrivals = ArrivalLog()
    let probe: Probe
    let fleet: AgentFleet
    let topics = TopicScheme(root: "playclock")!
    private let hubPath: String
    private var tasks: [Task<Void, Never>] = []

    /// Every station id, PCs then consoles.
    var allStations: [String] { pcs + consoles.map(\.station) }

    init(
        name: String, outDir: URL, pcCount: Int, consoleCount: Int, heartbeatSeconds: Int, hubPath: String, mosquitto: String,
        logger: Logger, http: HubHTTPSettings? = nil
    ) async throws {
        directory = outDir.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let width = max(4, String(max(pcCount, consoleCount)).count)
        func pad(_ n: Int) -> String { String(repeating: "0", count: max(0, width - String(n).count)) + String(n) }
        pcs = (1...max(1, pcCount)).map { "PC-\(pad($0))" }
        consoles = consoleCount == 0 ? [] : (1...consoleCount).map { ("CON-\(pad($0))", "con-\(pad($0))") }
        broker = try await Broker(directory: directory, mosquitto: mosquitto)
        self.hubPath = hubPath
        let config = try writeHubFiles(
            directory: directory, broker: broker.url, pcs: pcs, consoles: consoles, heartbeatSeconds: heartbeatSeconds, http: http)
        hub = HubProcess(executable: hubPath, config: config, log: directory.appendingPathComponent("playclockd.log"))
        probe = try Probe(broker: broker.url, topics: topics, logger: logger)
        let probe = self.probe
        tasks.append(Task { await probe.run() })
        // Connected before the simulated devices open thousands of descriptors: libmosquitto's
        // loop refuses sockets numbered above 1023.
        guard await probe.waitUntilConnected() else { throw BenchError("probe could not connect to the broker") }

        let devices = pcCount + consoleCount
        var fleetConfig = FleetConfiguration(broker: broker.url, topics: topics, stations: [], plugs: consoles.map(\.plug))
        fleetConfig.heartbeatInterval = .seconds(heartbeatSeconds)
        fleetConfig.jitter = 0.1
        fleetConfig.clientIDPrefix = "bench"
        if devices <= Self.inProcessDevices {
            // One connection per device, in this process.
            fleetConfig.stations = pcs.compactMap(StationID.init)
            fleetMode = "1 connection per device"
        } else if devices <= 1100 {
            // One connection per device: PCs in playclock-sim processes (250 agents each), which
            // record arrivals to a file this process tails; plugs here.
            let record = directory.appendingPathComponent("arrivals.csv")
            FileManager.default.createFile(atPath: record.path, contents: nil)
            let simPath = URL(fileURLWithPath: hubPath).deletingLastPathComponent().appendingPathComponent("playclock-sim").path
            simulator = try Child(
                simPath,
                ["--broker", broker.url, "--stations", pcs.joined(separator: ","), "--heartbeat-interval", String(heartbeatSeconds),
                 "--jitter", "0.1", "--record", record.path],
                log: directory.appendingPathComponent("playclock-sim.log"))
            let arrivals = self.arrivals
            tasks.append(Task { await tail(record, into: arrivals) })
            fleetMode = "1 connection per device (playclock-sim processes)"
        } else {
            // Many stations per connection (about 500 devices each).
            fleetConfig.stations = pcs.compactMap(StationID.init)
            fleetConfig.connections = max(2, devices / 500)
            fleetMode = "multiplexed over \(fleetConfig.connections!) connections"
        }
        fleetConfig.eventBufferSize = fleetConfig.connections == nil ? 4096 : 1 << 20
        let arrivals = self.arrivals
        fleet = AgentFleet(configuration: fleetConfig, logger: logger) { arrivals.record($0) }
        let fleet = self.fleet
        try hub.start()
        tasks.append(Task { await fleet.run() })
    }

    /// Devices simulated with one connection each inside the bench process (three descriptors each).
    static let inProcessDevices = 250
    /// How the devices are simulated, for the report.
    private(set) var fleetMode = ""
    private var simulator: Child?


    /// Waits until the hub is online and every PC shows online in its retained state.
    func waitUntilReady(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        let wanted = Set(pcs)
        while ContinuousClock.now < deadline {
            if probe.statuses(since: 0).last?.status == "online", probe.onlineCount(wanted) == wanted.count { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("venue not ready after \(timeout): \(probe.onlineCount(wanted))/\(wanted.count) PCs online; see \(directory.path)")
    }

    func close() {
        for task in tasks { task.cancel() }
        simulator?.kill()
        hub.kill()
        broker.child.kill()
    }

    deinit { close() }

    /// Sends `count` requests, each built by `request(i)` just before it goes out, with at most
    /// `window` awaiting an answer; waits for the answers and returns the transactions in order.
    func send(
        count: Int, window: Int, timeout: Duration, _ request: (Int) -> (verb: String, fields: [String: JSONValue])
    ) async -> [String] {
        var transactions: [String] = []
        var outstanding: [String] = []
        for i in 0..<count {
            while outstanding.count >= window {
                try? await Task.sleep(for: .milliseconds(2))
                outstanding.removeAll { probe.response($0) != nil }
            }
            let (verb, fields) = request(i)
            let t = probe.request(verb, fields)
            transactions.append(t)
            outstanding.append(t)
        }
        _ = await probe.waitForResponses(transactions, timeout: timeout)
        return transactions
    }
}

extension Probe.Response {
    var ok: Bool { body["status"]?.stringValue == "ok" }
    var sessionID: String? { body["data"]?["session"]?["id"]?.stringValue }
    var endsAtMillis: Int64? { body["data"]?["session"]?["ends_at"]?.stringValue.flatMap(parseISOMillis) }
    var errorCode: String? { body["error"]?["code"]?.stringValue }
}

/// Feeds the arrivals a playclock-sim appends to `file` (wall_ns,station,action,session,reason).
private func tail(_ file: URL, into log: ArrivalLog) async {
    guard let handle = try? FileHandle(forReadingFrom: file) else { return }
    defer { try? handle.close() }
    var pending = ""
    while !Task.isCancelled {
        let data = handle.availableData
        if data.isEmpty {
            try? await Task.sleep(for: .milliseconds(10))
            continue
        }
        pending += String(decoding: data, as: UTF8.self)
        while let newline = pending.firstIndex(of: "\n") {
            let line = pending[..<newline]
            pending = String(pending[pending.index(after: newline)...])
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 5, let nanos = Int64(f[0]) else { continue }
            log.record(Arrival(device: f[1], kind: Arrival.Kind(rawValue: f[2]) ?? .control, session: f[3].isEmpty ? nil : f[3],
                               reason: f[4].isEmpty ? nil : f[4], wallNanos: nanos, payload: []))
        }
    }
}
