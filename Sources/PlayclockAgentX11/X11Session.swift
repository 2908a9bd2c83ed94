#if canImport(Glibc)
import Glibc
#endif
import CX11
import Logging
import PlayclockAgent
import PlayclockContract
import Synchronization

/// X protocol errors seen (a BadWindow after someone destroyed a window, ...): counted by the
/// process-wide handler and logged by the session once per second at most, never fatal.
let x11ProtocolErrors = Atomic<Int>(0)

private func countProtocolError(_ dpy: OpaquePointer?, _ event: UnsafeMutablePointer<XErrorEvent>?) -> Int32 {
    x11ProtocolErrors.add(1, ordering: .relaxed)
    return 0
}

/// Xlib's default I/O error handler prints and exits the process; the session instead notices the
/// lost connection (the exit handler below returns) and stops its thread.
private func ignoreIOError(_ dpy: OpaquePointer?) -> Int32 { 0 }

/// Everything that touches Xlib, owned by the drawing thread from `XOpenDisplay` to `XCloseDisplay`.
final class X11Session {
    private enum Mode { case none, locked, unlocked }

    private let dpy: OpaquePointer
    private let screenNumber: Int32
    private let root: Window
    private let visual: UnsafeMutablePointer<Visual>
    private let colormap: Colormap
    private let depth: Int32
    private let mailbox: Mailbox
    private let onTamper: @Sendable (TamperReason) -> Void
    private let onInput: @Sendable (AgentInput) -> Void
    private var logger: Logger
    /// Set by Xlib's I/O error exit handler (heap, so the C callback can reach it).
    private let connectionBroken: UnsafeMutablePointer<Bool>

    private let randrEventBase: Int32?
    private let hasMonitors: Bool
    private var rootSize: (width: Int32, height: Int32)
    private var monitors: [Rect] = []
    private var primary = Rect(x: 0, y: 0, width: 1, height: 1)

    private let lockWindow: Window
    private let overlayWindow: Window
    /// The sign-out button during a member's session: unlike the overlay it takes clicks.
    private let signOutWindow: Window
    private let blankCursor: Cursor
    private let ink: Ink
    private let lockCanvas: Canvas
    private let overlayCanvas: Canvas
    private let signOutCanvas: Canvas

    private var mode: Mode = .none
    private var screen: AgentScreen?
    /// What the lock canvas / the overlay canvas hold now (nil: must be painted).
    private var paintedLock: (LockScreen, String, [Rect], Int)?
    private var paintedOverlay: (Overlay, Rect)?
    private var paintedSignOut: (SignOutButton, Rect)?
    /// Where the pointer was last seen (root coordinates): its monitor gets the sign-in form.
    private var pointer: (x: Int32, y: Int32)?
    /// Our own XUnmapWindow requests (window and request serial): their UnmapNotify is not tampering.
    private struct OwnUnmap: Hashable {
        var window: Window
        var serial: UInt
    }
    private var ownUnmaps: Set<OwnUnmap> = []
    private var overlayGeometry: Rect?

    private var keyboardGrabbed = false
    private var pointerGrabbed = false
    private var everGrabbed = false
    private var lockedAt = ContinuousClock.now
    private var reportedNoGrab = false
    private var limiter = TamperLimiter()
    private var raisesThisSecond = 0
    private var lastTickSecond = time(nil)
    private var protocolErrorsLogged = 0

    // MARK: - Thread entry

    static func run(
        displayName: String?, shownName: String, mailbox: Mailbox, startup: Startup,
        onTamper: @escaping @Sendable (TamperReason) -> Void, onInput: @escaping @Sendable (AgentInput) -> Void, logger: Logger
    ) {
        var logger = logger
        logger[metadataKey: "x11.display"] = "\(shownName)"
        _ = XSetErrorHandler(countProtocolError)
        _ = XSetIOErrorHandler(ignoreIOError)
        guard let dpy = XOpenDisplay(displayName) else {
            startup.finish(.failure(.cannotOpenDisplay(name: shownName)))
            return
        }
        let session = X11Session(dpy: dpy, mailbox: mailbox, onTamper: onTamper, onInput: onInput, logger: logger)
        startup.finish(.success(()))
        logger.info("x11 display opened", metadata: [
            "x11.monitors": "\(session.monitors.count)", "x11.randr_monitors": "\(session.hasMonitors)",
        ])
        session.loop()
    }

