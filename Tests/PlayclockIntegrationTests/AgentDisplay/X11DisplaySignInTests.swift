import Foundation
import Logging
import PlayclockAgent
@testable import PlayclockAgentX11
import PlayclockContract
import Synchronization
import Testing

/// What the display reported through `onInput`.
final class InputLog: Sendable {
    private let inputs = Mutex<[AgentInput]>([])
    func record(_ input: AgentInput) { inputs.withLock { $0.append(input) } }
    var all: [AgentInput] { inputs.withLock { $0 } }
}

func signInLock(note: String? = nil, tone: SignInForm.Tone = .info, member: String = "M-1001", pinLength: Int = 4) -> LockScreen {
    LockScreen(
        venueName: "Pixel Arena", stationName: "PC 07", reason: .idle, headline: "Welcome - please see the front desk to start",
        detail: nil, staffMessage: nil, hubReachable: true,
        signIn: SignInForm(
            title: "Member sign-in", memberLabel: "Member id", pinLabel: "PIN", member: member, pinLength: pinLength, focus: .pin,
            accepting: true, note: note, tone: tone, hint: "Tab: next field - Enter: sign in - Esc: clear"))
}

let memberOverlay = Overlay(
    stationName: "PC 07", remainingSeconds: 3540, tone: .green, notice: nil, staffMessage: nil, hubReachable: true,
    offlineText: "Hub offline - your time keeps running",
    member: MemberBadge(name: "Anna K.", balanceText: "12.50 EUR", signOut: SignOutButton(label: "Sign out", enabled: true)))

@Suite("X11 display: the sign-in form and the sign-out button (Xvfb)", .serialized,
       .enabled(if: xvfbInstalled, "Xvfb is not installed (apt-get install xvfb): X11 display tests skipped"))
struct X11DisplaySignInTests {
    func display(_ server: XServer, inputs: InputLog) throws -> X11Display {
        var logger = Logger(label: "x11-test")
        logger.logLevel = .debug
        return try X11Display(displayName: server.display, onTamper: { _ in }, onInput: { inputs.record($0) }, logger: logger)
    }

    @Test func theFormIsDrawnAndTheGrabbedKeyboardsKeysComeBackAsAgentKeys() async throws {
        let server = try XServer()
        defer { server.kill() }
        let inputs = InputLog()
        let display = try display(server, inputs: inputs)
        defer { display.close() }
        // Without the form first: the band where the form goes is empty.
        var plain = signInLock()
        plain.signIn = nil
        display.show(.locked(plain))
        #expect(try await eventually { try server.fullscreenWindow() != nil })
        let before = server.directory.appendingPathComponent("plain.png")
        _ = try await eventually {
            try server.screenshot(before)
            return try server.colours(before) > 50
        }
        // Under the headline's two lines: the form's note and hint go there.
        let band = "1000x120+460+730"
        #expect(try server.colours(before, crop: band) <= 2, "nothing drawn where the form will be")

        display.show(.locked(signInLock(note: "Signing in...", tone: .progress)))
        let shot = server.directory.appendingPathComponent("form.png")
        var formColours = 0
        _ = try await eventually {
            try server.screenshot(shot)
            formColours = try server.colours(shot, crop: band)
            return formColours > 20
        }
        #expect(formColours > 20, "the form (fields, dots, note) is drawn: \(formColours) colours")
        if let target = screenshotTarget("agent-signin.png") {
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: shot, to: target)
        }

