import PlayclockContract

/// What happens to the agent: the runtime turns MQTT, the display and its timer into these.
public enum AgentEvent: Sendable, Equatable {
    /// The broker accepted the connection (the subscriptions are renewed by the client).
    case connected
    /// The broker connection is gone (network cable, broker down, ...).
    case disconnected
    /// A message on one of `AgentCore.subscriptions`.
    case message(topic: String, payload: [UInt8], retained: Bool)
    /// Time passed (the runtime ticks a few times a second, and at the lease's deadline).
    case tick
    /// The display saw something happen to its windows or grabs.
    case tamper(TamperReason)
    /// An order the runtime was asked to carry out finished: nil failure means done.
    case orderFinished(ControlMessage.Order, failure: String?)
    /// The customer typed on the lock screen or pressed the sign-out button.
    case input(AgentInput)
}

/// What the runtime must do.
public enum AgentAction: Sendable, Equatable {
    case publish(AgentPublication)
    /// Write the lease file (atomically, mode 0600).
    case saveLease(LeaseRecord)
    /// Carry out a staff order (logout, shutdown, restart); answer with `.orderFinished`.
    case runOrder(ControlMessage.Order)
    /// `logout_on_lock`: a session just ended, clear the desktop for the next customer.
    case endDesktopSession
}

/// One MQTT publish. The agent never retains anything.
public struct AgentPublication: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    /// 0 or 1.
    public var qos: Int

    public init(topic: String, payload: [UInt8], qos: Int) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
    }
}

/// The PC agent's domain, sans I/O: control messages, countdowns, connection changes and time
/// in; what to show, what to publish, what to save and what to run out. Fail closed: it starts
/// locked and unlocks only on the hub's word, or on a lease it saved itself on this boot.
///
/// The lease: every `unlock`/`extend`/`warn` gives the time left, which the agent counts down on
/// its own monotonic clock and enforces by itself, hub or no hub. The time left is taken from two
/// hub times (`ends_at - sent_at`), so neither the PC's clock nor rounding adds a second; while
/// the hub is reachable its countdowns keep the lease within a second of the hub's, and any later
/// `unlock`/`lock` replaces it: the hub's word wins.
public struct AgentCore: Sendable {
    public let settings: AgentSettings
    public let bootID: String

    enum Mode: Equatable {
        case locked(LockScreenReason, session: String?)
        case unlocked(Lease)
    }

    struct Lease: Equatable {
        var session: String
        var deadlineMonoNanos: Int64
        /// Warning thresholds already shown (or skipped because the lease was shorter).
        var warned: Set<Int64>
        /// The member whose balance pays, as the last unlock/extend/warn said (nil: the desk's).
        var member: MemberSummary? = nil
    }

    /// The lock screen's sign-in form. The PIN is kept as bytes so that it can be overwritten
    /// (not just dropped) once it is sent or given up.
    struct SignInEntry: Equatable {
        var member = ""
        var pin: [UInt8] = []
        var focus: SignInForm.Field = .member
        var note: Note?
        var blockedUntilMonoNanos: Int64?
        /// The last key, result or timeout: a form left alone this long is cleared.
        var lastActivityMonoNanos: Int64 = 0

        var isBlank: Bool { member.isEmpty && pin.isEmpty && focus == .member && note == nil && blockedUntilMonoNanos == nil }

        mutating func wipePIN() {
            for i in pin.indices { pin[i] = 0 }
            pin.removeAll()
        }

        /// Empties the form (the PIN overwritten first).
        mutating func clear() {
            wipePIN()
            self = SignInEntry()
        }
    }

    struct Note: Equatable {
        var text: String
        var tone: SignInForm.Tone
    }

    /// A sign-in or sign-out sent and not yet answered.
    struct PendingRequest: Equatable {
        var request: String
        var signOut: Bool
        var untilMonoNanos: Int64
    }

    enum Link: Equatable {
        case down
        /// `hubOnline`: the hub's retained status (nil until heard).
        case up(hubOnline: Bool?)
    }

    struct Timed: Equatable {
        var text: String
        var untilMonoNanos: Int64
    }