    private init(dpy: OpaquePointer, mailbox: Mailbox, onTamper: @escaping @Sendable (TamperReason) -> Void,
                 onInput: @escaping @Sendable (AgentInput) -> Void, logger: Logger) {
        self.dpy = dpy
        self.mailbox = mailbox
        self.onTamper = onTamper
        self.onInput = onInput
        self.logger = logger
        connectionBroken = .allocate(capacity: 1)
        connectionBroken.initialize(to: false)
        XSetIOErrorExitHandler(dpy, { _, flag in
            flag?.assumingMemoryBound(to: Bool.self).pointee = true
        }, UnsafeMutableRawPointer(connectionBroken))

        screenNumber = XDefaultScreen(dpy)
        root = XRootWindow(dpy, screenNumber)
        visual = XDefaultVisual(dpy, screenNumber)
        colormap = XDefaultColormap(dpy, screenNumber)
        depth = XDefaultDepth(dpy, screenNumber)
        rootSize = (XDisplayWidth(dpy, screenNumber), XDisplayHeight(dpy, screenNumber))

        var eventBase: Int32 = 0, errorBase: Int32 = 0, major: Int32 = 0, minor: Int32 = 0
        if XRRQueryExtension(dpy, &eventBase, &errorBase) != 0, XRRQueryVersion(dpy, &major, &minor) != 0 {
            randrEventBase = eventBase
            hasMonitors = major > 1 || (major == 1 && minor >= 5)
            XRRSelectInput(dpy, root, Int32(RRScreenChangeNotifyMask))
        } else {
            randrEventBase = nil
            hasMonitors = false
        }
        XSelectInput(dpy, root, SubstructureNotifyMask | StructureNotifyMask)

        ink = Ink(dpy: dpy, screen: screenNumber, visual: visual, colormap: colormap)
        let background = ink.color(Palette.background).pixel

        var noPixel: [CChar] = [0]
        let empty = XCreateBitmapFromData(dpy, root, &noPixel, 1, 1)
        var foreground = XColor(), background2 = XColor()
        blankCursor = XCreatePixmapCursor(dpy, empty, empty, &foreground, &background2, 0, 0)
        XFreePixmap(dpy, empty)

        var attributes = XSetWindowAttributes()
        attributes.override_redirect = True
        attributes.background_pixel = background
        attributes.cursor = blankCursor
        attributes.event_mask = ExposureMask | VisibilityChangeMask | StructureNotifyMask | KeyPressMask
            | KeyReleaseMask | ButtonPressMask | ButtonReleaseMask
        lockWindow = XCreateWindow(
            dpy, root, 0, 0, UInt32(rootSize.width), UInt32(rootSize.height), 0, depth, UInt32(InputOutput),
            visual, UInt(CWOverrideRedirect | CWBackPixel | CWCursor | CWEventMask), &attributes)
        attributes.event_mask = ExposureMask | VisibilityChangeMask | StructureNotifyMask
        overlayWindow = XCreateWindow(
            dpy, root, 0, 0, 300, 90, 0, depth, UInt32(InputOutput), visual,
            UInt(CWOverrideRedirect | CWBackPixel | CWEventMask), &attributes)
        attributes.event_mask = ExposureMask | StructureNotifyMask | ButtonPressMask
        signOutWindow = XCreateWindow(
            dpy, root, 0, 0, 300, 44, 0, depth, UInt32(InputOutput), visual,
            UInt(CWOverrideRedirect | CWBackPixel | CWEventMask), &attributes)

        lockCanvas = Canvas(dpy: dpy, ink: ink, window: lockWindow, visual: visual, colormap: colormap, depth: depth)
        overlayCanvas = Canvas(
            dpy: dpy, ink: ink, window: overlayWindow, visual: visual, colormap: colormap, depth: depth)
        signOutCanvas = Canvas(
            dpy: dpy, ink: ink, window: signOutWindow, visual: visual, colormap: colormap, depth: depth)

        name(lockWindow, "Playclock lock screen", input: true)
        name(overlayWindow, "Playclock overlay", input: false)
        // Clicked, never focused: the game keeps the keyboard (override-redirect, no input hint).
        name(signOutWindow, "Playclock sign out", input: false)
        // Clicks on the overlay go to whatever is under it: an empty input shape.
        var shapeEvent: Int32 = 0, shapeError: Int32 = 0
        if XShapeQueryExtension(dpy, &shapeEvent, &shapeError) != 0 {
            XShapeCombineRectangles(dpy, overlayWindow, ShapeInput, 0, 0, nil, 0, ShapeSet, Unsorted)
        } else {
            logger.warning("x11 shape extension missing: the overlay may catch clicks")
        }
        readMonitors()
        XFlush(dpy)
    }

