import Foundation
import PlayclockContract
import PlayclockCore

/// The repository's root, for the shipped configuration and scripts.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Mosquitto running the shipped `mosquitto/playclock.conf`, rewritten only where a test must:
/// listeners on free loopback ports, and the password, ACL, certificate and persistence paths in
/// a temporary directory. Accounts, ACL (from `playclock broker acl`) and certificates (from
/// `scripts/venue-ca.sh`) are made with the shipped tools.
final class SecureBroker {
    let directory: URL
    let plainPort: Int
    let tlsPort: Int
    let websocketPort: Int
    private(set) var passwords: [String: String] = [:]
    private var process: ChildProcess?

    var caFile: String { directory.appendingPathComponent("certs/ca.crt").path }
    var passwordFile: String { directory.appendingPathComponent("playclock.passwd").path }
    var aclFile: String { directory.appendingPathComponent("playclock.acl").path }
    var log: String { process?.output ?? "" }

    /// - Parameters:
    ///   - venue: the venue file the ACL is generated from.
    ///   - config: the hub config file (roles).
    ///   - accounts: broker accounts to create.
    init(venue: URL, config: URL, accounts: [String]) async throws {
        directory = try makeTemporaryDirectory(prefix: "secure-broker")
        plainPort = try freeLoopbackPort()
        tlsPort = try freeLoopbackPort()
        websocketPort = try freeLoopbackPort()

        let ca = try runTool(
            repositoryRoot.appendingPathComponent("scripts/venue-ca.sh").path,
            ["--dir", directory.appendingPathComponent("certs").path, "--server-name", "localhost", "--server-ip", "127.0.0.1"],
            timeout: .seconds(60))
        guard ca.status == 0 else { throw ChildProcessError(description: "venue-ca.sh failed: \(ca.output)") }

        let cli = binaryPath("playclock")
        for account in accounts {
            let result = try runTool(cli, ["broker", "passwd", account, "--file", passwordFile])
            let parts = result.output.split(separator: " ")
            guard result.status == 0, parts.count == 2 else {
                throw ChildProcessError(description: "broker passwd \(account) failed: \(result.output)")
            }
            passwords[account] = parts[1].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let acl = try runTool(
            cli, ["broker", "acl", "--venue", venue.path, "--config", config.path, "--monitor", "monitor", "--out", aclFile])
        guard acl.status == 0 else { throw ChildProcessError(description: "broker acl failed: \(acl.output)") }

        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("mosquitto/playclock.conf"), encoding: .utf8)
        var listeners = [1883: plainPort, 8883: tlsPort, 9001: websocketPort]
        var lines: [String] = []
        for line in shipped.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let words = line.split(separator: " ")
            if words.first == "listener", words.count >= 2, let port = Int(words[1]), let free = listeners.removeValue(forKey: port) {
                lines.append("listener \(free) 127.0.0.1")
            } else {
                lines.append(line
                    .replacingOccurrences(of: "/etc/mosquitto/playclock.passwd", with: passwordFile)
                    .replacingOccurrences(of: "/etc/mosquitto/playclock.acl", with: aclFile)
                    .replacingOccurrences(of: "/etc/mosquitto/certs/", with: directory.appendingPathComponent("certs").path + "/"))
            }
        }
        guard listeners.isEmpty else {
            throw ChildProcessError(description: "the shipped config lacks listeners on ports \(listeners.keys.sorted())")
        }
        // Debian's main mosquitto.conf sets these; the fragment relies on them.
        lines += ["persistence_location \(directory.path)/", "log_dest stderr", "log_type all"]
        try lines.joined(separator: "\n").write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)

        let child = try ChildProcess(
            MosquittoBroker.executable, arguments: ["-c", directory.appendingPathComponent("mosquitto.conf").path], directory: directory)
        process = child
        let deadline = ContinuousClock.now + .seconds(5)
        while !(canConnect(toLoopbackPort: plainPort) && canConnect(toLoopbackPort: tlsPort)) {
            guard child.isRunning, ContinuousClock.now < deadline else {
                child.kill()
                throw ChildProcessError(description: "secure mosquitto did not start:\n\(child.output)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    deinit {
        process?.kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Credentials for the Mosquitto clients.
    func login(_ account: String) -> [String] {
        ["-h", "127.0.0.1", "-p", "\(plainPort)", "-u", account, "-P", passwords[account] ?? ""]
    }
}
