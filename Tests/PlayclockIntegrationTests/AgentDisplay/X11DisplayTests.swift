import Foundation
import Logging
import PlayclockAgent
@testable import PlayclockAgentX11
import PlayclockContract
import Synchronization
import Testing

/// What the display reported through `onTamper`.
final class TamperLog: Sendable {
    private let reasons = Mutex<[TamperReason]>([])
    func record(_ reason: TamperReason) { reasons.withLock { $0.append(reason) } }
    var all: [TamperReason] { reasons.withLock { $0 } }
}

let sampleLock = LockScreen(
    venueName: "Pixel Arena", stationName: "Station 7 · PC-07", reason: .expired,
    headline: "Time is up - please see the front desk", detail: "Your session on this PC has ended. Thanks for playing!",
    staffMessage: "Your pizza is ready at the bar", hubReachable: false)

let sampleOverlay = Overlay(
    stationName: "Station 7 · PC-07", remainingSeconds: 598, tone: .orange, notice: "10 minutes left",
    staffMessage: nil, hubReachable: true, offlineText: "Hub offline - your time keeps running")

/// Where screenshots go with `PLAYCLOCK_SCREENSHOT_DIR=docs` (as for the browser tests).
func screenshotTarget(_ name: String) -> URL? {
    guard let dir = ProcessInfo.processInfo.environment["PLAYCLOCK_SCREENSHOT_DIR"], !dir.isEmpty else { return nil }
    return URL(fileURLWithPath: dir).appendingPathComponent(name)
}

func makeDisplay(_ server: XServer, tamper: TamperLog = TamperLog()) throws -> X11Display {
    var logger = Logger(label: "x11-test")
    logger.logLevel = .debug
    return try X11Display(displayName: server.display, onTamper: { tamper.record($0) }, logger: logger)
}

/// A display on `server` showing `sampleLock`, once its window covers the whole root.
func lockedDisplay(_ server: XServer, tamper: TamperLog = TamperLog()) async throws -> X11Display {
    let display = try makeDisplay(server, tamper: tamper)
    display.show(.locked(sampleLock))
    guard try await eventually(.seconds(10), { try server.fullscreenWindow() != nil }) else {
        display.close()
        throw XTestError("the lock window never covered the screen")
    }
    return display
}

