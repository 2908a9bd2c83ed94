#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Logging
import PlayclockAgent
import PlayclockContract
import Synchronization

/// Why the X11 display could not start.
public enum X11DisplayError: Error, Equatable, CustomStringConvertible {
    /// `XOpenDisplay` failed: no server at that name, or it refused the connection.
    case cannotOpenDisplay(name: String)
    /// The drawing thread could not be started (`pthread_create` or `pipe` failed with this errno).
    case cannotStartThread(errno: Int32)

    public var description: String {
        switch self {
        case .cannotOpenDisplay(let name):
            let shown = name.isEmpty ? "(DISPLAY is not set)" : "'\(name)'"
            return "cannot open X display \(shown): is the X server running, and are DISPLAY and XAUTHORITY right?"
        case .cannotStartThread(let code):
            return "cannot start the X11 display thread: \(String(cString: strerror(code)))"
        }
    }
}

/// The agent's screen on X11: a fullscreen override-redirect lock window with keyboard and
/// pointer grabs over every monitor (the sign-in form on the monitor with the pointer), or a small
/// click-through countdown overlay at the top-right of the primary monitor, with a clickable
/// sign-out button under it during a member's session.
///
/// Every Xlib call happens on one thread this object owns. `show` only stores the latest screen
/// in a mailbox and wakes that thread through a pipe; the thread `poll`s on the X connection and
/// the pipe, handles X events, redraws when the screen changed or the clock's minute did, and once
/// a second re-checks that its window is mapped, on top and (when locked) holds the grabs.
public final class X11Display: AgentDisplay {
    private let mailbox: Mailbox
    private let thread: Mutex<pthread_t?>

    /// Opens `displayName` (nil: `$DISPLAY`) and starts the drawing thread. Nothing is shown until
    /// the first `show`. `onTamper` is called on the drawing thread, at most once per 10 s per reason;
    /// `onConnectionLost` once, on the drawing thread, when the X connection dies; `onInput` on the
    /// drawing thread for every key on the lock screen and every press of the sign-out button
    /// (the core decides what they do; the display never logs them).
    public init(
        displayName: String?, onTamper: @escaping @Sendable (TamperReason) -> Void,
        onConnectionLost: @escaping @Sendable () -> Void = {}, onInput: @escaping @Sendable (AgentInput) -> Void = { _ in },
        logger: Logger
    ) throws(X11DisplayError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw .cannotStartThread(errno: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        let mailbox = Mailbox(wakeRead: fds[0], wakeWrite: fds[1], onConnectionLost: onConnectionLost)
        let startup = Startup()
        let shownName = displayName ?? getenv("DISPLAY").map { String(cString: $0) } ?? ""
        let body = ThreadBody {
            X11Session.run(
                displayName: displayName, shownName: shownName, mailbox: mailbox, startup: startup,
                onTamper: onTamper, onInput: onInput, logger: logger)
        }
        var tid = pthread_t()
        let context = Unmanaged.passRetained(body).toOpaque()
        let rc = pthread_create(&tid, nil, { raw in
            let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            mailbox.closeFileDescriptors()
            throw .cannotStartThread(errno: rc)
        }
        startup.ready.wait()
        if case .failure(let error) = startup.result.withLock({ $0 }) ?? .success(()) {
            pthread_join(tid, nil)
            mailbox.closeFileDescriptors()
            throw error
        }
        self.mailbox = mailbox
        self.thread = Mutex(tid)
    }

    deinit { close() }

    public func show(_ screen: AgentScreen) {
        mailbox.post(screen)
    }

    /// False once the X connection died (the server went away): nothing is drawn any more.
    public var isConnected: Bool { !mailbox.connectionLost }

    /// Ungrabs, destroys the windows, closes the display and joins the thread. Idempotent.
    public func close() {
        guard let tid = thread.withLock({ t -> pthread_t? in defer { t = nil }; return t }) else { return }
        mailbox.requestClose()
        if pthread_equal(tid, pthread_self()) == 0 {
            pthread_join(tid, nil)
            mailbox.closeFileDescriptors()
        } else {
            // Called from onTamper on the drawing thread itself: it stops after this callback.
            pthread_detach(tid)
        }
    }
}

/// The closure the drawing thread runs, boxed for `pthread_create`.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// How the drawing thread tells `init` whether the display opened.
final class Startup: Sendable {
    let result = Mutex<Result<Void, X11DisplayError>?>(nil)
    let ready = DispatchSemaphore(value: 0)

    func finish(_ outcome: Result<Void, X11DisplayError>) {
        result.withLock { $0 = outcome }
        ready.signal()
    }
}

/// The one place `show` and the drawing thread meet: the latest screen, a close request, and a
/// self-pipe that wakes the thread's `poll` (one byte per batch of posts, not per post).
final class Mailbox: Sendable {
    struct State {
        var screen: AgentScreen?
        var closeRequested = false
        var connectionLost = false
        /// A byte is in the pipe and the thread has not taken the mailbox since.
        var signalled = false
        var wakeWrite: Int32
        var wakeRead: Int32
    }


    private let state: Mutex<State>
    let wakeRead: Int32
    private let onConnectionLost: @Sendable () -> Void

    init(wakeRead: Int32, wakeWrite: Int32, onConnectionLost: @escaping @Sendable () -> Void = {}) {
        self.wakeRead = wakeRead
        self.onConnectionLost = onConnectionLost
        state = Mutex(State(wakeWrite: wakeWrite, wakeRead: wakeRead))
    }

    func post(_ screen: AgentScreen) {
        state.withLock { s in
            guard !s.closeRequested, s.screen != screen else { return }
            s.screen = screen
            Mailbox.wake(&s)
        }
    }

    func requestClose() {
        state.withLock { s in
            s.closeRequested = true
            Mailbox.wake(&s)
        }
    }

    /// The thread's side: empties the pipe, then reads the latest screen and the close request.
    func take() -> (screen: AgentScreen?, close: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
        return state.withLock { s in
            s.signalled = false
            return (s.screen, s.closeRequested)
        }
    }

    var connectionLost: Bool {
        get { state.withLock { $0.connectionLost } }
    }

    /// Marks the connection lost and tells `onConnectionLost`, the first time only.
    func markConnectionLost() {
        let first = state.withLock { s in
            defer { s.connectionLost = true }
            return !s.connectionLost
        }
        if first { onConnectionLost() }
    }

    func closeFileDescriptors() {
        state.withLock { s in
            if s.wakeWrite >= 0 { Glibc.close(s.wakeWrite) }
            if s.wakeRead >= 0 { Glibc.close(s.wakeRead) }
            s.wakeWrite = -1
            s.wakeRead = -1
            s.closeRequested = true
        }
    }

    private static func wake(_ s: inout State) {
        guard !s.signalled, s.wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        if write(s.wakeWrite, &byte, 1) == 1 { s.signalled = true }
    }
}

/// At most one tamper report per reason per interval (10 s): a hostile client that unmaps the
/// window in a loop gets it remapped every time but reported once per interval.
struct TamperLimiter {
    var interval: Duration = .seconds(10)
    private var last: [TamperReason: ContinuousClock.Instant] = [:]

    init(interval: Duration = .seconds(10)) { self.interval = interval }

    /// True when `reason` may be reported at `now` (and remembers that it was).
    mutating func allow(_ reason: TamperReason, now: ContinuousClock.Instant) -> Bool {
        if let previous = last[reason], now - previous < interval { return false }
        last[reason] = now
        return true
    }
}
