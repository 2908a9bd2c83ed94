import PlayclockContract
import PlayclockCore

/// The brake on password guessing, decided before any password is hashed. Pure: every call is
/// given the time (monotonic nanoseconds), so the policy is tested with a manual clock.
///
/// - Per client address: `freeFailures` wrong tries, then each further failure makes the address
///   wait, doubling from `firstDelay` up to `maxDelay`; an address that stays quiet for
///   `forgetAfter`, or signs in, starts afresh. Attempts in flight count as tries: an address may
///   have at most `perAddressInFlight` passwords being checked at once, and never more than its
///   remaining free tries, so a burst of simultaneous guesses gets a couple of comparisons and a
///   `429` for the rest.
/// - Per account (any name asked for, existing or not, so the answer does not tell them apart):
///   at most `perAccountInFlight` checks at once, and a budget of `accountBurst` attempts refilled
///   one per `accountRefill`. An empty budget refuses only addresses that have failed recently:
///   someone signing in from an address with no recent failures is never locked out by guesses
///   made from elsewhere.
/// - Overall: at most `maxInFlight` checks at once (bcrypt is slow on purpose).
///
/// Every table is bounded (`maxTracked` entries) and pruned of entries that carry no state.
struct SignInThrottle: Sendable {
    struct Limits: Sendable, Equatable {
        var freeFailures = 5
        var firstDelay: Int64 = 1 * Self.second
        var maxDelay: Int64 = 300 * Self.second
        var forgetAfter: Int64 = 1800 * Self.second
        var perAddressInFlight = 2
        var perAccountInFlight = 4
        var accountBurst = 10
        var accountRefill: Int64 = 6 * Self.second
        var maxInFlight = 16
        var maxTracked = 4096
        /// How often idle entries are swept out (also whenever a table is full).
        var pruneEvery: Int64 = 60 * Self.second

        static let second: Int64 = 1_000_000_000
    }

    /// An admitted attempt; hand it back to `finish` once the password has been checked.
    struct Ticket: Sendable, Equatable {
        let address: String
        let account: String
    }

    enum Refusal: Error, Sendable, Equatable {
        /// This address failed too often; it may try again after the wait.
        case address(retryAfterNanos: Int64)
        /// Too many attempts for this account at once or in a short time.
        case account(retryAfterNanos: Int64)
        /// Too many passwords being checked at this moment.
        case busy

        var retryAfterSeconds: Int {
            switch self {
            case .address(let nanos), .account(let nanos): return max(1, Int((nanos + Limits.second - 1) / Limits.second))
            case .busy: return 1
            }
        }
    }

    struct AddressState: Sendable, Equatable {
        var failures = 0
        var lastFailure: Int64 = 0
        var blockedUntil: Int64 = 0
        var inFlight = 0
    }

    struct AccountState: Sendable, Equatable {
        var tokens: Double
        var updated: Int64
        var inFlight = 0
    }

    let limits: Limits
    private(set) var addresses: [String: AddressState] = [:]
    private(set) var accounts: [String: AccountState] = [:]
    private(set) var inFlight = 0
    private var lastPrune: Int64?

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Decides whether this attempt may have its password checked. Admitted attempts count at once.
    mutating func admit(address: String, account rawAccount: String, now: Int64) -> Result<Ticket, Refusal> {
        let account = Self.accountKey(rawAccount)
        if lastPrune.map({ now - $0 >= limits.pruneEvery }) ?? true { prune(now: now) }
        guard inFlight < limits.maxInFlight else { return .failure(.busy) }

        var a = addresses[address] ?? AddressState()
        forgetIfQuiet(&a, now: now)
        if a.blockedUntil > now { return .failure(.address(retryAfterNanos: a.blockedUntil - now)) }
        let allowed = a.failures >= limits.freeFailures
            ? 1 : min(limits.perAddressInFlight, limits.freeFailures - a.failures)
        guard a.inFlight < allowed else { return .failure(.address(retryAfterNanos: limits.firstDelay)) }

        var c = accounts[account] ?? AccountState(tokens: Double(limits.accountBurst), updated: now)
        refill(&c, now: now)
        guard c.inFlight < limits.perAccountInFlight else { return .failure(.account(retryAfterNanos: limits.firstDelay)) }
        if c.tokens >= 1 {
            c.tokens -= 1
        } else if a.failures > 0 {
            let wait = Int64((1 - c.tokens) * Double(limits.accountRefill))
            return .failure(.account(retryAfterNanos: max(wait, 1)))
        }

        guard makeRoom(forAddress: address, account: account, now: now) else { return .failure(.busy) }
        a.inFlight += 1
        c.inFlight += 1
        addresses[address] = a
        accounts[account] = c
        inFlight += 1
        return .success(Ticket(address: address, account: account))
    }

