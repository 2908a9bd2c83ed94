import Foundation
import HummingbirdBcrypt
import PlayclockAuth
import PlayclockContract
import PlayclockCore
import Synchronization
import Testing

@testable import PlayclockAuth
@testable import PlayclockHub
@testable import PlayclockWeb

private let second = SignInThrottle.Limits.second

/// Limits where only the per-address brake matters (the account budget never runs out).
private let addressOnly: SignInThrottle.Limits = {
    var limits = SignInThrottle.Limits()
    limits.accountBurst = 1_000_000
    return limits
}()

/// The policy alone, with time given explicitly (no clock is read).
@Suite struct SignInThrottleTests {
    /// One attempt, judged at once.
    @discardableResult
    private func attempt(_ t: inout SignInThrottle, _ address: String, _ account: String = "max", at now: Int64, succeeds: Bool = false)
        -> Result<SignInThrottle.Ticket, SignInThrottle.Refusal>
    {
        let result = t.admit(address: address, account: account, now: now)
        if case .success(let ticket) = result { t.finish(ticket, succeeded: succeeds, now: now) }
        return result
    }

    private func isAdmitted(_ r: Result<SignInThrottle.Ticket, SignInThrottle.Refusal>) -> Bool {
        if case .success = r { return true }
        return false
    }

