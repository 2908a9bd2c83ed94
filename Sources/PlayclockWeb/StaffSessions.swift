import Foundation
import Logging
import PlayclockAuth
import PlayclockContract
import PlayclockCore
import PlayclockHub

/// Who is asking, once the dashboard has recognised them.
public struct StaffIdentity: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A staff account signed in with its password; may send the commands its role allows.
        case staff
        /// The wall board's read-only token: sees the floor, sends nothing.
        case board
    }

    public var account: String
    public var role: StaffRole
    public var kind: Kind
}

/// Why a sign-in was refused. The message is shown to staff as it is.
public struct SignInError: Error, Sendable, Equatable {
    public enum Code: Sendable {
        case invalidCredentials, throttled, unavailable

        /// The code the client sees.
        public var errorCode: ErrorCode {
            switch self {
            case .invalidCredentials: return .invalidCredentials
            case .throttled: return .tooManyAttempts
            case .unavailable: return .signInUnavailable
            }
        }
    }
    public var code: Code
    public var message: String
    /// For `throttled`: when to try again (the `Retry-After` header).
    public var retryAfterSeconds: Int?

    /// The one answer to every refused password: wrong password, unknown account, over-long
    /// password, account without a role. Nothing in it tells them apart.
    static let invalidCredentials = SignInError(code: .invalidCredentials, message: "wrong account or password")
}