    private(set) var mode: Mode = .locked(.starting, session: nil)
    private(set) var link: Link = .down
    private var startedAtMono: Int64
    private var heardHub = false
    private var notice: Timed?
    private var staffMessage: Timed?
    private var seq: Int64 = 0
    private var nextHeartbeatMono: Int64?
    /// Order ids already taken (QoS 1 may deliver one twice), oldest first.
    private var takenOrders: [String] = []
    /// Reports not yet sent because the broker was away (bounded).
    private var pendingReports: [AgentReportMessage] = []
    private var tamperSeenMono: [TamperReason: Int64] = [:]
    private var tamperReportedMono: [TamperReason: Int64] = [:]
    private var wallOffsetMillis: Int64?
    private var savedLease: LeaseRecord?
    private var signInEntry = SignInEntry()
    private var pendingRequest: PendingRequest?
    /// Request ids are `<prefix>-<n>`: the runtime picks a fresh prefix per start, so ids never
    /// repeat across restarts, and tests pick a fixed one.
    private let requestPrefix: String
    private var requestSeq: Int64 = 0
    /// Messages dropped as malformed, foreign or oversized (the runtime logs the count now and then).
    public private(set) var ignoredMessages: Int = 0

    /// Largest control or countdown payload the agent reads.
    public static let maxPayloadBytes = 4096
    static let tamperWindowNanos: Int64 = 60_000_000_000
    static let maxTakenOrders = 64
    static let maxPendingReports = 16
    /// How long a sign-in or sign-out waits for the hub's result.
    static let signInAnswerNanos: Int64 = 10_000_000_000
    /// How long the form stays blocked after `member_locked` or `too_many_attempts`.
    static let signInLockoutNanos: Int64 = 30_000_000_000
    /// A form left with something in it this long is cleared (the next customer sees a blank one).
    static let signInIdleNanos: Int64 = 60_000_000_000

