import Foundation
import PlayclockAuth
import PlayclockCore

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
    public enum Code: String, Sendable { case invalidCredentials = "invalid_credentials", noRole = "forbidden", throttled = "too_many_attempts", unavailable = "sign_in_unavailable" }
    public var code: Code
    public var message: String
}

/// Signed-in staff: random session tokens (kept in memory, so a hub restart signs everybody out)
/// with a sliding expiry, plus a per-account brake on password guessing.
///
/// Passwords live in the bcrypt password file (`playclock dashboard passwd`), re-read on every
/// sign-in so a change takes effect at once; roles come from the hub's `roles` setting.
public actor StaffSessions {
    private struct Session {
        var account: String
        var role: StaffRole
        var expires: ContinuousClock.Instant
    }

    private struct Failures {
        var count = 0
        var lockedUntil: ContinuousClock.Instant?
    }

    private let roles: [String: StaffRole]
    private let usersFile: String?
    private let boardToken: String?
    private let lifetime: Duration
    private let verifier: @Sendable (StaffPasswordFile, String, String) async -> Bool
    private var sessions: [String: Session] = [:]
    private var failures: [String: Failures] = [:]

    /// Failed attempts in a row after which an account is refused for `lockout`.
    static let maxFailures = 5
    static let lockout: Duration = .seconds(60)
    static let maxSessions = 10_000

    /// `verifier` checks a password against the file (bcrypt is slow on purpose: the server runs
    /// it off the event loop).
    public init(
        roles: [String: StaffRole], usersFile: String?, boardToken: String?, lifetime: Duration,
        verifier: @escaping @Sendable (StaffPasswordFile, String, String) async -> Bool = { file, account, password in
            file.verify(password, for: account)
        }
    ) {
        self.roles = roles
        self.usersFile = usersFile
        self.boardToken = boardToken
        self.lifetime = lifetime
        self.verifier = verifier
    }

    /// Checks the account's password and role; on success returns a new session token.
    public func signIn(account: String, password: String) async -> Result<(token: String, identity: StaffIdentity), SignInError> {
        let now = ContinuousClock.now
        guard let usersFile else {
            return .failure(SignInError(code: .unavailable, message: "dashboard sign-in is not set up on this hub (http.users_file)"))
        }
        if let locked = failures[account]?.lockedUntil, locked > now {
            let seconds = Int(((locked - now) / .seconds(1)).rounded(.up))
            return .failure(SignInError(code: .throttled, message: "too many wrong passwords for \(account); try again in \(seconds) s"))
        }
        let file: StaffPasswordFile
        do {
            file = try StaffPasswordFile.read(usersFile)
        } catch {
            return .failure(SignInError(code: .unavailable, message: "the hub cannot read its dashboard password file: \(error.description)"))
        }
        guard await verifier(file, account, password) else {
            var f = failures[account] ?? Failures()
            f.count += 1
            if f.count >= Self.maxFailures {
                f.count = 0
                f.lockedUntil = ContinuousClock.now + Self.lockout
            }
            // Only accounts that exist are tracked: guesses at random names cannot grow the table.
            if file.hashes[account] != nil { failures[account] = f }
            return .failure(SignInError(code: .invalidCredentials, message: "wrong account or password"))
        }
        failures[account] = nil
        guard let role = roles[account] else {
            return .failure(SignInError(code: .noRole, message: "account \(account) has no staff role on this hub (roles in the hub's config)"))
        }
        prune(now: ContinuousClock.now)
        if sessions.count >= Self.maxSessions, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires })?.key {
            sessions[oldest] = nil
        }
        let token = Self.newToken()
        sessions[token] = Session(account: account, role: role, expires: ContinuousClock.now + lifetime)
        return .success((token, StaffIdentity(account: account, role: role, kind: .staff)))
    }

    /// The signed-in staff member a session token belongs to; each use extends the session.
    public func identity(session token: String) -> StaffIdentity? {
        let now = ContinuousClock.now
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

    private func prune(now: ContinuousClock.Instant) {
        sessions = sessions.filter { $0.value.expires > now }
        failures = failures.filter { ($0.value.lockedUntil ?? now) > now || $0.value.count > 0 }
    }

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