@Suite(.serialized, .enabled(if: xvfbInstalled, "Xvfb is not installed (apt-get install xvfb): X11 display tests skipped"))
struct X11DisplayTests {
    @Test func lockScreenCoversTheRootAndIsDrawn() async throws {
        let server = try XServer()
        defer { server.kill() }
        let display = try await lockedDisplay(server)
        defer { display.close() }
        let shot = server.directory.appendingPathComponent("locked.png")
        var colours = 0
        // Painting follows the map within the same loop turn; allow it a moment anyway.
        _ = try await eventually {
            try server.screenshot(shot)
            colours = try server.colours(shot)
            return colours > 50
        }
        #expect(colours > 50, "the lock screen looks blank: \(colours) colours")
        // The headline band (centre of the screen) has antialiased text in it.
        #expect(try server.colours(shot, crop: "1400x120+260+480") > 20)
        if let target = screenshotTarget("agent-locked.png") {
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: shot, to: target)
        }
        display.close()
        #expect(try await eventually { try server.fullscreenWindow() == nil })
    }

    @Test func lockedKeyboardGoesNowhere() async throws {
        let server = try XServer()
        defer { server.kill() }
        let typed = server.directory.appendingPathComponent("typed.txt")
        _ = FileManager.default.createFile(atPath: typed.path, contents: nil)
        let xterm = try startXterm(server, writingTo: typed)
        func content() -> String { (try? String(contentsOf: typed, encoding: .utf8)) ?? "" }

        // Sanity: typing reaches the xterm before the lock.
        try server.run("xdotool", ["windowfocus", "--sync", "\(xterm)"])
        try server.run("xdotool", ["type", "--delay", "20", "before\n"])
        #expect(try await eventually { content().contains("before") }, "typing does not reach the xterm at all")

        let display = try await lockedDisplay(server)
        defer { display.close() }
        try await Task.sleep(for: .milliseconds(500))
        // Even with the focus on the xterm, the grab sends the keys to the lock window.
        try server.run("xdotool", ["windowfocus", "\(xterm)"])
        try server.run("xdotool", ["type", "--delay", "20", "secret\n"])
        try await Task.sleep(for: .seconds(1))

        display.show(.unlocked(sampleOverlay))
        #expect(try await eventually { try server.fullscreenWindow() == nil })
        try server.run("xdotool", ["windowfocus", "--sync", "\(xterm)"])
        try server.run("xdotool", ["type", "--delay", "20", "after\n"])
        #expect(try await eventually { content().contains("after") }, "typing after the unlock does not arrive")
        #expect(!content().contains("secret"), "keys typed while locked reached the xterm: \(content())")
        #expect(content() == "before\nafter\n")
    }

    @Test func overlayIsSmallTopRightAndNeverTakesFocus() async throws {
        let server = try XServer()
        defer { server.kill() }
        let typed = server.directory.appendingPathComponent("typed.txt")
        _ = FileManager.default.createFile(atPath: typed.path, contents: nil)
        try server.run("xsetroot", ["-solid", "#1d2733"])
        // The xterm reports mouse clicks (xterm's X10 mouse mode) as `^[[M...` into the file.
        let xterm = try startXterm(server, writingTo: typed, geometry: "110x24+1000+0", mouseReports: true)
        try server.run("xdotool", ["windowfocus", "--sync", "\(xterm)"])
        try server.run("xdotool", ["type", "--delay", "5", "$ ./launch-game --fullscreen\n"])
        try server.run("xdotool", ["mousemove", "0", "1079"])

        let display = try await lockedDisplay(server)
        defer { display.close() }
        let lockID = try #require(try server.fullscreenWindow()).id
        display.show(.unlocked(sampleOverlay))
        #expect(try await eventually { try !server.isViewable(lockID) }, "the lock window is still mapped")
        var overlay: XServer.Window?
        #expect(try await eventually {
            overlay = try server.topRightWindow()
            return overlay != nil && overlay!.id != xterm
        }, "no small window at the top-right")
        let window = try #require(overlay)
        #expect(window.width >= 200 && window.width <= 400, "overlay width \(window.width)")
        #expect(window.height >= 60 && window.height <= 200, "overlay height \(window.height)")
        #expect(try server.fullscreenWindow() == nil)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try server.focus() == xterm, "the overlay took the focus")
        let shot = server.directory.appendingPathComponent("overlay.png")
        try server.screenshot(shot)
        #expect(try server.colours(shot, crop: "\(window.width)x\(window.height)+\(window.x)+\(window.y)") > 20)
        if let target = screenshotTarget("agent-overlay.png") {
            try? FileManager.default.removeItem(at: target)
            try server.run("convert", [shot.path, "-crop", "960x360+960+0", "+repage", target.path])
        }
        // Clicks pass through (empty input shape): a click on the overlay lands in the xterm under it.
        try server.run("xdotool", [
            "mousemove", "\(window.x + window.width / 2)", "\(window.y + window.height / 2)", "click", "1",
        ])
        try server.run("xdotool", ["type", "--delay", "20", "keys\n"])
        func content() -> String { (try? String(contentsOf: typed, encoding: .utf8)) ?? "" }
        #expect(try await eventually { content().contains("keys") }, "typing with the overlay up does not reach the xterm")
        #expect(content().contains("^[[M"), "a click on the overlay did not reach the xterm below: \(content())")
    }

    @Test func lockScreenIsDrawnOnEveryMonitor() async throws {
        let server = try XServer()
        defer { server.kill() }
        // The display is already open when the monitors change: it must notice.
        let display = try makeDisplay(server)
        defer { display.close() }
        try server.run("xrandr", ["--setmonitor", "L", "960/254x1080/286+0+0", "screen"])
        try server.run("xrandr", ["--setmonitor", "R", "960/254x1080/286+960+0", "none"])
        let monitors = try server.run("xrandr", ["--listmonitors"]).output
        try #require(monitors.contains("Monitors: 2"), "xrandr --setmonitor did not make two monitors: \(monitors)")

        display.show(.locked(sampleLock))
        #expect(try await eventually { try server.fullscreenWindow() != nil })
        let shot = server.directory.appendingPathComponent("two.png")
        var left = 0, right = 0, differing = -1
        _ = try await eventually {
            try server.screenshot(shot)
            left = try server.colours(shot, crop: "960x1080+0+0")
            right = try server.colours(shot, crop: "960x1080+960+0")
            differing = try server.differingPixels(shot, "960x1080+0+0", "960x1080+960+0")
            return left > 50 && right > 50 && differing == 0
        }
        #expect(left > 50 && right > 50, "colours: left \(left), right \(right)")
        // The same lock screen on both: the halves are the same picture (both painted in one pass).
        #expect(differing == 0, "the two monitors do not show the same screen (\(differing) pixels differ)")
    }

    @Test func unmappedLockWindowComesBackAndIsReported() async throws {
        let server = try XServer()
        defer { server.kill() }
        let tamper = TamperLog()
        let display = try await lockedDisplay(server, tamper: tamper)
        defer { display.close() }
        let lockID = try #require(try server.fullscreenWindow()).id
        #expect(tamper.all.isEmpty)
        try server.run("xdotool", ["windowunmap", "\(lockID)"])
        #expect(try await eventually { tamper.all.contains(.windowUnmapped) }, "no tamper report")
        #expect(try await eventually { try server.isViewable(lockID) }, "the lock window was not mapped again")
        #expect(tamper.all == [.windowUnmapped])
    }

    @Test func serverGoingAwayStopsTheThreadWithoutExiting() async throws {
        let server = try XServer()
        defer { server.kill() }
        let lost = Mutex(0)
        let display = try X11Display(displayName: server.display, onTamper: { _ in }, onConnectionLost: { lost.withLock { $0 += 1 } },
                                     logger: Logger(label: "x11-test"))
        defer { display.close() }
        display.show(.locked(sampleLock))
        #expect(try await eventually { try server.fullscreenWindow() != nil })
        #expect(display.isConnected)
        server.killServer()
        #expect(try await eventually { !display.isConnected }, "the lost connection was not noticed")
        #expect(try await eventually { lost.withLock { $0 } == 1 }, "onConnectionLost was not called")
        display.show(.unlocked(sampleOverlay))
        display.close()
        display.close()
        #expect(lost.withLock { $0 } == 1, "told once")
    }

    private func startXterm(
        _ server: XServer, writingTo file: URL, geometry: String = "80x24+0+0", mouseReports: Bool = false
    ) throws -> UInt {
        let command = mouseReports ? "printf '\\033[?1000h'; cat -v > '\(file.path)'" : "cat > '\(file.path)'"
        try server.start("xterm", [
            "-geometry", geometry, "-fa", "DejaVu Sans Mono", "-fs", "11", "-bg", "#0b1016", "-fg", "#9fb3c8",
            "-e", "sh", "-c", command,
        ])
        var id: UInt?
        let deadline = Date().addingTimeInterval(10)
        while id == nil, Date() < deadline {
            let out = try server.run("xdotool", ["search", "--onlyvisible", "--class", "XTerm"]).output
            id = out.split(separator: "\n").compactMap { UInt($0) }.first
            if id == nil { usleep(100_000) }
        }
        guard let id else { throw XTestError("xterm did not show a window") }
        return id
    }
}

@Suite struct X11DisplayErrorTests {
    @Test func aDisplayThatDoesNotExistIsAClearError() {
        #expect(throws: X11DisplayError.cannotOpenDisplay(name: ":64999")) {
            try X11Display(displayName: ":64999", onTamper: { _ in }, logger: Logger(label: "x11-test"))
        }
        let text = X11DisplayError.cannotOpenDisplay(name: ":64999").description
        #expect(text.contains(":64999") && text.contains("DISPLAY"))
    }
}

@Suite struct TamperLimiterTests {
    @Test func reportsEachReasonAtMostOncePerInterval() {
        var limiter = TamperLimiter()
        let start = ContinuousClock.now
        let calls: [(TamperReason, Duration)] = [
            (.windowUnmapped, .zero), (.windowUnmapped, .seconds(3)), (.grabLost, .seconds(3)),
            (.windowUnmapped, .milliseconds(9_999)), (.windowUnmapped, .seconds(10)), (.grabLost, .seconds(12)),
            (.grabLost, .seconds(13)),
        ]
        let allowed = calls.map { limiter.allow($0.0, now: start + $0.1) }
        #expect(allowed == [true, false, true, false, true, false, true])
    }
}
