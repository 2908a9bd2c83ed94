import PlayclockAgent
import PlayclockContract
import Testing

/// The hub's side of the sign-in topics, on top of the core harness.
extension Harness {
    static let member = MemberSummary(member: "M-1001", name: "Anna K.", balance: 1250, currency: "EUR", balanceText: "12.50 EUR")

    mutating func type(_ text: String) {
        for c in text { send(.input(.key(.character(c)))) }
    }

    mutating func key(_ key: AgentKey) { send(.input(.key(key))) }

    var form: SignInForm? {
        if case .locked(let l) = screen { return l.signIn }
        return nil
    }

    var signInRequests: [SignInRequest] {
        published.filter { $0.topic == Self.topics.signIn(Self.station) }.compactMap { try? SignInRequest(payload: $0.payload) }
    }

    mutating func result(
        request: String, error: (ErrorCode, String)? = nil, station: StationID = Harness.station, retained: Bool = false
    ) {
        let r = SignInResult(station: station, request: request, error: error.map { .init(code: $0.0, message: $0.1) },
                             member: error == nil ? Self.member : nil)
        send(.message(topic: Self.topics.signInResult(Self.station), payload: r.payload, retained: retained))
    }

    mutating func unlock(session: String = "s1", seconds: Int64, member: MemberSummary?) {
        var g = grant(session: session, seconds: seconds)
        g.member = member
        control(.unlock(g))
    }

    /// Connected, past the start-up grace: the idle lock with its form.
    static func ready(configure: (inout AgentSettings) -> Void = { _ in }) -> Harness {
        var h = Harness(configure: configure)
        h.send(.connected)
        h.advance(seconds: 6)
        return h
    }

    /// Every string and byte array anywhere in the core's state (by reflection), as text.
    var coreStrings: [String] {
        var found: [String] = []
        func walk(_ value: Any) {
            if let s = value as? String { found.append(s) }
            if let bytes = value as? [UInt8] { found.append(String(decoding: bytes, as: UTF8.self)) }
            for child in Mirror(reflecting: value).children { walk(child.value) }
        }
        walk(core)
        return found
    }
}

@Suite("Agent core: member sign-in at the lock screen")
struct AgentSignInTests {
    @Test func typingFillsTheFieldsAndThePINIsOnlyACount() {
        var h = Harness.ready()
        let blank = try? #require(h.form)
        #expect(blank?.member == "" && blank?.pinLength == 0 && blank?.focus == .member && blank?.accepting == true)
        #expect(blank?.title == "Member sign-in" && blank?.note == nil)
        h.type("M-10!0 1")  // '!' and ' ' are no member id characters
        #expect(h.form?.member == "M-1001")
        h.key(.backspace)
        h.type("2")
        #expect(h.form?.member == "M-1002")
        h.key(.tab)
        #expect(h.form?.focus == .pin)
        h.type("12a34")  // digits only in the PIN
        #expect(h.form?.pinLength == 4)
        h.key(.backspace)
        #expect(h.form?.pinLength == 3)
        h.type("4567890123456")
        #expect(h.form?.pinLength == 12, "at most 12 digits")
        h.key(.tab)
        #expect(h.form?.focus == .member)
        h.key(.escape)
        #expect(h.form?.member == "" && h.form?.pinLength == 0 && h.form?.focus == .member, "escape clears the form")
        #expect(h.signInRequests.isEmpty)
    }

    @Test func theMemberIdIsCappedAt64Characters() {
        var h = Harness.ready()
        h.type(String(repeating: "a", count: 70))
        #expect(h.form?.member.count == SignInRequest.maxMemberLength)
    }

    @Test func enterMovesToThePINThenSubmitsOneRequestAndIgnoresMoreSubmits() throws {
        var h = Harness.ready()
        h.type("M-1001")
        h.key(.enter)
        #expect(h.form?.focus == .pin, "enter in the member field moves to the PIN")
        #expect(h.published.filter { $0.topic == Harness.topics.signIn(Harness.station) }.isEmpty)
        h.type("4711")
        h.key(.enter)
        let sent = h.published.filter { $0.topic == Harness.topics.signIn(Harness.station) }
        try #require(sent.count == 1)
        #expect(sent[0].qos == 1)
        let request = try SignInRequest(payload: sent[0].payload)
        #expect(request.station == Harness.station)
        #expect(request.action == .signIn(member: "M-1001", pin: "4711"))
        #expect(request.request == "signin-1")
        let form = try #require(h.form)
        #expect(form.note == "Signing in..." && form.tone == .progress)
        #expect(!form.accepting && form.pinLength == 0)
        // More submits and keys while waiting do nothing.
        h.type("9999")
        h.key(.enter)
        h.key(.enter)
        #expect(h.signInRequests.count == 1)
        #expect(h.form?.pinLength == 0)
    }