    private func name(_ window: Window, _ title: String, input: Bool) {
        XStoreName(dpy, window, title)
        if let hints = XAllocClassHint() {
            let resName = strdup("playclock-agent"), resClass = strdup("Playclock")
            hints.pointee.res_name = resName
            hints.pointee.res_class = resClass
            XSetClassHint(dpy, window, hints)
            free(resName)
            free(resClass)
            XFree(hints)
        }
        if let hints = XAllocWMHints() {
            hints.pointee.flags = InputHint
            hints.pointee.input = input ? True : False
            XSetWMHints(dpy, window, hints)
            XFree(hints)
        }
    }

    // MARK: - Loop

    private func loop() {
        let xfd = XConnectionNumber(dpy)
        var closing = false
        while true {
            let (latest, close) = mailbox.take()
            if close { closing = true; break }
            if let latest, latest != screen { apply(latest) }

            drainEvents()
            if connectionLost() { break }

            let now = time(nil)
            if now != lastTickSecond {
                lastTickSecond = now
                tick()
            }
            if mode == .locked, !(keyboardGrabbed && pointerGrabbed) { retryInitialGrab() }
            repaintIfNeeded()
            XFlush(dpy)
            if connectionLost() { break }

            var fds = [pollfd(fd: xfd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: mailbox.wakeRead, events: Int16(POLLIN), revents: 0)]
            guard XPending(dpy) == 0 else { continue }
            let rc = poll(&fds, 2, timeoutMilliseconds())
            if rc < 0, errno != EINTR {
                logger.error("x11 poll failed", metadata: ["x11.errno": "\(errno)"])
                break
            }
            if fds[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                _ = XPending(dpy)
                connectionBroken.pointee = true
                _ = connectionLost()
                break
            }
        }
        if closing { shutDown() }
    }