    @Test func freeTriesThenDoublingWaitsUpToTheCap() {
        var t = SignInThrottle(limits: addressOnly)
        var now: Int64 = 0
        for _ in 0..<5 { #expect(isAdmitted(attempt(&t, "10.0.0.9", at: now))) }
        // The fifth failure starts the waits: 1 s, then 2, 4, 8 ... capped at 300 s.
        var expected: Int64 = 1
        for _ in 0..<12 {
            #expect(attempt(&t, "10.0.0.9", at: now + expected * second - 1) == .failure(.address(retryAfterNanos: 1)))
            now += expected * second
            #expect(isAdmitted(attempt(&t, "10.0.0.9", at: now)))
            expected = min(expected * 2, 300)
        }
        #expect(expected == 300)
        #expect(t.delay(afterFailures: 100) == 300 * second)
        // The refusal tells when to come back.
        if case .failure(let refusal) = t.admit(address: "10.0.0.9", account: "max", now: now + 10 * second) {
            #expect(refusal.retryAfterSeconds == 290)
        } else {
            Issue.record("expected a refusal")
        }
    }

    @Test func aSuccessResetsTheAddressAndSoDoesQuietTime() {
        var t = SignInThrottle(limits: addressOnly)
        for _ in 0..<5 { attempt(&t, "10.0.0.9", at: 0) }
        #expect(!isAdmitted(attempt(&t, "10.0.0.9", at: 0)))
        #expect(isAdmitted(attempt(&t, "10.0.0.9", at: 1 * second, succeeds: true)))
        for _ in 0..<5 { #expect(isAdmitted(attempt(&t, "10.0.0.9", at: 2 * second))) }  // free tries again

        var u = SignInThrottle(limits: addressOnly)
        for _ in 0..<5 { attempt(&u, "10.0.0.7", at: 0) }
        #expect(isAdmitted(attempt(&u, "10.0.0.7", at: 100 * second)))  // sixth failure: waits 2 s
        #expect(!isAdmitted(attempt(&u, "10.0.0.7", at: 101 * second)))
        let later = 100 * second + u.limits.forgetAfter
        for _ in 0..<5 { #expect(isAdmitted(attempt(&u, "10.0.0.7", at: later))) }
        #expect(!isAdmitted(attempt(&u, "10.0.0.7", at: later)))
    }

    @Test func attemptsInFlightCountBeforeAnyPasswordIsChecked() {
        var t = SignInThrottle(limits: addressOnly)
        var admitted: [SignInThrottle.Ticket] = []
        for _ in 0..<61 {
            if case .success(let ticket) = t.admit(address: "10.0.0.9", account: "max", now: 0) { admitted.append(ticket) }
        }
        #expect(admitted.count == 2)
        for ticket in admitted { t.finish(ticket, succeeded: false, now: 0) }
        // Two failures recorded, three free tries left, at most two at once.
        var next: [SignInThrottle.Ticket] = []
        for _ in 0..<10 {
            if case .success(let ticket) = t.admit(address: "10.0.0.9", account: "max", now: 0) { next.append(ticket) }
        }
        #expect(next.count == 2)
        for ticket in next { t.finish(ticket, succeeded: false, now: 0) }
        // One free try left: one at a time.
        var last: [SignInThrottle.Ticket] = []
        for _ in 0..<10 {
            if case .success(let ticket) = t.admit(address: "10.0.0.9", account: "max", now: 0) { last.append(ticket) }
        }
        #expect(last.count == 1)
    }

    @Test func guessesFromOneAddressDoNotLockTheAccountForAnotherDevice() {
        var t = SignInThrottle()
        var now: Int64 = 0
        for _ in 0..<200 {
            attempt(&t, "10.0.0.66", "max", at: now)
            now += 100_000_000
        }
        #expect(isAdmitted(attempt(&t, "10.0.0.20", "max", at: now, succeeds: true)))
    }

    @Test func anAccountsBudgetStopsAddressesThatFailedButNotCleanOnes() {
        var t = SignInThrottle()
        // Many attackers, each with one failure: the account's budget of 10 runs out.
        var refused = 0
        for i in 0..<30 {
            if !isAdmitted(attempt(&t, "10.0.1.\(i)", "max", at: 0)) { refused += 1 }
        }
        #expect(refused == 0)  // first tries from clean addresses always pass
        for i in 0..<30 {
            if !isAdmitted(attempt(&t, "10.0.1.\(i)", "max", at: second)) { refused += 1 }
        }
        #expect(refused == 30)  // the budget is spent: addresses that failed wait
        #expect(isAdmitted(attempt(&t, "10.0.2.1", "max", at: second, succeeds: true)))  // a clean device still signs in
        // Other accounts have their own budget.
        #expect(isAdmitted(attempt(&t, "10.0.1.1", "ann", at: second)))
        // Refills with time.
        #expect(isAdmitted(attempt(&t, "10.0.1.2", "max", at: second + t.limits.accountRefill)))
    }

    @Test func anAccountHasABoundedNumberOfChecksInFlight() {
        var t = SignInThrottle()
        var admitted = 0
        for i in 0..<10 {
            if case .success = t.admit(address: "10.0.3.\(i)", account: "max", now: 0) { admitted += 1 }
        }
        #expect(admitted == t.limits.perAccountInFlight)
        #expect(t.inFlight == t.limits.perAccountInFlight)
    }

    @Test func unknownAndKnownNamesAreTrackedAlikeAndJunkNamesShareOneEntry() {
        var t = SignInThrottle()
        for i in 0..<100 { attempt(&t, "10.0.4.\(i)", String(repeating: "x", count: 70) + "\(i)", at: Int64(i)) }
        #expect(t.accounts.count == 1)
        #expect(SignInThrottle.accountKey("eve") == "eve")
    }

    @Test func tablesAreBoundedAndPruned() {
        var limits = SignInThrottle.Limits()
        limits.maxTracked = 8
        var t = SignInThrottle(limits: limits)
        for i in 0..<100 { attempt(&t, "10.1.0.\(i)", "user\(i)", at: Int64(i)) }
        #expect(t.addresses.count <= 8)
        #expect(t.accounts.count <= 8)
        let quiet = limits.forgetAfter + 100 * second
        t.prune(now: quiet)
        #expect(t.addresses.isEmpty)
        #expect(t.accounts.isEmpty)
    }

    @Test func aCapOnChecksInFlightOverall() {
        var limits = SignInThrottle.Limits()
        limits.maxInFlight = 3
        var t = SignInThrottle(limits: limits)
        var admitted = 0
        for i in 0..<10 {
            if case .success = t.admit(address: "10.2.0.\(i)", account: "user\(i)", now: 0) { admitted += 1 }
        }
        #expect(admitted == 3)
        #expect(t.admit(address: "10.2.0.99", account: "ann", now: 0) == .failure(.busy))
    }

    @Test func clientKeysGroupAnIPv6AddressByItsSlash64() throws {
        #expect(WebContext.clientKey(try .init(ipAddress: "192.168.1.20", port: 5000)) == "192.168.1.20")
        let a = WebContext.clientKey(try .init(ipAddress: "2001:db8:1:2:aaaa::1", port: 1))
        let b = WebContext.clientKey(try .init(ipAddress: "2001:db8:1:2:bbbb::77", port: 2))
        #expect(a == b)
        #expect(a == "2001:db8:1:2::/64")
        #expect(WebContext.clientKey(try .init(ipAddress: "::ffff:10.0.0.5", port: 1)) == "10.0.0.5")
        #expect(WebContext.clientKey(nil) == "unknown")
    }
}

/// Counts the password checks `StaffSessions` asks for.
final class CountingVerifier: Sendable {
    private let calls = Mutex<[String]>([])
    var accounts: [String] { calls.withLock { $0 } }
    var count: Int { calls.withLock { $0.count } }

    var verifier: @Sendable (StaffPasswordFile, String, String) async -> Bool {
        { [self] file, account, password in
            calls.withLock { $0.append(account) }
            return file.verify(password, for: account)
        }
    }
}

@Suite struct StaffSessionsTests {
    let directory: URL
    let usersFile: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("playclock-sessions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var accounts = StaffPasswordFile()
        for account in ["ann", "nobody"] { try accounts.setPassword("correct horse", for: account, cost: 4) }
        usersFile = directory.appendingPathComponent("dashboard.passwd").path
        try accounts.write(to: usersFile)
    }

    private func sessions(_ clock: ManualHubClock, _ counter: CountingVerifier) -> StaffSessions {
        StaffSessions(roles: ["ann": .cashier], usersFile: usersFile, boardToken: nil, lifetime: .seconds(3600), clock: clock,
                      logger: quietLogger, verifier: counter.verifier)
    }

    @Test func everyRefusedPasswordReadsTheSameAndCostsOneCheck() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualHubClock(), counter = CountingVerifier()
        let s = sessions(clock, counter)
        var answers: [SignInError] = []
        for (i, (account, password)) in [
            ("ann", "wrong horse"), ("eve", "correct horse"), ("ann", String(repeating: "correct horse ", count: 10)),
            ("nobody", "correct horse"),
        ].enumerated() {
            // Each from its own address: the comparison is about the answers, not the brake.
            guard case .failure(let error) = await s.signIn(account: account, password: password, from: "10.0.0.\(i)") else {
                Issue.record("\(account) signed in")
                continue
            }
            answers.append(error)
        }
        #expect(answers.count == 4)
        #expect(Set(answers.map(\.message)).count == 1)
        #expect(answers.allSatisfy { $0 == SignInError.invalidCredentials })
        #expect(counter.accounts == ["ann", "eve", "ann", "nobody"])
    }

    @Test func theBackoffIsTimedByTheInjectedClock() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualHubClock(), counter = CountingVerifier()
        let s = sessions(clock, counter)
        for _ in 0..<5 { _ = await s.signIn(account: "ann", password: "wrong horse", from: "10.0.0.9") }
        guard case .failure(let refused) = await s.signIn(account: "ann", password: "correct horse", from: "10.0.0.9") else {
            Issue.record("signed in during the wait")
            return
        }
        #expect(refused.code == .throttled)
        #expect(refused.retryAfterSeconds == 1)
        #expect(counter.count == 5)  // the refused try was not hashed
        clock.advance(seconds: 1)
        guard case .success = await s.signIn(account: "ann", password: "correct horse", from: "10.0.0.9") else {
            Issue.record("not signed in after the wait")
            return
        }
        #expect(counter.count == 6)
    }

    @Test func sessionsExpireOnTheInjectedClock() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualHubClock(), counter = CountingVerifier()
        let s = sessions(clock, counter)
        guard case .success(let (token, _)) = await s.signIn(account: "ann", password: "correct horse", from: "10.0.0.1") else {
            Issue.record("no sign-in")
            return
        }
        clock.advance(seconds: 3599)
        #expect(await s.identity(session: token)?.account == "ann")  // and extended
        clock.advance(seconds: 3599)
        #expect(await s.identity(session: token) != nil)
        clock.advance(seconds: 3601)
        #expect(await s.identity(session: token) == nil)
    }
}

@Suite struct PasswordCheckCostTests {
    /// Every path through `verify` makes exactly one bcrypt comparison at the file's own cost:
    /// timing parity by construction (no timing is measured).
    @Test func everyPathComparesOnceAtTheFilesCost() throws {
        var file = StaffPasswordFile()
        try file.setPassword("correct horse", for: "ann", cost: 5)
        for (account, password, expected) in [
            ("ann", "correct horse", true), ("ann", "wrong horse", false), ("eve", "correct horse", false),
            ("ann", String(repeating: "correct horse ", count: 10), false), ("ann", "correct horse" + String(repeating: " ", count: 80), false),
        ] {
            var costs: [UInt8?] = []
            let ok = file.verify(password, for: account) { password, hash in
                costs.append(StaffPasswordFile.cost(of: hash))
                return Bcrypt.verify(password, hash: hash)
            }
            #expect(ok == expected, "\(account) \(password.utf8.count) bytes")
            #expect(costs == [5], "\(account) \(password.utf8.count) bytes")
        }
        #expect(StaffPasswordFile.cost(of: "$2b$12$" + String(repeating: "a", count: 53)) == 12)
    }
}