    @Test func anIncompleteFormSendsNothingAndSaysWhy() {
        var h = Harness.ready()
        h.key(.enter)
        #expect(h.form?.note == "Enter your member id and a PIN of 4 to 12 digits")
        #expect(h.form?.tone == .error)
        h.type("M-1001")
        h.key(.tab)
        h.type("123")
        h.key(.enter)
        #expect(h.signInRequests.isEmpty, "a PIN of 3 digits is not sent")
        #expect(h.form?.focus == .pin && h.form?.pinLength == 3)
        h.type("4")
        #expect(h.form?.note == nil, "typing again clears the note")
    }

    @Test func thePINDoesNotSurviveInTheCoreAfterSubmit() {
        var h = Harness.ready()
        h.type("M-1001")
        h.key(.tab)
        h.type("86420975")
        #expect(h.coreStrings.contains { $0.contains("86420975") }, "the check can see the PIN while it is typed")
        h.key(.enter)
        #expect(h.signInRequests.first?.action == .signIn(member: "M-1001", pin: "86420975"))
        #expect(!h.coreStrings.contains { $0.contains("8642") }, "the PIN is gone from the core's state once sent")
    }

    @Test func onlyTheResultForThisRequestAndStationCounts() {
        var h = Harness.ready()
        h.type("M-1001")
        h.key(.tab)
        h.type("4711")
        h.key(.enter)
        let ignored = h.core.ignoredMessages
        h.result(request: "signin-99", error: (.memberLocked, "foreign request"))
        h.result(request: "signin-1", error: (.memberLocked, "foreign station"), station: StationID("PC-02")!)
        h.result(request: "signin-1", error: (.memberLocked, "retained"), retained: true)
        h.send(.message(topic: Harness.topics.signInResult(Harness.station), payload: Array("{not json".utf8), retained: false))
        #expect(h.core.ignoredMessages == ignored + 4)
        #expect(h.form?.note == "Signing in...", "still waiting for its own answer")
        h.result(request: "signin-1", error: (.unknownMember, "Wrong member id or PIN"))
        #expect(h.form?.note == "Wrong member id or PIN")
        #expect(h.form?.tone == .error)
        #expect(h.form?.accepting == true && h.form?.pinLength == 0 && h.form?.member == "M-1001" && h.form?.focus == .pin)
        // A second copy of the same answer (QoS 1) finds nothing waiting.
        h.result(request: "signin-1", error: (.unknownMember, "again"))
        #expect(h.form?.note == "Wrong member id or PIN")
        // The next attempt has a fresh id.
        h.type("4712")
        h.key(.enter)
        #expect(h.signInRequests.map(\.request) == ["signin-1", "signin-2"])
    }

    @Test func noAnswerIn10SecondsLetsTheMemberTryAgain() {
        var h = Harness.ready()
        h.type("M-1001")
        h.key(.tab)
        h.type("4711")
        h.key(.enter)
        #expect(h.core.nextWakeup(now: h.now).map { $0 <= h.now.monoNanos + 10_000_000_000 } == true)
        h.advance(seconds: 9.9)
        #expect(h.form?.note == "Signing in...")
        h.advance(seconds: 0.1)
        #expect(h.form?.note == "No answer from the hub, try again")
        #expect(h.form?.accepting == true)
        h.result(request: "signin-1")
        #expect(h.form?.note == "No answer from the hub, try again", "a late answer is ignored")
        h.type("4711")
        h.key(.enter)
        #expect(h.signInRequests.count == 2)
    }

    @Test(arguments: [ErrorCode.memberLocked, .tooManyAttempts])
    func aLockedOutMemberWaits30Seconds(code: ErrorCode) {
        var h = Harness.ready()
        h.type("M-1001")
        h.key(.tab)
        h.type("4711")
        h.key(.enter)
        h.result(request: "signin-1", error: (code, "Too many wrong PINs - try again later"))
        #expect(h.form?.note == "Too many wrong PINs - try again later")
        #expect(h.form?.accepting == false)
        h.advance(seconds: 29)
        h.type("1234")
        h.key(.enter)
        #expect(h.form?.pinLength == 0 && h.signInRequests.count == 1, "keys do nothing while blocked")
        #expect(h.core.nextWakeup(now: h.now) == h.now.monoNanos + 1_000_000_000)
        h.advance(seconds: 1)
        #expect(h.form?.accepting == true)
        #expect(h.form?.note == nil)
        h.type("1234")
        h.key(.enter)
        #expect(h.signInRequests.count == 2)
    }

    @Test func otherRefusalsDoNotBlock() {
        var h = Harness.ready()
        h.type("M-1001")
        h.key(.tab)
        h.type("4711")
        h.key(.enter)
        h.result(request: "signin-1", error: (.insufficientBalance, "Not enough balance - top up at the desk"))
        #expect(h.form?.accepting == true)
        #expect(h.form?.note == "Not enough balance - top up at the desk")
    }

