import Foundation

struct XTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The path of `name` on PATH, or nil.
func executable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

let xvfbInstalled = executable("Xvfb") != nil

/// A private Xvfb (1920x1080x24, no TCP) on a display number no socket uses, killed by PID with
/// SIGKILL, with the X tools the tests check it with (xwininfo, xdotool, ImageMagick). Used by
/// the X11 display's own tests and by the agent's end-to-end tests.
final class XServer {
    static var isInstalled: Bool { xvfbInstalled }
    let display: String
    let width = 1920, height = 1080
    private let process: Process
    private var children: [Process] = []
    let directory: URL

    init() throws {
        guard let xvfb = executable("Xvfb") else { throw XTestError("Xvfb is not installed") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("xvfb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("Xvfb.log")
        var failures: [String] = []
        // Xvfb's own choice (`-displayfd` alone) goes by lock files in /tmp, which cannot see a
        // server in another mount namespace that holds the same abstract socket (clients would then
        // talk to that server). So the number is chosen here among those no socket uses, and
        // `-displayfd` reports when the server is ready.
        for _ in 0..<8 {
            let number = Int.random(in: 200...899)
            guard !XServer.displayInUse(number) else { continue }
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            let ready = Pipe()
            process.executableURL = URL(fileURLWithPath: xvfb)
            // -noreset: without it the server resets (forgetting `xrandr --setmonitor`) whenever its
            // last client disconnects.
            process.arguments = [
                ":\(number)", "-displayfd", "1", "-screen", "0", "1920x1080x24", "-nolisten", "tcp", "-noreset",
            ]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = ready
            process.standardError = try FileHandle(forWritingTo: log)
            try process.run()
            let reported = XServer.readLine(ready.fileHandleForReading.fileDescriptor, timeout: 10)
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if reported == "\(number)", process.isRunning, !output.contains("failed"), !output.contains("already") {
                self.process = process
                display = ":\(number)"
                return
            }
            failures.append("display :\(number): \(output)")
            if process.isRunning {
                Foundation.kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        try? FileManager.default.removeItem(at: directory)
        throw XTestError("cannot start Xvfb: \(failures.joined(separator: "; "))")
    }

    /// Whether display `number` has a lock file or a listening socket (abstract or in /tmp/.X11-unix).
    private static func displayInUse(_ number: Int) -> Bool {
        if FileManager.default.fileExists(atPath: "/tmp/.X\(number)-lock") { return true }
        let sockets = (try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8)) ?? ""
        return sockets.split(separator: "\n").contains { $0.hasSuffix("/tmp/.X11-unix/X\(number)") }
    }

    private static func readLine(_ fd: Int32, timeout: TimeInterval) -> String {
        var text = ""
        let deadline = Date().addingTimeInterval(timeout)
        while !text.contains("\n"), Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 200) > 0 else { continue }
            var byte: UInt8 = 0
            guard read(fd, &byte, 1) == 1 else { break }
            text.append(Character(UnicodeScalar(byte)))
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// SIGKILL everything started here, then the server.
    func kill() {
        for child in children where child.isRunning {
            Foundation.kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        children = []
        killServer()
    }

    func killServer() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = display
        env.removeValue(forKey: "XAUTHORITY")
        return env
    }

    /// Starts `tool` in the background on this display (killed with the server).
    @discardableResult
    func start(_ tool: String, _ arguments: [String]) throws -> Process {
        guard let path = executable(tool) else { throw XTestError("\(tool) is not installed") }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: path)
        child.arguments = arguments
        child.environment = environment
        child.standardInput = FileHandle.nullDevice
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        children.append(child)
        return child
    }

    /// Runs `tool` to completion (SIGKILL after 10 s) and returns its status and stdout.
    @discardableResult
    func run(_ tool: String, _ arguments: [String]) throws -> (output: String, status: Int32) {
        guard let path = executable(tool) else { throw XTestError("\(tool) is not installed") }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: path)
        child.arguments = arguments
        child.environment = environment
        let out = directory.appendingPathComponent("out-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        defer {
            try? handle.close()
            try? FileManager.default.removeItem(at: out)
        }
        child.standardInput = FileHandle.nullDevice
        child.standardOutput = handle
        child.standardError = handle
        try child.run()
        let deadline = Date().addingTimeInterval(10)
        while child.isRunning, Date() < deadline { usleep(10_000) }
        if child.isRunning {
            Foundation.kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            throw XTestError("\(tool) \(arguments.joined(separator: " ")) did not finish in 10 s")
        }
        return ((try? String(contentsOf: out, encoding: .utf8)) ?? "", child.terminationStatus)
    }

    // MARK: - Windows

    struct Window: Equatable {
        var id: UInt
        var x: Int
        var y: Int
        var width: Int
        var height: Int
        var viewable: Bool
    }

    /// The root's children (bottom to top) with their geometry and map state (xwininfo).
    func windows() throws -> [Window] {
        let listing = try run("xwininfo", ["-root", "-children"]).output
        var result: [Window] = []
        for line in listing.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("0x"), let id = UInt(trimmed.prefix { $0 != " " }.dropFirst(2), radix: 16) else {
                continue
            }
            let fields = trimmed.split(separator: " ")
            guard fields.count >= 2, let geometry = fields.dropLast().last,
                  let match = geometry.wholeMatch(of: /(\d+)x(\d+)([+-]\d+)([+-]\d+)/) else { continue }
            let info = try run("xwininfo", ["-id", "\(id)"]).output
            result.append(Window(
                id: id, x: Int(match.3)!, y: Int(match.4)!, width: Int(match.1)!, height: Int(match.2)!,
                viewable: info.contains("Map State: IsViewable")))
        }
        return result
    }