    /// Starts locked, unless `restored` is a lease of this station, this boot, not yet run out.
    /// `requestPrefix` starts every sign-in request id (`<prefix>-1`, `<prefix>-2`, ...): the
    /// runtime passes a random one per start; characters other than `A-Z a-z 0-9 _ -` are dropped.
    public init(settings: AgentSettings, bootID: String, restored: LeaseRestore, now: AgentTime, requestPrefix: String = "signin") {
        self.settings = settings
        self.bootID = bootID
        let prefix = String(requestPrefix.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }.prefix(40))
        self.requestPrefix = prefix.isEmpty ? "signin" : prefix
        self.startedAtMono = now.monoNanos
        self.wallOffsetMillis = now.wallMillis - now.monoNanos / 1_000_000
        switch restored {
        case .none:
            break
        case .rejected:
            // Not connected yet: the report is queued and sent on connect.
            var queued: [AgentAction] = []
            tamper(.leaseFileRejected, now: now, into: &queued)
        case .record(let record):
            if record.station == settings.station, record.bootID == bootID, let session = record.session,
                let deadline = record.deadlineMonoNanos, deadline > now.monoNanos
            {
                mode = .unlocked(Lease(session: session, deadlineMonoNanos: deadline,
                                       warned: skippedThresholds(leftMillis: (deadline - now.monoNanos) / 1_000_000)))
                savedLease = record
            }
        }
    }

    // MARK: - What the runtime asks

    /// What to subscribe to: control (QoS 1), countdown (QoS 0), the hub's status (QoS 1) and,
    /// with sign-in on, the sign-in results (QoS 1).
    public var subscriptions: [(filter: String, qos: Int)] {
        var list = [(filter: settings.topics.control(settings.station), qos: 1), (settings.topics.countdown(settings.station), 0),
                    (settings.topics.hubStatus, 1)]
        if settings.policy.signInEnabled { list.append((settings.topics.signInResult(settings.station), 1)) }
        return list
    }

    /// The will to register: `offline` on the agent topic, QoS 1, not retained.
    public var will: AgentPublication { Self.willPublication(topics: settings.topics, station: settings.station) }

    public static func willPublication(topics: TopicScheme, station: StationID) -> AgentPublication {
        AgentPublication(topic: topics.agent(station), payload: Array("offline".utf8), qos: 1)
    }

    public var isLocked: Bool {
        if case .locked = mode { return true }
        return false
    }

    /// When the core next needs a `.tick` (monotonic nanoseconds), or nil when only an event can
    /// change anything: the overlay's next second (the lease's end and the warning thresholds are
    /// among those), the next heartbeat, a notice or staff message running out, the end of the start-up grace. The
    /// runtime sleeps until then instead of ticking on a fixed period.
    public func nextWakeup(now: AgentTime) -> Int64? {
        var next: Int64?
        func consider(_ t: Int64?) {
            guard let t, t > now.monoNanos else { return }
            next = min(next ?? t, t)
        }
        if case .unlocked(let lease) = mode {
            // The countdown shows whole seconds rounded up: it changes when the time left next
            // crosses a whole second, which is also when the lease ends or reaches a (whole-second)
            // warning threshold.
            let left = lease.deadlineMonoNanos - now.monoNanos
            if left > 0 { consider(now.monoNanos + (left - 1) % 1_000_000_000 + 1) }
        }
        consider(nextHeartbeatMono)
        consider(notice?.untilMonoNanos)
        consider(staffMessage?.untilMonoNanos)
        if case .locked(.starting, _) = mode, !heardHub {
            consider(startedAtMono + settings.startupGraceSeconds * 1_000_000_000)
        }
        consider(pendingRequest?.untilMonoNanos)
        consider(signInEntry.blockedUntilMonoNanos)
        if !signInEntry.isBlank { consider(signInEntry.lastActivityMonoNanos + Self.signInIdleNanos) }
        return next
    }

    /// The session the agent is unlocked for, if any.
    public var session: String? {
        switch mode {
        case .unlocked(let lease): return lease.session
        case .locked(_, let session): return session
        }
    }

    /// False while the broker or the hub cannot be reached.
    public var hubReachable: Bool { link == .up(hubOnline: true) || link == .up(hubOnline: nil) }

    /// What the screen shows now.
    public func screen(now: AgentTime) -> AgentScreen {
        let message = staffMessage.flatMap { $0.untilMonoNanos > now.monoNanos ? $0.text : nil }
        switch mode {
        case .unlocked(let lease):
            let left = Self.secondsRoundedUp(lease.deadlineMonoNanos - now.monoNanos)
            let tone: Overlay.Tone = left > settings.policy.orangeBelowSeconds ? .green : left >= settings.policy.redBelowSeconds ? .orange : .red
            return .unlocked(Overlay(
                stationName: settings.stationName, remainingSeconds: left, tone: tone,
                notice: notice.flatMap { $0.untilMonoNanos > now.monoNanos ? $0.text : nil }, staffMessage: message,
                hubReachable: hubReachable, offlineText: settings.policy.texts.overlayOffline,
                member: lease.member.map(badge)))
        case .locked(let reason, _):
            var shown = reason
            let settled = heardHub || now.monoNanos - startedAtMono >= settings.startupGraceSeconds * 1_000_000_000
            if reason == .starting, settled { shown = hubReachable ? .idle : .hubOffline }
            if reason == .idle, !hubReachable { shown = .hubOffline }
            return .locked(LockScreen(
                venueName: settings.venueName, stationName: settings.stationName, reason: shown,
                headline: settings.policy.texts.headlines[shown] ?? shown.rawValue, detail: settings.policy.texts.details[shown],
                staffMessage: message, hubReachable: hubReachable, signIn: signInForm(reason, now: now)))
        }
    }

    /// The form a lock with `reason` shows, or nil when it offers none.
    private func signInForm(_ reason: LockScreenReason, now: AgentTime) -> SignInForm? {
        guard offersSignIn(reason) else { return nil }
        let texts = settings.policy.texts
        var note = signInEntry.note
        if !hubReachable {
            note = Note(text: texts.signInOffline, tone: .error)
        } else if let pending = pendingRequest, !pending.signOut {
            note = Note(text: texts.signInPending, tone: .progress)
        }
        return SignInForm(
            title: texts.signInTitle, memberLabel: texts.signInMember, pinLabel: texts.signInPIN, member: signInEntry.member,
            pinLength: signInEntry.pin.count, focus: signInEntry.focus, accepting: signInTakesKeys(now: now), note: note?.text,
            tone: note?.tone ?? .info, hint: texts.signInHint)
    }

    /// Sign-in is offered on a lock a member could end by signing in: not while the station is
    /// paused (a session is held on it) or in maintenance.
    private func offersSignIn(_ reason: LockScreenReason) -> Bool {
        settings.policy.signInEnabled && ![.paused, .maintenance, .configurationError].contains(reason)
    }

    /// Whether a key on the lock screen does anything now.
    private func signInTakesKeys(now: AgentTime) -> Bool {
        guard case .locked(let reason, _) = mode, offersSignIn(reason), hubReachable, pendingRequest == nil else { return false }
        if let until = signInEntry.blockedUntilMonoNanos, until > now.monoNanos { return false }
        return true
    }

    private func badge(_ member: MemberSummary) -> MemberBadge {
        let texts = settings.policy.texts
        var button: SignOutButton?
        if settings.policy.signInEnabled {
            let signingOut = pendingRequest?.signOut == true
            button = SignOutButton(label: signingOut ? texts.signOutPending : texts.signOut, enabled: hubReachable && pendingRequest == nil)
        }
        return MemberBadge(
            name: DisplayText.normalized(String(member.name.prefix(64)), maxLength: 64) ?? member.member,
            balanceText: DisplayText.normalized(String(member.balanceText.prefix(32)), maxLength: 32) ?? "", signOut: button)
    }

    // MARK: - Events

    public mutating func handle(_ event: AgentEvent, now: AgentTime) -> [AgentAction] {
        var actions: [AgentAction] = []
        noticeWallClock(now: now, into: &actions)
        switch event {
        case .connected:
            link = .up(hubOnline: nil)
            actions.append(.publish(AgentPublication(topic: settings.topics.agent(settings.station), payload: Array("online".utf8), qos: 1)))
            for report in pendingReports { actions.append(.publish(publication(report))) }
            pendingReports.removeAll()
            nextHeartbeatMono = now.monoNanos
        case .disconnected:
            link = .down
            nextHeartbeatMono = nil
            // No answer can come now; the form says the hub is unreachable instead.
            if pendingRequest?.signOut == false { pendingRequest = nil }
        case .message(let topic, let payload, let retained):
            receive(topic: topic, payload: payload, retained: retained, now: now, into: &actions)
        case .tick:
            break
        case .tamper(let reason):
            tamper(reason, now: now, into: &actions)
        case .orderFinished(let order, let failure):
            let report: AgentReportMessage.Report = failure.map {
                .orderFailed(command: order.command, action: order.action, detail: String($0.prefix(AgentReportMessage.maxDetailLength)))
            } ?? .orderDone(command: order.command, action: order.action)
            send(report, now: now, into: &actions)
        case .input(.key(let key)):
            type(key, now: now, into: &actions)
        case .input(.signOut):
            signOut(now: now, into: &actions)
        }
        advance(now: now, into: &actions)
        return actions
    }

    // MARK: - Inbound messages

    private mutating func receive(topic: String, payload: [UInt8], retained: Bool, now: AgentTime, into actions: inout [AgentAction]) {
        let topics = settings.topics
        if topic == topics.hubStatus {
            switch String(decoding: payload.prefix(16), as: UTF8.self) {
            case "online": link = link == .down ? .down : .up(hubOnline: true)
            case "offline": link = link == .down ? .down : .up(hubOnline: false)
            default: ignoredMessages += 1
            }
            return
        }
        // A retained control or countdown is stale by definition (the hub never retains them).
        guard !retained, payload.count <= Self.maxPayloadBytes else {
            ignoredMessages += 1
            return
        }
        if topic == topics.control(settings.station) {
            guard let control = try? ControlMessage(payload: payload), control.station == settings.station else {
                ignoredMessages += 1
                return
            }
            heardHub = true
            apply(control, now: now, into: &actions)
        } else if topic == topics.countdown(settings.station) {
            guard let countdown = try? CountdownMessage(payload: payload), countdown.station == settings.station else {
                ignoredMessages += 1
                return
            }
            heardHub = true
            rebase(on: countdown, now: now)
        } else if topic == topics.signInResult(settings.station), settings.policy.signInEnabled {
            guard let result = try? SignInResult(payload: payload), result.station == settings.station,
                let pending = pendingRequest, pending.request == result.request
            else {
                ignoredMessages += 1
                return
            }
            heardHub = true
            take(result, of: pending, now: now)
        } else {
            ignoredMessages += 1
        }
    }

    private mutating func apply(_ control: ControlMessage, now: AgentTime, into actions: inout [AgentAction]) {
        switch control {
        case .lock(let lock):
            let reason: LockScreenReason = switch lock.reason {
            case .idle?: .idle
            case .expired?: .expired
            case .stopped?: .stopped
            case .paused?: .paused
            case .maintenance?: .maintenance
            case .transferred?: .transferred
            case nil: .stopped  // a reason a newer hub knows: still locked
            }
            lockScreen(reason, session: lock.session, now: now, into: &actions)
        case .unlock(let grant):
            take(grant, extended: false, now: now, into: &actions)
        case .extend(let grant, _):
            take(grant, extended: true, now: now, into: &actions)
        case .warn(let grant, let threshold):
            take(grant, extended: false, now: now, into: &actions)
            if case .unlocked(var lease) = mode, lease.session == grant.session {
                if lease.warned.insert(threshold).inserted || notice == nil {
                    notice = Timed(text: settings.policy.texts.notice(forThreshold: threshold),
                                   untilMonoNanos: now.monoNanos + settings.policy.noticeSeconds * 1_000_000_000)
                }
                mode = .unlocked(lease)
            }
        case .order(let order):
            guard !takenOrders.contains(order.command) else { return }
            takenOrders.append(order.command)
            if takenOrders.count > Self.maxTakenOrders { takenOrders.removeFirst(takenOrders.count - Self.maxTakenOrders) }
            if order.action == .message, let text = order.text {
                staffMessage = Timed(text: text, untilMonoNanos: now.monoNanos + settings.policy.messageSeconds * 1_000_000_000)
                send(.orderDone(command: order.command, action: order.action), now: now, into: &actions)
            } else {
                actions.append(.runOrder(order))
            }
        }
    }

    /// The hub's word on a running session: unlocked until `ends_at`, counted from now.
    private mutating func take(_ grant: ControlMessage.Grant, extended: Bool, now: AgentTime, into actions: inout [AgentAction]) {
        let leftMillis = Self.millisLeft(grant)
        guard leftMillis > 0 else {
            lockScreen(.expired, session: grant.session, now: now, into: &actions)
            return
        }
        var warned: Set<Int64> = []
        if case .unlocked(let lease) = mode, lease.session == grant.session, !extended { warned = lease.warned }
        // Extending re-arms the thresholds the new time is above.
        warned = warned.filter { $0 * 1000 >= leftMillis }.union(skippedThresholds(leftMillis: leftMillis))
        if extended { notice = nil }
        if isLocked {
            // The session the sign-in asked for (or one the desk started): the form is done with.
            if pendingRequest?.signOut == false { pendingRequest = nil }
            signInEntry.clear()
        }
        mode = .unlocked(Lease(session: grant.session, deadlineMonoNanos: now.monoNanos + leftMillis * 1_000_000, warned: warned,
                               member: grant.member))
    }

    /// The warning thresholds at or above the time left: never warned about (the hub skips them too).
    private func skippedThresholds(leftMillis: Int64) -> Set<Int64> {
        Set(settings.policy.warnThresholdsSeconds.filter { $0 * 1000 >= leftMillis })
    }

    /// A countdown of the session the agent runs keeps its lease within a second of the hub's.
    private mutating func rebase(on countdown: CountdownMessage, now: AgentTime) {
        guard case .unlocked(var lease) = mode, countdown.session == lease.session, !countdown.paused,
            countdown.remainingSeconds > 0
        else { return }
        // `remaining_s` is rounded up: the hub's time left is in (r - 1, r] seconds.
        let r = countdown.remainingSeconds
        let localMillis = (lease.deadlineMonoNanos - now.monoNanos) / 1_000_000
        guard localMillis > r * 1000 + 1000 || localMillis < (r - 1) * 1000 - 1000 else { return }
        lease.deadlineMonoNanos = now.monoNanos + (r * 1000 - 500) * 1_000_000
        mode = .unlocked(lease)
    }

    private mutating func lockScreen(_ reason: LockScreenReason, session: String?, now: AgentTime, into actions: inout [AgentAction]) {
        let wasUnlocked = !isLocked
        mode = .locked(reason, session: session)
        notice = nil
        if wasUnlocked {
            // A sign-out's answer is this lock; the next customer gets a blank form.
            pendingRequest = nil
            signInEntry.clear()
            nextHeartbeatMono = link == .down ? nil : now.monoNanos  // tell the hub at once
            if settings.policy.logoutOnLock, [.expired, .stopped, .transferred].contains(reason) {
                actions.append(.endDesktopSession)
            }
        }
    }

    // MARK: - Sign-in and sign-out

    private mutating func type(_ key: AgentKey, now: AgentTime, into actions: inout [AgentAction]) {
        guard signInTakesKeys(now: now) else { return }
        signInEntry.lastActivityMonoNanos = now.monoNanos
        switch key {
        case .character(let c):
            switch signInEntry.focus {
            case .member:
                guard Self.isMemberCharacter(c), signInEntry.member.count < SignInRequest.maxMemberLength else { return }
                signInEntry.member.append(c)
            case .pin:
                guard let digit = c.asciiValue, digit >= 0x30, digit <= 0x39,
                    signInEntry.pin.count < SignInRequest.pinLengths.upperBound
                else { return }
                signInEntry.pin.append(digit)
            }
            signInEntry.note = nil
        case .backspace:
            switch signInEntry.focus {
            case .member:
                guard !signInEntry.member.isEmpty else { return }
                signInEntry.member.removeLast()
            case .pin:
                guard !signInEntry.pin.isEmpty else { return }
                signInEntry.pin[signInEntry.pin.count - 1] = 0
                signInEntry.pin.removeLast()
            }
            signInEntry.note = nil
        case .tab:
            signInEntry.focus = signInEntry.focus == .member ? .pin : .member
        case .escape:
            signInEntry.clear()
        case .enter:
            if signInEntry.focus == .member, !signInEntry.member.isEmpty, signInEntry.pin.isEmpty {
                signInEntry.focus = .pin
                return
            }
            submit(now: now, into: &actions)
        }
    }

    private static func isMemberCharacter(_ c: Character) -> Bool {
        guard let v = c.asciiValue else { return false }
        return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5a) || (v >= 0x61 && v <= 0x7a) || v == 0x5f || v == 0x2d
    }

    /// Sends the one request for what is in the form, and forgets the PIN.
    private mutating func submit(now: AgentTime, into actions: inout [AgentAction]) {
        let pin = String(decoding: signInEntry.pin, as: UTF8.self)
        guard MemberID.isValid(signInEntry.member), SignInRequest.isWellFormedPIN(pin) else {
            signInEntry.note = Note(text: settings.policy.texts.signInIncomplete, tone: .error)
            signInEntry.focus = MemberID.isValid(signInEntry.member) ? .pin : .member
            return
        }
        let request = SignInRequest(station: settings.station, action: .signIn(member: signInEntry.member, pin: pin), request: nextRequestID())
        actions.append(.publish(AgentPublication(topic: settings.topics.signIn(settings.station), payload: request.payload, qos: 1)))
        signInEntry.wipePIN()
        signInEntry.focus = .pin
        signInEntry.note = nil
        pendingRequest = PendingRequest(request: request.request, signOut: false, untilMonoNanos: now.monoNanos + Self.signInAnswerNanos)
    }

    private mutating func signOut(now: AgentTime, into actions: inout [AgentAction]) {
        guard settings.policy.signInEnabled, case .unlocked(let lease) = mode, lease.member != nil, hubReachable, pendingRequest == nil
        else { return }
        let request = SignInRequest(station: settings.station, action: .signOut, request: nextRequestID())
        actions.append(.publish(AgentPublication(topic: settings.topics.signIn(settings.station), payload: request.payload, qos: 1)))
        pendingRequest = PendingRequest(request: request.request, signOut: true, untilMonoNanos: now.monoNanos + Self.signInAnswerNanos)
    }

    private mutating func nextRequestID() -> String {
        requestSeq += 1
        return "\(requestPrefix)-\(requestSeq)"
    }

    /// The hub's answer to the request the agent waits for.
    private mutating func take(_ result: SignInResult, of pending: PendingRequest, now: AgentTime) {
        pendingRequest = nil
        let shown = result.error.map { error in
            DisplayText.normalized(String(error.message.prefix(200)), maxLength: 200) ?? error.code
        }
        if pending.signOut {
            // Done: the hub's `lock` follows on control. Refused: say why over the game.
            if let shown {
                notice = Timed(text: shown, untilMonoNanos: now.monoNanos + settings.policy.noticeSeconds * 1_000_000_000)
            }
            return
        }
        signInEntry.lastActivityMonoNanos = now.monoNanos
        signInEntry.wipePIN()
        if let error = result.error, let shown {
            signInEntry.note = Note(text: shown, tone: .error)
            signInEntry.focus = .pin
            if [ErrorCode.memberLocked.rawValue, ErrorCode.tooManyAttempts.rawValue].contains(error.code) {
                signInEntry.blockedUntilMonoNanos = now.monoNanos + Self.signInLockoutNanos
            }
        } else {
            // The session itself comes as the hub's `unlock` on control.
            signInEntry.member = ""
            signInEntry.focus = .member
            signInEntry.note = Note(text: settings.policy.texts.signInDone, tone: .info)
        }
    }

    /// Timeouts of the form: no answer, the end of a lockout, a form left alone; and the PIN never
    /// stays while the form cannot take it.
    private mutating func advanceSignIn(now: AgentTime) {
        if let pending = pendingRequest, now.monoNanos >= pending.untilMonoNanos {
            pendingRequest = nil
            let text = settings.policy.texts.signInNoAnswer
            if pending.signOut {
                notice = Timed(text: text, untilMonoNanos: now.monoNanos + settings.policy.noticeSeconds * 1_000_000_000)
            } else {
                signInEntry.note = Note(text: text, tone: .error)
                signInEntry.lastActivityMonoNanos = now.monoNanos
            }
        }
        if let until = signInEntry.blockedUntilMonoNanos, now.monoNanos >= until {
            signInEntry.blockedUntilMonoNanos = nil
            signInEntry.note = nil
            signInEntry.lastActivityMonoNanos = now.monoNanos
        }
        if !signInEntry.isBlank, pendingRequest == nil, now.monoNanos - signInEntry.lastActivityMonoNanos >= Self.signInIdleNanos {
            signInEntry.clear()
        }
        if !signInEntry.pin.isEmpty, !signInTakesKeys(now: now) { signInEntry.wipePIN() }
    }

    // MARK: - Time

    private mutating func advance(now: AgentTime, into actions: inout [AgentAction]) {
        advanceSignIn(now: now)
        if case .unlocked(var lease) = mode {
            let leftNanos = lease.deadlineMonoNanos - now.monoNanos
            if leftNanos <= 0 {
                lockScreen(.expired, session: lease.session, now: now, into: &actions)
            } else {
                // Warn by itself when the hub's `warn` did not come (hub or broker away).
                for threshold in settings.policy.warnThresholdsSeconds.sorted(by: >) where !lease.warned.contains(threshold) {
                    if leftNanos <= threshold * 1_000_000_000 {
                        lease.warned.insert(threshold)
                        notice = Timed(text: settings.policy.texts.notice(forThreshold: threshold),
                                       untilMonoNanos: now.monoNanos + settings.policy.noticeSeconds * 1_000_000_000)
                    }
                }
                mode = .unlocked(lease)
            }
        }
        if let due = nextHeartbeatMono, now.monoNanos >= due {
            seq += 1
            actions.append(.publish(AgentPublication(topic: settings.topics.heartbeat(settings.station),
                                                     payload: heartbeat(now: now).payload, qos: 0)))
            nextHeartbeatMono = now.monoNanos + settings.policy.heartbeatIntervalSeconds * 1_000_000_000
        }
        saveLeaseIfChanged(now: now, into: &actions)
    }

    public func heartbeat(now: AgentTime) -> HeartbeatMessage {
        var info: [String: JSONValue] = [
            "agent": .string(settings.agentName), "version": .string(settings.version), "locked": .bool(isLocked),
        ]
        if let user = settings.user { info["user"] = .string(user) }
        if case .unlocked(let lease) = mode {
            info["lease_s"] = .int(Self.secondsRoundedUp(lease.deadlineMonoNanos - now.monoNanos))
        }
        let recent = tamperSeenMono.filter { now.monoNanos - $0.value < Self.tamperWindowNanos }.keys.map(\.rawValue).sorted()
        if !recent.isEmpty { info["tamper"] = .array(recent.map { .string($0) }) }
        return HeartbeatMessage(seq: seq, info: info)
    }

    private mutating func saveLeaseIfChanged(now: AgentTime, into actions: inout [AgentAction]) {
        let record: LeaseRecord
        switch mode {
        case .unlocked(let lease):
            if let saved = savedLease, saved.session == lease.session, let deadline = saved.deadlineMonoNanos,
                abs(deadline - lease.deadlineMonoNanos) < 1_000_000_000
            {
                return
            }
            record = LeaseRecord(station: settings.station, session: lease.session, bootID: bootID,
                                 deadlineMonoNanos: lease.deadlineMonoNanos, savedAt: ISO8601.string(fromMillis: now.wallMillis))
        case .locked:
            // Nothing saved yet means nothing to undo: a missing file is locked too.
            guard let saved = savedLease, saved.session != nil else { return }
            record = LeaseRecord(station: settings.station, session: nil, bootID: bootID, deadlineMonoNanos: nil,
                                 savedAt: ISO8601.string(fromMillis: now.wallMillis))
        }
        savedLease = record
        actions.append(.saveLease(record))
    }

    // MARK: - Tamper and reports

    private mutating func noticeWallClock(now: AgentTime, into actions: inout [AgentAction]) {
        let offset = now.wallMillis - now.monoNanos / 1_000_000
        defer { wallOffsetMillis = offset }
        if let previous = wallOffsetMillis, abs(offset - previous) > 2000 {
            tamper(.wallClockChanged, now: now, into: &actions)
        }
    }

    private mutating func tamper(_ reason: TamperReason, now: AgentTime, into actions: inout [AgentAction]) {
        tamperSeenMono[reason] = now.monoNanos
        if let last = tamperReportedMono[reason], now.monoNanos - last < Self.tamperWindowNanos { return }
        tamperReportedMono[reason] = now.monoNanos
        send(.tamper(reason), now: now, into: &actions)
    }

    /// Publishes a report, or keeps it (bounded) for the next connect while the broker is away.
    private mutating func send(_ report: AgentReportMessage.Report, now: AgentTime, into actions: inout [AgentAction]) {
        let message = AgentReportMessage(station: settings.station, report: report, sentAt: ISO8601.string(fromMillis: now.wallMillis))
        guard link == .down else {
            actions.append(.publish(publication(message)))
            return
        }
        pendingReports.append(message)
        if pendingReports.count > Self.maxPendingReports { pendingReports.removeFirst(pendingReports.count - Self.maxPendingReports) }
    }

    private func publication(_ report: AgentReportMessage) -> AgentPublication {
        AgentPublication(topic: settings.topics.agentReport(settings.station), payload: report.payload, qos: 1)
    }

    // MARK: - Arithmetic

    /// The time a grant leaves, in milliseconds: `ends_at - sent_at` (both hub times, so the PC's
    /// clock does not matter and no rounding adds a second), never more than `remaining_s`.
    static func millisLeft(_ grant: ControlMessage.Grant) -> Int64 {
        let stated = max(0, min(grant.remainingSeconds, 7 * 86_400)) * 1000
        guard let endsText = grant.endsAt, let ends = ISO8601.millis(from: endsText), let sent = ISO8601.millis(from: grant.sentAt)
        else { return stated }
        return max(0, min(ends - sent, stated))
    }

    static func secondsRoundedUp(_ nanos: Int64) -> Int64 {
        nanos <= 0 ? 0 : (nanos + 999_999_999) / 1_000_000_000
    }
}