    @Test func successClearsTheFormAndTheHubsUnlockStartsTheSession() {
        var h = Harness.ready()
        h.type("M-1001")
        h.key(.tab)
        h.type("4711")
        h.key(.enter)
        h.result(request: "signin-1")
        #expect(h.core.isLocked, "the result alone unlocks nothing")
        #expect(h.form?.member == "" && h.form?.pinLength == 0 && h.form?.focus == .member)
        #expect(h.form?.note == "Signed in - your session is starting")
        h.unlock(seconds: 3600, member: Harness.member)
        #expect(!h.core.isLocked)
        #expect(h.overlay?.member?.name == "Anna K.")
        // The next lock shows a blank form.
        h.lock(.stopped)
        #expect(h.form?.member == "" && h.form?.note == nil)
    }

    @Test func offlineTheFormSaysTheHubIsUnreachableAndTakesNoKeys() {
        var h = Harness.ready()
        h.type("M-1")
        h.key(.tab)
        h.type("12")
        h.send(.disconnected)
        #expect(h.form?.note == "The hub is unreachable - sign-in is not available right now")
        #expect(h.form?.accepting == false)
        #expect(h.form?.pinLength == 0, "a half-typed PIN is dropped when the form cannot take it")
        h.type("34")
        h.key(.enter)
        #expect(h.signInRequests.isEmpty)
        h.send(.connected)
        #expect(h.form?.accepting == true)
        // The hub's own status offline: same.
        h.send(.message(topic: Harness.topics.hubStatus, payload: Array("offline".utf8), retained: true))
        #expect(h.form?.accepting == false)
        #expect(h.form?.note == "The hub is unreachable - sign-in is not available right now")
    }

    @Test func aDisconnectWhileSigningInGivesUpTheRequest() {
        var h = Harness.ready()
        h.type("M-1")
        h.key(.tab)
        h.type("1234")
        h.key(.enter)
        h.send(.disconnected)
        h.send(.connected)
        #expect(h.form?.accepting == true)
        h.result(request: "signin-1", error: (.unknownMember, "late"))
        #expect(h.form?.note == nil)
    }

    @Test func pausedAndMaintenanceOfferNoForm() {
        var h = Harness.ready()
        #expect(h.form != nil)
        h.lock(.maintenance, session: nil)
        #expect(h.lockReason == .maintenance && h.form == nil)
        h.type("M-1")
        h.key(.tab)
        h.type("1234")
        h.key(.enter)
        #expect(h.signInRequests.isEmpty)
        h.unlock(seconds: 600)
        h.lock(.paused)
        #expect(h.form == nil)
        h.lock(.expired)
        #expect(h.form != nil)
    }

    @Test func aFormLeftAloneIsClearedAfterAMinute() {
        var h = Harness.ready()
        h.type("M-1001")
        h.key(.tab)
        h.type("47")
        h.advance(seconds: 59)
        #expect(h.form?.member == "M-1001")
        #expect(h.core.nextWakeup(now: h.now).map { $0 <= h.now.monoNanos + 1_000_000_000 } == true)
        h.advance(seconds: 1)
        #expect(h.form?.member == "" && h.form?.pinLength == 0)
    }

    @Test func disabledInTheConfigThereIsNoFormNoTopicAndNoSignOut() {
        var h = Harness.ready { $0.policy.signInEnabled = false }
        #expect(h.form == nil)
        #expect(!h.core.subscriptions.contains { $0.filter == Harness.topics.signInResult(Harness.station) })
        h.type("M-1")
        h.key(.tab)
        h.type("1234")
        h.key(.enter)
        #expect(h.signInRequests.isEmpty)
        h.unlock(seconds: 600, member: Harness.member)
        #expect(h.overlay?.member?.name == "Anna K.", "the member is still shown")
        #expect(h.overlay?.member?.signOut == nil)
        h.send(.input(.signOut))
        #expect(h.signInRequests.isEmpty)

        let on = Harness.ready()
        #expect(on.core.subscriptions.contains { $0.filter == Harness.topics.signInResult(Harness.station) && $0.qos == 1 })
    }
}

@Suite("Agent core: a member's session, the overlay and sign-out")
struct AgentSignOutTests {
    @Test func aDeskPaidSessionShowsNoMemberAndNoSignOut() {
        var h = Harness.ready()
        h.unlock(seconds: 600)
        #expect(h.overlay != nil && h.overlay?.member == nil)
        h.send(.input(.signOut))
        #expect(h.signInRequests.isEmpty)
    }

