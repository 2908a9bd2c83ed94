import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// `playclockd` speaks systemd's notify protocol: READY once recovered, WATCHDOG while alive.
@Suite(.serialized)
struct SystemdNotifyTests {
    @Test func theHubReportsReadyAndFeedsTheWatchdog() async throws {
        let broker = try await MosquittoBroker()
        let directory = try makeTemporaryDirectory(prefix: "notify")
        defer { try? FileManager.default.removeItem(at: directory) }
        let socketPath = directory.appendingPathComponent("notify.sock").path

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = socketPath
        environment["WATCHDOG_USEC"] = "400000"
        let hub = try ChildProcess(
            binaryPath("playclockd"),
            arguments: ["--broker", broker.url, "--database", directory.appendingPathComponent("hub.sqlite").path, "--http", "off"],
            environment: environment, directory: directory)
        defer { hub.kill() }

        var received: [String] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while received.filter({ $0 == "WATCHDOG=1" }).count < 3 {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            received.append(String(decoding: buffer.prefix(n), as: UTF8.self))
        }
        #expect(received.first == "READY=1", "\(received) \(hub.output)")
        #expect(received.filter { $0 == "WATCHDOG=1" }.count == 3, "the watchdog is fed every 200 ms")
    }
}