    /// Whether window `id` is mapped and viewable.
    func isViewable(_ id: UInt) throws -> Bool {
        try run("xwininfo", ["-id", "\(id)"]).output.contains("Map State: IsViewable")
    }

    /// The mapped window covering the whole 1920x1080 root, if any.
    func fullscreenWindow() throws -> Window? {
        try windows().first { $0.viewable && $0.x == 0 && $0.y == 0 && $0.width == 1920 && $0.height == 1080 }
    }

    /// A mapped window smaller than 800x400 whose right edge is near the screen's and top near 0.
    func topRightWindow() throws -> Window? {
        try windows().first {
            $0.viewable && $0.width < 800 && $0.height < 400 && $0.x + $0.width > 1800 && $0.x + $0.width <= 1920
                && $0.y < 100
        }
    }

    func focus() throws -> UInt? {
        UInt(try run("xdotool", ["getwindowfocus"]).output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: - Windows by name (the agent names its lock window and its overlay)

    struct WindowInfo: Equatable {
        var id: String
        var viewable: Bool
        var x: Int, y: Int, width: Int, height: Int
    }

    /// The window named `name` (xwininfo -name), or nil if there is none.
    func window(named name: String) throws -> WindowInfo? {
        let (out, status) = try run("xwininfo", ["-name", name])
        guard status == 0 else { return nil }
        func value(_ key: String) -> Int? {
            out.split(separator: "\n").first(where: { $0.contains(key) })
                .flatMap { Int($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) }
        }
        guard let idLine = out.split(separator: "\n").first(where: { $0.contains("Window id:") }),
            let id = idLine.split(separator: " ").first(where: { $0.hasPrefix("0x") }),
            let x = value("Absolute upper-left X"), let y = value("Absolute upper-left Y"), let w = value("Width"), let h = value("Height")
        else { return nil }
        return WindowInfo(id: String(id), viewable: out.contains("Map State: IsViewable"), x: x, y: y, width: w, height: h)
    }

    /// Waits until `predicate` holds for the window named `name` (nil: no such window).
    @discardableResult
    func waitForWindow(
        _ name: String, timeout: Duration = .seconds(10), _ what: String, _ predicate: (WindowInfo?) -> Bool
    ) async throws -> WindowInfo? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let info = try window(named: name)
            if predicate(info) { return info }
            guard ContinuousClock.now < deadline else {
                throw XTestError("timed out waiting for \(what); window \(name): \(String(describing: info))")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    // MARK: - Pictures

    /// `import -window root` into `file`.
    func screenshot(_ file: URL) throws {
        let result = try run("import", ["-window", "root", file.path])
        guard result.status == 0 else { throw XTestError("import failed: \(result.output)") }
    }

    /// How many distinct colours the `crop` (`WxH+X+Y`) of `file` has.
    func colours(_ file: URL, crop: String? = nil) throws -> Int {
        var arguments = [file.path]
        if let crop { arguments += ["-crop", crop, "+repage"] }
        arguments += ["-format", "%k", "info:"]
        let result = try run("convert", arguments)
        guard let count = Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw XTestError("convert could not count colours: \(result.output)")
        }
        return count
    }

    /// How many pixels differ between two crops of `file` (ImageMagick `compare -metric AE`).
    func differingPixels(_ file: URL, _ cropA: String, _ cropB: String) throws -> Int {
        let a = directory.appendingPathComponent("a.png"), b = directory.appendingPathComponent("b.png")
        try run("convert", [file.path, "-crop", cropA, "+repage", a.path])
        try run("convert", [file.path, "-crop", cropB, "+repage", b.path])
        let result = try run("compare", ["-metric", "AE", a.path, b.path, "null:"])
        let number = result.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").first ?? ""
        guard let count = Double(number) else { throw XTestError("compare failed: \(result.output)") }
        return Int(count)
    }
}

/// Polls `condition` every 100 ms for up to `timeout`; true as soon as it holds.
func eventually(_ timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(100))
    }
}
