import Foundation

/// A private Xvfb on a display number it picks itself (`-displayfd`), killed by PID (SIGKILL).
/// The helpers run the real X clients the tests check with: xwininfo, xdotool, ImageMagick.
final class XServer {
    static let executable = "/usr/bin/Xvfb"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    let display: String
    let width: Int, height: Int
    let directory: URL
    private let process: ChildProcess

    init(width: Int = 1920, height: Int = 1080) async throws {
        self.width = width
        self.height = height
        directory = try makeTemporaryDirectory(prefix: "xvfb")
        // -displayfd 1: Xvfb prints the display number it took on stdout (the log) once ready.
        process = try ChildProcess(
            Self.executable,
            arguments: ["-displayfd", "1", "-screen", "0", "\(width)x\(height)x24", "-nolisten", "tcp", "-noreset"],
            directory: directory)
        let deadline = ContinuousClock.now + .seconds(10)
        var number: String?
        while number == nil {
            number = process.output.split(separator: "\n").first(where: { !$0.isEmpty && $0.allSatisfy(\.isNumber) }).map(String.init)
            guard number == nil else { break }
            guard process.isRunning, ContinuousClock.now < deadline else {
                process.kill()
                throw ChildProcessError(description: "Xvfb did not start:\n\(process.output)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        display = ":\(number!)"
    }

    deinit {
        process.kill()
        try? FileManager.default.removeItem(at: directory)
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = display
        return env
    }

    /// Runs an X client against this display; its output and exit status.
    @discardableResult
    func run(_ tool: String, _ arguments: [String], timeout: Duration = .seconds(10)) throws -> (output: String, status: Int32) {
        try runTool("/usr/bin/env", ["DISPLAY=\(display)", tool] + arguments, timeout: timeout)
    }

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
                throw ChildProcessError(description: "timed out waiting for \(what); window \(name): \(String(describing: info))")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// A PNG of the whole screen.
    func screenshot(to url: URL) throws {
        let (out, status) = try run("import", ["-window", "root", url.path])
        guard status == 0 else { throw ChildProcessError(description: "import failed: \(out)") }
    }

    /// How many distinct colours a region of a screenshot has (ImageMagick).
    func colourCount(_ png: URL, crop: String? = nil) throws -> Int {
        var args = [png.path]
        if let crop { args += ["-crop", crop, "+repage"] }
        args += ["-format", "%k", "info:"]
        let (out, _) = try runTool("/usr/bin/convert", args)
        return Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }
}