    /// Until the next wall-clock second (the lock clock's minute and the once-a-second checks),
    /// or 50 ms while the first grab of a lock is still being retried.
    private func timeoutMilliseconds() -> Int32 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let untilSecond = Int32(1000 - now.tv_nsec / 1_000_000) + 2
        if mode == .locked, !(keyboardGrabbed && pointerGrabbed),
           ContinuousClock.now - lockedAt < .seconds(1) {
            return min(untilSecond, 50)
        }
        return untilSecond
    }

    private var lostLogged = false

    private func connectionLost() -> Bool {
        guard connectionBroken.pointee else { return false }
        if !lostLogged {
            lostLogged = true
            logger.error("x11 connection lost: the display stops drawing")
            mailbox.markConnectionLost()
        }
        return true
    }

    private func drainEvents() {
        var event = XEvent()
        while !connectionBroken.pointee, XPending(dpy) > 0 {
            XNextEvent(dpy, &event)
            handle(&event)
        }
    }

    // MARK: - Screens

    private func apply(_ next: AgentScreen) {
        screen = next
        switch next {
        case .locked:
            guard mode != .locked else { return }
            // Paint first, map the lock window, grab, and only then take the overlay away: the
            // desktop never shows in between.
            repaintIfNeeded()
            XMoveResizeWindow(dpy, lockWindow, 0, 0, UInt32(rootSize.width), UInt32(rootSize.height))
            XMapRaised(dpy, lockWindow)
            mode = .locked
            lockedAt = .now
            everGrabbed = false
            reportedNoGrab = false
            grab()
            unmap(overlayWindow)
            unmap(signOutWindow)
            // Painted afresh at the next unlock (the button's window is unmapped now).
            paintedSignOut = nil
            paintedOverlay = nil
            pointer = queryPointer()
            logger.info("x11 locked")
        case .unlocked:
            guard mode != .unlocked else { return }
            mode = .unlocked
            XUngrabKeyboard(dpy, UInt(CurrentTime))
            XUngrabPointer(dpy, UInt(CurrentTime))
            keyboardGrabbed = false
            pointerGrabbed = false
            repaintIfNeeded()
            XMapRaised(dpy, overlayWindow)
            unmap(lockWindow)
            logger.info("x11 unlocked")
        }
    }

    private func unmap(_ window: Window) {
        var attributes = XWindowAttributes()
        guard XGetWindowAttributes(dpy, window, &attributes) != 0, attributes.map_state != IsUnmapped else { return }
        if ownUnmaps.count > 32 { ownUnmaps.removeAll() }
        ownUnmaps.insert(OwnUnmap(window: window, serial: XNextRequest(dpy)))
        XUnmapWindow(dpy, window)
    }

    private var wantedWindow: Window? {
        switch mode {
        case .locked: return lockWindow
        case .unlocked: return overlayWindow
        case .none: return nil
        }
    }

    // MARK: - Grabs

    /// Grabs the keyboard and the pointer for the lock window; true when both are held.
    @discardableResult
    private func grab() -> Bool {
        let keyboard = XGrabKeyboard(dpy, lockWindow, False, GrabModeAsync, GrabModeAsync, UInt(CurrentTime))
        let pointer = XGrabPointer(
            dpy, lockWindow, False, UInt32(ButtonPressMask | ButtonReleaseMask | PointerMotionMask),
            GrabModeAsync, GrabModeAsync, UInt(None), blankCursor, UInt(CurrentTime))
        let hadBoth = keyboardGrabbed && pointerGrabbed
        keyboardGrabbed = keyboard == GrabSuccess
        pointerGrabbed = pointer == GrabSuccess
        let both = keyboardGrabbed && pointerGrabbed
        if both {
            everGrabbed = true
        } else if hadBoth || everGrabbed {
            logger.warning("x11 grab lost", metadata: ["x11.keyboard": "\(keyboard)", "x11.pointer": "\(pointer)"])
            tamper(.grabLost)
        }
        return both
    }

    /// At the start of a lock another client may hold a grab for a moment (a menu, a key
    /// repeat): retry for about a second, as slock and i3lock do, then report.
    private func retryInitialGrab() {
        if grab() { return }
        if !everGrabbed, !reportedNoGrab, ContinuousClock.now - lockedAt >= .seconds(1) {
            reportedNoGrab = true
            logger.error("x11 cannot grab keyboard and pointer", metadata: [
                "x11.keyboard": "\(keyboardGrabbed)", "x11.pointer": "\(pointerGrabbed)",
            ])
            tamper(.grabLost)
        }
    }

    private func tamper(_ reason: TamperReason) {
        guard limiter.allow(reason, now: .now) else { return }
        logger.warning("x11 tamper", metadata: ["tamper.reason": "\(reason.rawValue)"])
        onTamper(reason)
    }

    // MARK: - Once a second

    private func tick() {
        raisesThisSecond = 0
        let errors = x11ProtocolErrors.load(ordering: .relaxed)
        if errors != protocolErrorsLogged {
            logger.notice("x11 protocol errors", metadata: ["x11.errors_total": "\(errors)"])
            protocolErrorsLogged = errors
        }
        readMonitors()
        guard let window = wantedWindow else { return }
        var attributes = XWindowAttributes()
        if XGetWindowAttributes(dpy, window, &attributes) != 0, attributes.map_state != IsViewable {
            remap(window)
        }
        if !isTopmost(window) { raise(window) }
        if mode == .locked, keyboardGrabbed && pointerGrabbed { grab() }
        if mode == .locked, let now = queryPointer(), pointer.map({ $0 != now }) ?? true { pointer = now }
        if mode == .unlocked, paintedSignOut != nil {
            // Not a tamper: the button is a convenience, the lease does not depend on it.
            if XGetWindowAttributes(dpy, signOutWindow, &attributes) != 0, attributes.map_state != IsViewable {
                XMapRaised(dpy, signOutWindow)
            } else if !isTopmost(signOutWindow, above: overlayWindow) {
                raise(signOutWindow)
            }
        }
    }

    private func queryPointer() -> (x: Int32, y: Int32)? {
        var rootReturn: Window = 0, child: Window = 0
        var rootX: Int32 = 0, rootY: Int32 = 0, winX: Int32 = 0, winY: Int32 = 0
        var mask: UInt32 = 0
        guard XQueryPointer(dpy, root, &rootReturn, &child, &rootX, &rootY, &winX, &winY, &mask) != 0 else { return nil }
        return (rootX, rootY)
    }

    /// The monitor that gets the sign-in form: the one with the pointer, else the primary.
    private var formMonitor: Int {
        if let p = pointer, let i = monitors.firstIndex(where: { p.x >= $0.x && p.x < $0.x + $0.width && p.y >= $0.y && p.y < $0.y + $0.height }) {
            return i
        }
        return monitors.firstIndex(of: primary) ?? 0
    }

    private func remap(_ window: Window) {
        logger.warning("x11 window unmapped by someone else; remapped")
        XMapRaised(dpy, window)
        tamper(.windowUnmapped)
        if window == lockWindow {
            // Unmapping released the grabs: take them again (now; retried if still refused).
            grab()
        }
    }

    private func raise(_ window: Window) {
        // Bounded, so two clients that each want to be on top do not spin the CPU.
        guard raisesThisSecond < 20 else { return }
        raisesThisSecond += 1
        XRaiseWindow(dpy, window)
    }

    private func isTopmost(_ window: Window, above ignored: Window? = nil) -> Bool {
        var rootReturn: Window = 0, parent: Window = 0
        var children: UnsafeMutablePointer<Window>?
        var count: UInt32 = 0
        guard XQueryTree(dpy, root, &rootReturn, &parent, &children, &count) != 0, let children else { return true }
        defer { XFree(children) }
        // Children come bottom to top; unmapped windows above us do not cover anything.
        var index = Int(count) - 1
        while index >= 0 {
            let child = children[index]
            if child == window { return true }
            if child == ignored || child == signOutWindow { index -= 1; continue }
            var attributes = XWindowAttributes()
            if XGetWindowAttributes(dpy, child, &attributes) != 0, attributes.map_state == IsViewable { return false }
            index -= 1
        }
        return true
    }

    // MARK: - Events

    private func handle(_ event: inout XEvent) {
        switch event.type {
        case Expose:
            let e = event.xexpose
            let area = Rect(x: e.x, y: e.y, width: e.width, height: e.height)
            if e.window == lockWindow { lockCanvas.present(area) }
            if e.window == overlayWindow { overlayCanvas.present(area) }
            if e.window == signOutWindow { signOutCanvas.present(area) }
        case KeyPress:
            guard mode == .locked, event.xkey.window == lockWindow else { return }
            var buffer = [CChar](repeating: 0, count: 8)
            var keysym: KeySym = 0
            let count = XLookupString(&event.xkey, &buffer, Int32(buffer.count), &keysym, nil)
            let key = Self.agentKey(keysym: keysym, text: Array(buffer.prefix(Int(max(0, count)))))
            for i in buffer.indices { buffer[i] = 0 }
            if let key { onInput(.key(key)) }
        case ButtonPress:
            if event.xbutton.window == signOutWindow, event.xbutton.button == UInt32(Button1), mode == .unlocked {
                onInput(.signOut)
            }
        case MotionNotify:
            if mode == .locked { pointer = (event.xmotion.x_root, event.xmotion.y_root) }
        case UnmapNotify:
            let e = event.xunmap
            guard e.event == e.window, e.window == lockWindow || e.window == overlayWindow else { return }
            if ownUnmaps.remove(OwnUnmap(window: e.window, serial: e.serial)) != nil { return }
            if event.xany.send_event != 0 { return }
            if e.window == wantedWindow { remap(e.window) }
        case VisibilityNotify:
            let e = event.xvisibility
            if e.window == wantedWindow, e.state != VisibilityUnobscured { raise(e.window) }
        case MapNotify:
            let e = event.xmap
            if e.event == root, e.window != lockWindow, e.window != overlayWindow, e.window != signOutWindow,
               let window = wantedWindow {
                raise(window)
            }
        case ConfigureNotify:
            let e = event.xconfigure
            if e.window == root {
                rootSize = (e.width, e.height)
                if mode == .locked {
                    XMoveResizeWindow(dpy, lockWindow, 0, 0, UInt32(rootSize.width), UInt32(rootSize.height))
                }
                readMonitors()
            } else if e.event == root, e.window != lockWindow, e.window != overlayWindow, e.window != signOutWindow,
                      let window = wantedWindow {
                // Something was restacked or configured: make sure it did not go over us.
                if !isTopmost(window) { raise(window) }
            }
        default:
            if let base = randrEventBase, event.type == base + RRScreenChangeNotify {
                XRRUpdateConfiguration(&event)
                rootSize = (XDisplayWidth(dpy, screenNumber), XDisplayHeight(dpy, screenNumber))
                readMonitors()
            }
        }
    }

    /// The monitors to draw on (XRandR 1.5), or the whole root when there are none.
    private func readMonitors() {
        var found: [Rect] = []
        var primaryRect: Rect?
        if hasMonitors {
            var count: Int32 = 0
            if let list = XRRGetMonitors(dpy, root, True, &count) {
                for i in 0..<Int(count) {
                    let m = list[i]
                    guard m.width > 0, m.height > 0 else { continue }
                    let rect = Rect(x: m.x, y: m.y, width: m.width, height: m.height)
                    found.append(rect)
                    if m.primary != 0, primaryRect == nil { primaryRect = rect }
                }
                XRRFreeMonitors(list)
            }
        }
        if found.isEmpty { found = [Rect(x: 0, y: 0, width: rootSize.width, height: rootSize.height)] }
        if found != monitors {
            monitors = found
            primary = primaryRect ?? found[0]
            ink.releaseFonts()
            paintedLock = nil
            paintedOverlay = nil
        }
    }

    // MARK: - Painting

    private func repaintIfNeeded() {
        switch screen {
        case .locked(let lock):
            let clock = Self.localClock()
            let formOn = lock.signIn == nil ? -1 : formMonitor
            if let painted = paintedLock, painted.0 == lock, painted.1 == clock, painted.2 == monitors, painted.3 == formOn,
               lockCanvas.width == rootSize.width, lockCanvas.height == rootSize.height {
                return
            }
            lockCanvas.resize(width: rootSize.width, height: rootSize.height)
            LockLayout.paint(lock, clock: clock, monitors: monitors, formOn: formOn, canvas: lockCanvas, ink: ink)
            paintedLock = (lock, clock, monitors, formOn)
            lockCanvas.present()
        case .unlocked(let overlay):
            if let painted = paintedOverlay, painted.0 == overlay, painted.1 == primary { return }
            let size = OverlayLayout.size(overlay, monitorHeight: primary.height, ink: ink)
            let margin = Int32((Double(primary.height) / 1080 * 20).rounded())
            let geometry = Rect(
                x: primary.x + primary.width - size.width - margin, y: primary.y + margin,
                width: size.width, height: size.height)
            if geometry != overlayGeometry {
                overlayGeometry = geometry
                XMoveResizeWindow(
                    dpy, overlayWindow, geometry.x, geometry.y, UInt32(geometry.width), UInt32(geometry.height))
            }
            overlayCanvas.resize(width: size.width, height: size.height)
            OverlayLayout.paint(overlay, monitorHeight: primary.height, canvas: overlayCanvas, ink: ink)
            paintedOverlay = (overlay, primary)
            overlayCanvas.present()
            paintSignOut(overlay.member?.signOut, below: geometry)
        case nil:
            return
        }
    }

    /// The sign-out button under the overlay, or no button.
    private func paintSignOut(_ button: SignOutButton?, below overlay: Rect) {
        guard let button else {
            paintedSignOut = nil
            unmap(signOutWindow)
            return
        }
        let size = SignOutLayout.size(monitorHeight: primary.height, overlayWidth: overlay.width)
        let geometry = Rect(x: overlay.x, y: overlay.y + overlay.height + size.gap, width: size.width, height: size.height)
        if let painted = paintedSignOut, painted.0 == button, painted.1 == geometry { return }
        if paintedSignOut?.1 != geometry {
            XMoveResizeWindow(dpy, signOutWindow, geometry.x, geometry.y, UInt32(geometry.width), UInt32(geometry.height))
        }
        signOutCanvas.resize(width: geometry.width, height: geometry.height)
        SignOutLayout.paint(button, monitorHeight: primary.height, canvas: signOutCanvas, ink: ink)
        if paintedSignOut == nil { XMapRaised(dpy, signOutWindow) }
        paintedSignOut = (button, geometry)
        signOutCanvas.present()
    }

    /// What a key on the lock screen means to the form: the editing keys, or one printable ASCII
    /// character (anything else, and keys with modifiers that make no ASCII, is nothing).
    static func agentKey(keysym: KeySym, text: [CChar]) -> AgentKey? {
        switch Int32(truncatingIfNeeded: keysym) {
        case XK_BackSpace: return .backspace
        case XK_Tab, XK_ISO_Left_Tab, XK_KP_Tab: return .tab
        case XK_Return, XK_KP_Enter: return .enter
        case XK_Escape: return .escape
        default:
            guard text.count == 1, let byte = UInt8(exactly: text[0]), byte >= 0x20, byte <= 0x7e else { return nil }
            return .character(Character(Unicode.Scalar(byte)))
        }
    }

    /// HH:MM in the PC's local time zone.
    static func localClock() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(parts.tm_hour)):\(two(parts.tm_min))"
    }

    // MARK: - Close

    private func shutDown() {
        XUngrabKeyboard(dpy, UInt(CurrentTime))
        XUngrabPointer(dpy, UInt(CurrentTime))
        lockCanvas.release()
        overlayCanvas.release()
        signOutCanvas.release()
        ink.release()
        XDestroyWindow(dpy, lockWindow)
        XDestroyWindow(dpy, overlayWindow)
        XDestroyWindow(dpy, signOutWindow)
        XFreeCursor(dpy, blankCursor)
        XCloseDisplay(dpy)
        connectionBroken.deallocate()
        logger.info("x11 display closed")
    }
}