    /// Records how an admitted attempt ended. `succeeded` only for a real sign-in: a refusal for
    /// any reason (wrong password, no such account, no role) counts as a failure.
    mutating func finish(_ ticket: Ticket, succeeded: Bool, now: Int64) {
        inFlight = max(0, inFlight - 1)
        if var c = accounts[ticket.account] {
            c.inFlight = max(0, c.inFlight - 1)
            accounts[ticket.account] = c
        }
        var a = addresses[ticket.address] ?? AddressState()
        a.inFlight = max(0, a.inFlight - 1)
        if succeeded {
            a.failures = 0
            a.blockedUntil = 0
        } else {
            forgetIfQuiet(&a, now: now)
            a.failures += 1
            a.lastFailure = now
            if a.failures >= limits.freeFailures {
                a.blockedUntil = now + delay(afterFailures: a.failures)
            }
        }
        addresses[ticket.address] = a
    }

    /// Ends an admitted attempt that was never judged (the password file could not be read).
    mutating func abandon(_ ticket: Ticket) {
        inFlight = max(0, inFlight - 1)
        if var c = accounts[ticket.account] {
            c.inFlight = max(0, c.inFlight - 1)
            c.tokens = min(Double(limits.accountBurst), c.tokens + 1)
            accounts[ticket.account] = c
        }
        if var a = addresses[ticket.address] {
            a.inFlight = max(0, a.inFlight - 1)
            addresses[ticket.address] = a
        }
    }

    /// The wait imposed after the `failures`-th failure in a row: `firstDelay`, doubling, capped.
    func delay(afterFailures failures: Int) -> Int64 {
        let doublings = failures - limits.freeFailures
        guard doublings >= 0 else { return 0 }
        var wait = limits.firstDelay
        for _ in 0..<min(doublings, 62) {
            wait *= 2
            if wait >= limits.maxDelay { return limits.maxDelay }
        }
        return min(wait, limits.maxDelay)
    }

    // MARK: - Tables

    /// Names that cannot be accounts share one entry, so junk names cannot grow the table (and a
    /// valid name is tracked the same whether it exists or not).
    static func accountKey(_ account: String) -> String {
        AccountName.isValid(account) ? account : ""
    }

    private func forgetIfQuiet(_ a: inout AddressState, now: Int64) {
        if a.failures > 0, a.inFlight == 0, now - a.lastFailure >= limits.forgetAfter, a.blockedUntil <= now {
            a.failures = 0
            a.blockedUntil = 0
        }
    }

    private func refill(_ c: inout AccountState, now: Int64) {
        guard now > c.updated else { return }
        c.tokens = min(Double(limits.accountBurst), c.tokens + Double(now - c.updated) / Double(limits.accountRefill))
        c.updated = now
    }

    /// Drops entries that carry nothing: no check in flight, no failures left to remember, a
    /// full budget.
    mutating func prune(now: Int64) {
        lastPrune = now
        addresses = addresses.filter { _, a in
            var a = a
            forgetIfQuiet(&a, now: now)
            return a.inFlight > 0 || a.failures > 0 || a.blockedUntil > now
        }
        accounts = accounts.filter { _, c in
            var c = c
            refill(&c, now: now)
            return c.inFlight > 0 || c.tokens < Double(limits.accountBurst)
        }
    }

    /// Makes sure both entries fit. When a table is full of live entries, the one idle longest
    /// (nothing in flight) is dropped; with every entry busy the attempt is refused.
    private mutating func makeRoom(forAddress address: String, account: String, now: Int64) -> Bool {
        if addresses[address] == nil, addresses.count >= limits.maxTracked {
            prune(now: now)
            if addresses.count >= limits.maxTracked {
                guard let oldest = addresses.filter({ $0.value.inFlight == 0 })
                    .min(by: { $0.value.lastFailure < $1.value.lastFailure })?.key
                else { return false }
                addresses[oldest] = nil
            }
        }
        if accounts[account] == nil, accounts.count >= limits.maxTracked {
            prune(now: now)
            if accounts.count >= limits.maxTracked {
                guard let oldest = accounts.filter({ $0.value.inFlight == 0 }).min(by: { $0.value.updated < $1.value.updated })?.key
                else { return false }
                accounts[oldest] = nil
            }
        }
        return true
    }
}