/// Signed-in staff: random session tokens (kept in memory, so a hub restart signs everybody out)
/// with a sliding expiry, plus the brake on password guessing (`SignInThrottle`).
///
/// Passwords live in the bcrypt password file (`playclock dashboard passwd`), re-read on every
/// sign-in so a change takes effect at once; roles come from the hub's `roles` setting.
/// Every refusal after the throttle costs exactly one bcrypt comparison and gets the same answer.
public actor StaffSessions {
    private struct Session {
        var account: String
        var role: StaffRole
        var expires: Int64
    }

    /// Refusals counted between two log lines (never one line per guess).
    private struct RefusalTally {
        var wrongPassword = 0
        var unknownAccount = 0
        var noRole = 0
        var throttled = 0
        var lastLog: Int64?
        var total: Int { wrongPassword + unknownAccount + noRole + throttled }
    }

    private let roles: [String: StaffRole]
    private let usersFile: String?
    private let boardToken: String?
    private let lifetime: Int64
    private let clock: any HubClock
    private let logger: Logger
    private let verifier: @Sendable (StaffPasswordFile, String, String) async -> Bool
    private var sessions: [String: Session] = [:]
    private var throttle: SignInThrottle
    private var tally = RefusalTally()

    static let maxSessions = 10_000
    static let logInterval: Int64 = 60 * SignInThrottle.Limits.second

    /// `verifier` checks a password against the file (bcrypt is slow on purpose: the server runs
    /// it off the event loop). `clock` is read for session expiry and the throttle (monotonic).
    public init(
        roles: [String: StaffRole], usersFile: String?, boardToken: String?, lifetime: Duration,
        clock: any HubClock = SystemClock(), logger: Logger = Logger(label: "playclock.web"),
        verifier: @escaping @Sendable (StaffPasswordFile, String, String) async -> Bool = { file, account, password in
            file.verify(password, for: account)
        }
    ) {
        self.init(roles: roles, usersFile: usersFile, boardToken: boardToken, lifetime: lifetime, clock: clock, logger: logger,
                  limits: SignInThrottle.Limits(), verifier: verifier)
    }

    init(
        roles: [String: StaffRole], usersFile: String?, boardToken: String?, lifetime: Duration, clock: any HubClock,
        logger: Logger, limits: SignInThrottle.Limits,
        verifier: @escaping @Sendable (StaffPasswordFile, String, String) async -> Bool
    ) {
        self.roles = roles
        self.usersFile = usersFile
        self.boardToken = boardToken
        self.lifetime = lifetime.components.seconds * 1_000_000_000 + lifetime.components.attoseconds / 1_000_000_000
        self.clock = clock
        self.logger = logger
        self.throttle = SignInThrottle(limits: limits)
        self.verifier = verifier
    }

    private var now: Int64 { clock.now().monoNanos }

    /// Checks the account's password and role; on success returns a new session token.
    /// `address` is the client's (`WebContext.clientKey`): the throttle counts attempts per
    /// address and per account before any password is hashed.
    public func signIn(account: String, password: String, from address: String) async
        -> Result<(token: String, identity: StaffIdentity), SignInError>
    {
        guard let usersFile else {
            return .failure(SignInError(code: .unavailable, message: "dashboard sign-in is not set up on this hub (http.users_file)"))
        }
        let ticket: SignInThrottle.Ticket
        switch throttle.admit(address: address, account: account, now: now) {
        case .success(let admitted):
            ticket = admitted
        case .failure(let refusal):
            count(\.throttled)
            let seconds = refusal.retryAfterSeconds
            let message = switch refusal {
            case .address: "too many failed sign-ins from this device; try again in \(seconds) s"
            case .account: "too many sign-in attempts for this account right now; try again in \(seconds) s"
            case .busy: "the hub is checking too many sign-ins at once; try again in \(seconds) s"
            }
            return .failure(SignInError(code: .throttled, message: message, retryAfterSeconds: seconds))
        }
        let file: StaffPasswordFile
        do {
            file = try StaffPasswordFile.read(usersFile)
        } catch {
            throttle.abandon(ticket)
            return .failure(SignInError(code: .unavailable, message: "the hub cannot read its dashboard password file: \(error.description)"))
        }
        // Exactly one bcrypt comparison whatever the account (the file checks a fixed hash of the
        // same cost for unknown accounts and over-long passwords), and the role is looked at only
        // afterwards: every refusal costs the same and reads the same.
        let matches = await verifier(file, account, password)
        let role = roles[account]
        guard matches, let role else {
            throttle.finish(ticket, succeeded: false, now: now)
            if !matches { count(file.hashes[account] == nil ? \.unknownAccount : \.wrongPassword) } else { count(\.noRole) }
            return .failure(.invalidCredentials)
        }
        throttle.finish(ticket, succeeded: true, now: now)
        prune(now: now)
        if sessions.count >= Self.maxSessions, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires })?.key {
            sessions[oldest] = nil
        }
        let token = Self.newToken()
        sessions[token] = Session(account: account, role: role, expires: now + lifetime)
        return .success((token, StaffIdentity(account: account, role: role, kind: .staff)))
    }

    /// Counts a refusal and, at most once a minute, logs what was refused since the last line.
    private func count(_ reason: WritableKeyPath<RefusalTally, Int>) {
        tally[keyPath: reason] += 1
        let now = self.now
        if let last = tally.lastLog, now - last < Self.logInterval { return }
        logger.warning("dashboard sign-ins refused", metadata: [
            "signin.refused.wrong_password": "\(tally.wrongPassword)", "signin.refused.unknown_account": "\(tally.unknownAccount)",
            "signin.refused.no_role": "\(tally.noRole)", "signin.refused.throttled": "\(tally.throttled)",
            "signin.tracked.addresses": "\(throttle.addresses.count)",
        ])
        tally = RefusalTally(lastLog: now)
    }

    /// The signed-in staff member a session token belongs to; each use extends the session.
    public func identity(session token: String) -> StaffIdentity? {
        let now = self.now
        guard var session = sessions[token] else { return nil }
        guard session.expires > now else {
            sessions[token] = nil
            return nil
        }
        session.expires = now + lifetime
        sessions[token] = session
        return StaffIdentity(account: session.account, role: session.role, kind: .staff)
    }

    /// The wall board, when the token is the configured one.
    public nonisolated func identity(boardToken candidate: String) -> StaffIdentity? {
        guard let boardToken, Self.constantTimeEqual(Array(candidate.utf8), Array(boardToken.utf8)) else { return nil }
        return StaffIdentity(account: "board", role: .viewer, kind: .board)
    }

    public func signOut(session token: String) {
        sessions[token] = nil
    }

    public var count: Int { sessions.count }

    private func prune(now: Int64) {
        sessions = sessions.filter { $0.value.expires > now }
    }

    /// The throttle's tables (tests look at their size).
    var throttleState: SignInThrottle { throttle }

    /// 32 random bytes from the system's generator, hex.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }.joined()
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
