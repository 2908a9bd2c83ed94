import Foundation
import Logging
import PlayclockCore
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
    private var tasks: [Task<Void, Never>] = []

    /// Every station id, PCs then consoles.
    var allStations: [String] { pcs + consoles.map(\.station) }

    init(
        name: String, outDir: URL, pcCount: Int, consoleCount: Int, heartbeatSeconds: Int, hubPath: String, mosquitto: String,
        logger: Logger
    ) async throws {
        directory = outDir.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let width = max(4, String(max(pcCount, consoleCount)).count)
        func pad(_ n: Int) -> String { String(repeating: "0", count: max(0, width - String(n).count)) + String(n) }
        pcs = (1...max(1, pcCount)).map { "PC-\(pad($0))" }
        consoles = consoleCount == 0 ? [] : (1...consoleCount).map { ("CON-\(pad($0))", "con-\(pad($0))") }
        broker = try await Broker(directory: directory, mosquitto: mosquitto)
        let config = try writeHubFiles(
            directory: directory, broker: broker.url, pcs: pcs, consoles: consoles, heartbeatSeconds: heartbeatSeconds)
        hub = HubProcess(executable: hubPath, config: config, log: directory.appendingPathComponent("playclockd.log"))
        probe = try Probe(broker: broker.url, topics: topics, logger: logger)
        var fleetConfig = FleetConfiguration(
            broker: broker.url, topics: topics, stations: pcs.compactMap(StationID.init), plugs: consoles.map(\.plug))
        // One connection per device is realistic but costs a thread each here; past 1,000
        // stations the simulator multiplexes (about 500 devices per connection).
        fleetConfig.connections = pcCount + consoleCount > 1100 ? max(2, (pcCount + consoleCount) / 500) : nil
        fleetConfig.heartbeatInterval = .seconds(heartbeatSeconds)
        fleetConfig.jitter = 0.1
        fleetConfig.clientIDPrefix = "bench"
        fleetConfig.eventBufferSize = fleetConfig.connections == nil ? 1024 : 1 << 20
        let arrivals = self.arrivals
        fleet = AgentFleet(configuration: fleetConfig, logger: logger) { arrivals.record($0) }
        let probe = self.probe
        let fleet = self.fleet
        tasks.append(Task { await probe.run() })
        guard await probe.waitUntilConnected() else { throw BenchError("probe could not connect to the broker") }
        try hub.start()
        tasks.append(Task { await fleet.run() })
    }

    var fleetMode: String {
        fleet.connectionCount == allStations.count
            ? "1 connection per device" : "multiplexed over \(fleet.connectionCount) connections"
    }

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
        hub.kill()
        broker.child.kill()
    }

    deinit { close() }

    /// Sends requests with at most `window` awaiting an answer; returns the transactions in order.
    func send(_ requests: [(verb: String, fields: [String: JSONValue])], window: Int, timeout: Duration) async -> [String] {
        var transactions: [String] = []
        var outstanding: [String] = []
        for request in requests {
            while outstanding.count >= window {
                try? await Task.sleep(for: .milliseconds(2))
                outstanding.removeAll { probe.response($0) != nil }
            }
            let t = probe.request(request.verb, request.fields)
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
