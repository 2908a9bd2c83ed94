import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// One message seen on the wire by an independent `mosquitto_sub`.
struct WireRecord {
    var time: Double  // Unix seconds when mosquitto_sub received it
    var topic: String
    var payload: String
    var json: JSONValue? { try? JSONCoding.decode(Array(payload.utf8)) }
}

/// `mosquitto_sub` on `playclock/#`, printing the receive time, topic and payload of every message.
final class WireRecorder {
    private let process: ChildProcess

    /// `auth`: extra client arguments such as `["-u", account, "-P", password]`. The recorder knows
    /// it is subscribed once it sees a probe: by default on `probe/<uuid>` published with the same
    /// arguments; `probe` publishes it otherwise (e.g. as another account on a brokered topic).
    init(
        port: Int, filter: String = "playclock/#", auth: [String] = [],
        probe: ((_ payload: String) throws -> (topic: String, ok: Bool))? = nil
    ) async throws {
        let directory = try makeTemporaryDirectory(prefix: "recorder")
        process = try ChildProcess(
            "/usr/bin/mosquitto_sub",
            arguments: ["-h", "127.0.0.1", "-p", "\(port)", "-t", filter, "-t", "probe/#", "-q", "1", "-F", "%U|%t|%p"] + auth,
            directory: directory)
        let token = UUID().uuidString
        let publish = probe ?? { payload in
            let result = try runTool("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", "\(port)", "-t", "probe/\(payload)", "-m", payload] + auth)
            return ("probe/\(payload)", result.status == 0)
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            let (topic, _) = try publish(token)
            try await Task.sleep(for: .milliseconds(50))
            if records().contains(where: { $0.topic == topic && $0.payload == token }) { break }
            guard ContinuousClock.now < deadline else { throw ChildProcessError(description: "mosquitto_sub never subscribed") }
        }
    }

    deinit { process.kill() }

    func stop() { process.kill() }

    func records() -> [WireRecord] {
        process.output.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let time = Double(parts[0]) else { return nil }
            return WireRecord(time: time, topic: String(parts[1]), payload: String(parts[2]))
        }
    }

    var count: Int { records().count }

    /// The first record at index >= `since` that matches, waiting up to `timeout`.
    @discardableResult
    func waitFor(
        since: Int = 0, timeout: Duration = .seconds(5), _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ predicate: (WireRecord) -> Bool
    ) async throws -> WireRecord {
        let deadline = ContinuousClock.now + timeout
        while true {
            let all = records()
            if all.count > since, let found = all[since...].first(where: predicate) { return found }
            if ContinuousClock.now >= deadline {
                let tail = all.suffix(15).map { "\($0.topic) \($0.payload)" }.joined(separator: "\n")
                Issue.record("timed out waiting for \(what); last messages:\n\(tail)", sourceLocation: sourceLocation)
                throw ChildProcessError(description: "timed out waiting for \(what)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Control messages to a station since `since`, decoded.
    func controls(_ station: String, since: Int = 0) -> [JSONValue] {
        records().dropFirst(since).filter { $0.topic == "playclock/stations/\(station)/control" }.compactMap(\.json)
    }
}

/// Runs a tool to completion and returns its stdout (stderr appended) and exit status. After
/// `timeout` it is killed with SIGKILL (the Mosquitto clients' own `-W` relies on SIGALRM, which
/// stays blocked in children of the test process), and the output so far is returned.
@discardableResult
func runTool(_ path: String, _ arguments: [String], timeout: Duration = .seconds(10)) throws -> (output: String, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let pid = process.processIdentifier
    let killer = DispatchWorkItem { kill(pid, SIGKILL) }
    let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: killer)
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    killer.cancel()
    return (String(decoding: data, as: UTF8.self), process.terminationStatus)
}

/// A real broker, a real `playclockd` on a real SQLite file, and an independent recorder.
final class HubHarness {
    static let defaultPolicy: JSONValue = [
        "warn_thresholds_s": [2], "countdown_interval_s": 1, "final_countdown_interval_s": 1, "final_phase_s": 3,
        "heartbeat_interval_s": 1, "missed_heartbeats": 3, "expired_hold_s": 2,
    ]
    static let stations = ["PC-01", "PC-02", "PC-03"]

    let broker: MosquittoBroker
    let directory: URL
    private(set) var recorder: WireRecorder
    private(set) var hub: ChildProcess?

    var database: String { directory.appendingPathComponent("playclock.sqlite").path }

    /// The dashboard's port, when the test asked for one (`http`); otherwise the hub serves no HTTP.
    let httpPort: Int?

    /// `config`: extra top-level config keys (`roles`, `http`, ...) besides the policy.
    init(
        policy: JSONValue = HubHarness.defaultPolicy, extraStations: [JSONValue] = [], recordEverything: Bool = false,
        config: [String: JSONValue] = [:], http: Bool = false
    ) async throws {
        broker = try await MosquittoBroker()
        directory = try makeTemporaryDirectory(prefix: "hub")
        var stations: [JSONValue] = Self.stations.map { ["station": .string($0), "name": .string($0), "kind": "pc"] }
        stations.append(["station": "CON-01", "name": "PS5", "kind": "console"])
        stations += extraStations
        try Data(JSONCoding.encode(["stations": .array(stations)])).write(to: directory.appendingPathComponent("venue.json"))
        var settings = config
        settings["policy"] = policy
        try Data(JSONCoding.encode(.object(settings))).write(to: directory.appendingPathComponent("config.json"))
        httpPort = http ? try freeLoopbackPort() : nil
        recorder = try await WireRecorder(port: broker.port, filter: recordEverything ? "#" : "playclock/#")
        try await startHub()
    }

    deinit {
        hub?.kill()
        recorder.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts `playclockd` and waits until it announces `online`.
    func startHub() async throws {
        let mark = recorder.count
        hub = try ChildProcess(
            binaryPath("playclockd"),
            arguments: [
                "--broker", broker.url, "--database", database, "--config", directory.appendingPathComponent("config.json").path,
                "--venue", directory.appendingPathComponent("venue.json").path, "--log-level", "debug",
                "--http", httpPort.map { "127.0.0.1:\($0)" } ?? "off",
            ],
            directory: directory)
        try await recorder.waitFor(since: mark, timeout: .seconds(10), "hub online") {
            $0.topic == "playclock/hub/status" && $0.payload == "online"
        }
        // The resync after connecting goes out in station order: once the last station's control
        // message is seen, tests only see what they cause.
        try await recorder.waitFor(since: mark, "resync done") { $0.topic == "playclock/stations/PC-03/control" }
    }

    func killHub() {
        hub?.kill()
        hub = nil
    }

    /// A new recorder (after a broker restart the old mosquitto_sub may have given up).
    func restartRecorder() async throws {
        recorder.stop()
        recorder = try await WireRecorder(port: broker.port)
    }

    /// Publishes a request with `mosquitto_pub` and returns the hub's response.
    func request(_ verb: String, _ body: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        let transaction = UUID().uuidString
        var fields = body.objectValue ?? [:]
        fields["transaction"] = .string(transaction)
        return try await requestRaw(verb, String(decoding: JSONCoding.encode(.object(fields)), as: UTF8.self),
                                    transaction: transaction, sourceLocation: sourceLocation)
    }

    /// Publishes any payload as a request. Without a transaction, the next response on the verb is returned.
    func requestRaw(_ verb: String, _ payload: String, transaction: String? = nil, sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> JSONValue
    {
        let mark = recorder.count
        try publish("playclock/hub/request/\(verb)", payload, qos: 1)
        let record = try await recorder.waitFor(since: mark, "response to \(verb)", sourceLocation: sourceLocation) { record in
            guard record.topic == "playclock/hub/response/\(verb)" else { return false }
            return transaction.map { record.json?["transaction"] == .string($0) } ?? true
        }
        return try #require(record.json)
    }

    func publish(_ topic: String, _ payload: String, qos: Int = 0) throws {
        let result = try runTool(
            "/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-q", "\(qos)", "-m", payload])
        guard result.status == 0 else { throw ChildProcessError(description: "mosquitto_pub failed: \(result.output)") }
    }

    func heartbeat(_ station: String, seq: Int = 1, locked: Bool? = nil) throws {
        var body: JSONValue = ["seq": .int(Int64(seq))]
        if let locked, case .object(var fields) = body {
            fields["locked"] = .bool(locked)
            body = .object(fields)
        }
        try publish("playclock/stations/\(station)/heartbeat", String(decoding: JSONCoding.encode(body), as: UTF8.self))
    }

    /// The latest retained state of a station, read by a fresh subscriber.
    func retainedState(_ station: String) throws -> JSONValue? {
        let result = try runTool(
            "/usr/bin/mosquitto_sub",
            ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "playclock/stations/\(station)/state", "-C", "1"],
            timeout: .seconds(2))
        return try? JSONCoding.decode(Array(result.output.utf8))
    }

    /// Failure context: the hub's own log.
    var hubLog: String { hub?.output ?? "" }
}

/// Parses an ISO 8601 timestamp written by the hub into Unix seconds.
func unixSeconds(_ iso: String?) -> Double? {
    guard let iso else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: iso)?.timeIntervalSince1970
}
