import Foundation

struct ChildProcessError: Error, CustomStringConvertible {
    let description: String
}

/// A launched executable whose stdout and stderr go to `logFile` (appended, so restarts keep history).
/// `kill()` sends SIGKILL: children of a Swift test inherit blocked signals and may ignore SIGTERM.
final class ChildProcess {
    let logFile: URL
    private let process = Process()
    /// The temporary directory created for the log, removed on deinit.
    private let ownedDirectory: URL?
    /// The child's stdin, when the caller asked to write to it (`send`); otherwise /dev/null.
    private let input: Pipe?

    /// Launches `executable`, logging to `<directory>/<logName or executable name>.log`
    /// (by default in a fresh temporary directory). With `writableInput` the child reads what
    /// `send` writes; `finishInput` closes it.
    init(
        _ executable: String, arguments: [String] = [], environment: [String: String]? = nil,
        directory: URL? = nil, logName: String? = nil, writableInput: Bool = false
    ) throws {
        let name = logName ?? URL(fileURLWithPath: executable).lastPathComponent
        ownedDirectory = directory == nil ? try makeTemporaryDirectory(prefix: name) : nil
        logFile = (directory ?? ownedDirectory!).appendingPathComponent("\(name).log")
        input = writableInput ? Pipe() : nil
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logFile)
        defer { try? log.close() }
        log.seekToEndOfFile()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = input ?? FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
        } catch {
            throw ChildProcessError(description: "cannot launch \(executable): \(error)")
        }
    }

    deinit {
        kill()
        if let ownedDirectory { try? FileManager.default.removeItem(at: ownedDirectory) }
    }

    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }
    /// Everything the process wrote to stdout and stderr so far.
    var output: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Writes to the child's stdin (`writableInput`). Throws if the child is gone: SIGPIPE is
    /// ignored, so a dead child fails the test instead of killing it.
    func send(_ text: String) throws {
        guard let input else { throw ChildProcessError(description: "\(logFile.lastPathComponent): stdin is not writable") }
        signal(SIGPIPE, SIG_IGN)
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    /// Closes the child's stdin and waits for it to exit; its status, or nil (after SIGKILL) on timeout.
    func finishInput(timeout: Duration) async -> Int32? {
        try? input?.fileHandleForWriting.close()
        return await waitForExit(timeout: timeout)
    }

    /// SIGKILL and reap. Safe to call repeatedly.
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Waits for the process to exit by itself; returns its exit status, or nil (after SIGKILL) on timeout.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill()
                return nil
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }
}

func makeTemporaryDirectory(prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The path of an executable product of this package (e.g. "playclockd").
/// Honours `PLAYCLOCK_BIN_DIR`; otherwise looks next to the running test binary and in its ancestors
/// (on Linux the test binary lives in `.build/<triple>/debug/` together with the products).
func binaryPath(_ name: String) -> String {
    if let directory = ProcessInfo.processInfo.environment["PLAYCLOCK_BIN_DIR"] {
        return URL(fileURLWithPath: directory).appendingPathComponent(name).path
    }
    let start = URL(fileURLWithPath: CommandLine.arguments.first ?? Bundle.main.bundlePath)
        .resolvingSymlinksInPath().deletingLastPathComponent()
    var directory = start
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent(name).path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
           FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        directory.deleteLastPathComponent()
    }
    return start.appendingPathComponent(name).path
}
