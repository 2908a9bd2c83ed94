import Foundation

/// A private mosquitto on a free loopback port, configured in a fresh temporary directory.
/// `stop()` SIGKILLs it; `restart()` brings it back on the same port; deinit never leaves it running.
final class MosquittoBroker {
    static let executable = "/usr/sbin/mosquitto"

    let port: Int
    let directory: URL
    var url: String { "mqtt://127.0.0.1:\(port)" }
    private var process: ChildProcess?

    init() async throws {
        port = try freeLoopbackPort()
        directory = try makeTemporaryDirectory(prefix: "mosquitto")
        let config = """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence false
            log_dest stderr
            log_type all
            log_timestamp_format %H:%M:%S

            """
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        try await start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private var configFile: URL { directory.appendingPathComponent("mosquitto.conf") }

    /// The broker's stderr log, across restarts.
    var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("mosquitto.log"), encoding: .utf8)) ?? ""
    }

    /// SIGKILL (no clean shutdown) and reap.
    func stop() {
        process?.kill()
        process = nil
    }

    func restart() async throws {
        stop()
        try await start()
    }

    private func start() async throws {
        let child = try ChildProcess(Self.executable, arguments: ["-c", configFile.path], directory: directory)
        process = child
        let deadline = ContinuousClock.now + .seconds(5)
        while !canConnect(toLoopbackPort: port) {
            guard child.isRunning, ContinuousClock.now < deadline else {
                stop()
                throw ChildProcessError(description: "mosquitto did not accept connections on port \(port):\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort() throws -> Int {
    let (fd, port) = try listenOnLoopback()
    close(fd)
    return port
}

/// A listening TCP socket on 127.0.0.1 with a kernel-chosen port.
func listenOnLoopback() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ChildProcessError(description: "socket() failed: errno \(errno)") }
    var address = loopbackAddress(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else {
        close(fd)
        throw ChildProcessError(description: "cannot listen on 127.0.0.1: errno \(errno)")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A connected TCP socket to 127.0.0.1:`port`, or nil.
func connectToLoopback(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = loopbackAddress(port: port)
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
    guard connected else {
        close(fd)
        return nil
    }
    return fd
}

func canConnect(toLoopbackPort port: Int) -> Bool {
    guard let fd = connectToLoopback(port: port) else { return false }
    close(fd)
    return true
}

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}
