import Foundation

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A child process that is always SIGKILLed and reaped: the bench never leaves one running.
final class Child: @unchecked Sendable {
    let process = Process()

    init(_ executable: String, _ arguments: [String], log: URL, environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        // Appended to, never truncated: a restarted hub keeps the log of the run before it.
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw BenchError("cannot start \(executable): \(error)")
        }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { kill() }
}

/// Reads a process's CPU time and memory from /proc (Linux).
struct ProcessStats {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// User + system CPU seconds used so far.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticksPerSecond
    }

    /// A /proc/<pid>/status field in kB (VmRSS: now, VmHWM: peak).
    static func memoryKB(pid: Int32, field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }
}

func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw BenchError("cannot bind a loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// A private Mosquitto on a free loopback port. Queues are unbounded here (unlike the shipped
/// config) because the multiplexed simulator receives thousands of stations' messages on one
/// connection; a real venue has one connection per device and the shipped limits apply.
final class Broker {
    let port: Int
    let child: Child
    var url: String { "mqtt://127.0.0.1:\(port)" }

    init(directory: URL, mosquitto: String) async throws {
        port = try freeLoopbackPort()
        let conf = directory.appendingPathComponent("mosquitto.conf")
        try """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence false
            max_queued_messages 0
            max_inflight_messages 0
            set_tcp_nodelay true
            log_dest stderr
            log_type error
            log_type warning

            """.write(to: conf, atomically: true, encoding: .utf8)
        child = try Child(mosquitto, ["-c", conf.path], log: directory.appendingPathComponent("mosquitto.log"))
        let deadline = ContinuousClock.now + .seconds(10)
        while !canConnect(port: port) {
            guard child.isRunning, ContinuousClock.now < deadline else {
                child.kill()
                throw BenchError("mosquitto did not start; see \(directory.path)/mosquitto.log")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// The real playclockd, started from a config file written for the run.
final class HubProcess {
    let executable: String
    let config: URL
    let log: URL
    private(set) var child: Child?

    init(executable: String, config: URL, log: URL) {
        self.executable = executable
        self.config = config
        self.log = log
    }

    func start() throws {
        // The default log level, as a venue runs it: the hub's logging is part of its cost.
        child = try Child(executable, ["--config", config.path], log: log)
    }

    func kill() {
        child?.kill()
        child = nil
    }

    var pid: Int32? { child.flatMap { $0.isRunning ? $0.pid : nil } }
}

/// The dashboard settings of a hub that serves it (every other phase runs with `--http off`).
struct HubHTTPSettings {
    var port: Int
    /// `account:bcrypt` lines (nil: nobody can sign in, e.g. a hub served only for `/metrics`).
    var usersFile: String?
    var boardTokenFile: String?
    /// Account -> role (viewer, cashier, manager), the config's `roles` (none: left out).
    var roles: [String: String] = [:]
}

/// Writes the hub's venue file (the PCs, and consoles switched by Tasmota plugs) and its config
/// file; returns the config file. Without `http` the hub serves no dashboard.
func writeHubFiles(
    directory: URL, broker: String, pcs: [String], consoles: [(station: String, plug: String)], heartbeatSeconds: Int,
    http: HubHTTPSettings? = nil
) throws -> URL {
    var stations: [[String: Any]] = pcs.map { ["station": $0, "name": $0, "kind": "pc"] }
    stations += consoles.map { ["station": $0.station, "name": $0.station, "kind": "console", "plug": ["type": "tasmota", "topic": $0.plug]] }
    let venue = directory.appendingPathComponent("venue.json")
    try JSONSerialization.data(withJSONObject: ["stations": stations]).write(to: venue)
    var config: [String: Any] = [
        "broker": broker,
        "database": directory.appendingPathComponent("playclock.sqlite").path,
        "venue": venue.path,
        "client_id": "playclockd-bench",
        "http": ["listen": "off"],
        "policy": [
            "heartbeat_interval_s": heartbeatSeconds,
            "missed_heartbeats": 3,
            "plug_off_delay_s": 0,
            "max_session_minutes": 1440,
        ],
        // One cent a second, billed by the second: desk sales grant exactly the seconds sold.
        "pricing": [
            "currency": "EUR", "timezone": "UTC",
            "plans": [["id": "bench", "name": "Bench", "per_hour": 3600, "step_s": 1, "minimum": 0]],
            "packages": [], "tiers": [],
        ] as [String: Any],
    ]
    if let http {
        var settings: [String: Any] = ["listen": "127.0.0.1:\(http.port)"]
        if let users = http.usersFile { settings["users_file"] = users }
        if let token = http.boardTokenFile { settings["board_token_file"] = token }
        config["http"] = settings
        if !http.roles.isEmpty { config["roles"] = http.roles }
    }
    let file = directory.appendingPathComponent("playclockd.json")
    try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: file)
    return file
}