    @Test func theOverlayShowsTheMemberAndBalanceFromEachGrant() {
        var h = Harness.ready()
        h.unlock(seconds: 600, member: Harness.member)
        let badge = h.overlay?.member
        #expect(badge?.name == "Anna K.")
        #expect(badge?.balanceText == "12.50 EUR")
        #expect(badge?.signOut == SignOutButton(label: "Sign out", enabled: true))
        var g = h.grant(seconds: 1200)
        g.member = MemberSummary(member: "M-1001", name: "Anna K.", balance: 250, currency: "EUR", balanceText: "2.50 EUR")
        h.control(.extend(g, addedSeconds: 600))
        #expect(h.overlay?.member?.balanceText == "2.50 EUR")
        var w = h.grant(seconds: 300)
        w.member = MemberSummary(member: "M-1001", name: "Anna K.", balance: 100, currency: "EUR", balanceText: "1.00 EUR")
        h.control(.warn(w, thresholdSeconds: 300))
        #expect(h.overlay?.member?.balanceText == "1.00 EUR")
        #expect(h.overlay?.notice == "5 minutes left")
        // A grant without a member is the desk's session.
        h.unlock(seconds: 300)
        #expect(h.overlay?.member == nil)
    }

    @Test func signOutSendsOneRequestAndTheHubsLockEndsTheSession() throws {
        var h = Harness.ready()
        h.unlock(seconds: 600, member: Harness.member)
        h.send(.input(.signOut))
        let sent = h.published.filter { $0.topic == Harness.topics.signIn(Harness.station) }
        try #require(sent.count == 1)
        #expect(sent[0].qos == 1)
        let request = try SignInRequest(payload: sent[0].payload)
        #expect(request.action == .signOut && request.request == "signin-1" && request.station == Harness.station)
        #expect(h.overlay?.member?.signOut == SignOutButton(label: "Signing out...", enabled: false))
        h.send(.input(.signOut))
        #expect(h.signInRequests.count == 1, "one press, one request")
        h.result(request: "signin-1")
        #expect(!h.core.isLocked, "the result alone locks nothing: the hub's lock does")
        h.lock(.stopped)
        #expect(h.lockReason == .stopped)
        #expect(h.form?.member == "")
    }

    @Test func aRefusedSignOutIsShownOnTheOverlayAndCanBeRetried() {
        var h = Harness.ready()
        h.unlock(seconds: 600, member: Harness.member)
        h.send(.input(.signOut))
        h.result(request: "signin-1", error: (.storageFailed, "The hub could not end the session"))
        #expect(h.overlay?.notice == "The hub could not end the session")
        #expect(h.overlay?.member?.signOut?.enabled == true)
        h.send(.input(.signOut))
        h.advance(seconds: 10)
        #expect(h.overlay?.notice == "No answer from the hub, try again")
        #expect(h.signInRequests.map(\.request) == ["signin-1", "signin-2"])
        #expect(h.signInRequests.allSatisfy { $0.action == .signOut })
    }

    @Test func offlineTheSignOutButtonDoesNothing() {
        var h = Harness.ready()
        h.unlock(seconds: 600, member: Harness.member)
        h.send(.disconnected)
        #expect(h.overlay?.member?.signOut?.enabled == false)
        h.send(.input(.signOut))
        #expect(h.signInRequests.isEmpty)
    }

    @Test func keysWhileUnlockedDoNothing() {
        var h = Harness.ready()
        h.unlock(seconds: 600, member: Harness.member)
        h.type("M-1")
        h.key(.tab)
        h.type("1234")
        h.key(.enter)
        #expect(h.signInRequests.isEmpty)
        h.lock(.stopped)
        #expect(h.form?.member == "")
    }

    @Test func requestIdsUseThePrefixTheRuntimeGives() {
        let settings = AgentSettings(station: Harness.station, venueName: "V", topics: Harness.topics, version: "1")
        var core = AgentCore(settings: settings, bootID: "b", restored: .none,
                             now: AgentTime(monoNanos: 1, wallMillis: 1_700_000_000_000), requestPrefix: "k3f9 x!")
        let now = AgentTime(monoNanos: 2, wallMillis: 1_700_000_000_000)
        _ = core.handle(.connected, now: now)
        var actions: [AgentAction] = []
        for c in "M-1" { actions += core.handle(.input(.key(.character(c))), now: now) }
        actions += core.handle(.input(.key(.tab)), now: now)
        for c in "1234" { actions += core.handle(.input(.key(.character(c))), now: now) }
        actions += core.handle(.input(.key(.enter)), now: now)
        let requests = actions.compactMap { action -> SignInRequest? in
            guard case .publish(let p) = action, p.topic == Harness.topics.signIn(Harness.station) else { return nil }
            return try? SignInRequest(payload: p.payload)
        }
        #expect(requests.map(\.request) == ["k3f9x-1"])
    }
}