        // Keys typed anywhere go to the grabbed lock window and come back as the core's keys.
        try await Task.sleep(for: .milliseconds(300))
        try server.run("xdotool", ["type", "--delay", "30", "M-1a"])
        try server.run("xdotool", ["key", "--delay", "30", "BackSpace", "Tab", "Return", "Escape", "shift+Tab", "KP_Enter", "F5"])
        let expected: [AgentInput] = [
            .key(.character("M")), .key(.character("-")), .key(.character("1")), .key(.character("a")), .key(.backspace),
            .key(.tab), .key(.enter), .key(.escape), .key(.tab), .key(.enter),
        ]
        #expect(try await eventually { inputs.all.count >= expected.count })
        try await Task.sleep(for: .milliseconds(300))
        #expect(inputs.all == expected, "F5 (no ASCII) is no key for the form: \(inputs.all)")
    }

    @Test func theFormGoesToTheMonitorWithThePointerOnly() async throws {
        let server = try XServer()
        defer { server.kill() }
        let display = try display(server, inputs: InputLog())
        defer { display.close() }
        try server.run("xrandr", ["--setmonitor", "L", "960/254x1080/286+0+0", "screen"])
        try server.run("xrandr", ["--setmonitor", "R", "960/254x1080/286+960+0", "none"])
        let monitors = try server.run("xrandr", ["--listmonitors"]).output
        try #require(monitors.contains("Monitors: 2"), "xrandr --setmonitor did not make two monitors: \(monitors)")
        try server.run("xdotool", ["mousemove", "1500", "500"])

        display.show(.locked(signInLock()))
        #expect(try await eventually { try server.fullscreenWindow() != nil })
        let shot = server.directory.appendingPathComponent("two.png")
        // The form's lower half on each monitor (under the plain layout's three headline lines).
        let left = "900x130+30+760", right = "900x130+990+760"
        var l = 0, r = 0
        _ = try await eventually {
            try server.screenshot(shot)
            l = try server.colours(shot, crop: left)
            r = try server.colours(shot, crop: right)
            return r > 20 && l <= 2
        }
        #expect(r > 20 && l <= 2, "the form on the right (pointer) monitor only: left \(l), right \(r) colours")
        #expect(try server.differingPixels(shot, "960x1080+0+0", "960x1080+960+0") > 1000)

        // The pointer moves to the other monitor (grabbed, it still moves): so does the form.
        try server.run("xdotool", ["mousemove", "400", "500"])
        _ = try await eventually {
            try server.screenshot(shot)
            l = try server.colours(shot, crop: left)
            r = try server.colours(shot, crop: right)
            return l > 20 && r <= 2
        }
        #expect(l > 20 && r <= 2, "the form follows the pointer: left \(l), right \(r) colours")
    }

    @Test func theSignOutButtonIsAClickableWindowUnderTheOverlayThatTakesNoFocus() async throws {
        let server = try XServer()
        defer { server.kill() }
        let inputs = InputLog()
        let display = try display(server, inputs: inputs)
        defer { display.close() }
        display.show(.locked(signInLock()))
        #expect(try await eventually { try server.fullscreenWindow() != nil })
        #expect(try server.window(named: "Playclock sign out")?.viewable != true, "no button while locked")

        display.show(.unlocked(memberOverlay))
        let overlay = try #require(try await server.waitForWindow("Playclock overlay", "the overlay") { $0?.viewable == true })
        let button = try #require(try await server.waitForWindow("Playclock sign out", "the sign-out button") { $0?.viewable == true })
        #expect(button.x == overlay.x && button.width == overlay.width, "as wide as the overlay: \(button) \(overlay)")
        #expect(button.y > overlay.y + overlay.height - 1 && button.y < overlay.y + overlay.height + 30, "just under it")
        #expect(button.height >= 30 && button.height <= 80)
        let shot = server.directory.appendingPathComponent("member.png")
        try server.screenshot(shot)
        #expect(try server.colours(shot, crop: "\(button.width)x\(button.height)+\(button.x)+\(button.y)") > 10, "the label is drawn")
        if let target = screenshotTarget("agent-overlay-member.png") {
            try? FileManager.default.removeItem(at: target)
            try server.run("convert", [shot.path, "-crop", "960x360+960+0", "+repage", target.path])
        }
        let focusBefore = try server.focus()
        try server.run("xdotool", ["mousemove", "\(button.x + button.width / 2)", "\(button.y + button.height / 2)", "click", "1"])
        #expect(try await eventually { inputs.all.contains(.signOut) }, "the click comes back as a sign-out press")
        #expect(try server.focus() == focusBefore, "the button never takes the focus")
        #expect(inputs.all == [.signOut])

        // A desk-paid session: no button.
        var desk = memberOverlay
        desk.member = nil
        display.show(.unlocked(desk))
        try await server.waitForWindow("Playclock sign out", "the button gone") { $0?.viewable != true }
    }

    @Test func keysymsMapToTheFormsKeysOnly() {
        func key(_ keysym: Int32, _ text: String = "") -> AgentKey? {
            X11Session.agentKey(keysym: UInt(keysym), text: text.utf8.map { CChar(bitPattern: $0) })
        }
        #expect(key(0xff08, "\u{8}") == .backspace)
        #expect(key(0xff09, "\t") == .tab)
        #expect(key(0xfe20) == .tab)
        #expect(key(0xff0d, "\r") == .enter)
        #expect(key(0xff8d, "\r") == .enter)
        #expect(key(0xff1b, "\u{1b}") == .escape)
        #expect(key(0x37, "7") == .character("7"))
        #expect(key(0x20, " ") == .character(" "))
        #expect(key(0xe9, "\u{e9}") == nil, "not ASCII")
        #expect(key(0xffc2) == nil, "F5")
        #expect(key(0x61, "\u{1}") == nil, "ctrl+a is a control character")
    }
}
