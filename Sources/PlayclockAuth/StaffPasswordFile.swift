import Foundation
import HummingbirdBcrypt
import Synchronization
import PlayclockContract

/// Dashboard sign-in passwords: a text file of `account:bcrypt-hash` lines, one account a line,
/// like Mosquitto's password file. Roles are not kept here: they come from the hub's `roles`
/// setting, the same map that governs MQTT requests, so an account has one role everywhere.
///
/// Only bcrypt hashes are stored (cost 12 by default). The file is rewritten atomically
/// (temporary file, fsync, rename) with mode 0600, so a crash never leaves half a file.
public struct StaffPasswordFile: Sendable, Equatable {
    /// account -> bcrypt hash
    public private(set) var hashes: [String: String]

    public init(hashes: [String: String] = [:]) {
        self.hashes = hashes
    }

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// bcrypt reads at most 72 bytes: a longer password would be silently cut, so it is refused.
    public static let passwordBytes = 8...72
    public static let defaultCost: UInt8 = 12

    // MARK: - Reading and writing

    /// Reads a password file. Blank lines and `#` comments are skipped; anything else that is not
    /// `account:$2b$...` is an error naming the line, so a damaged file is never half-used.
    public static func read(_ path: String) throws(Error) -> StaffPasswordFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Error("cannot read dashboard password file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Error("dashboard password file \(path) is not UTF-8 text")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(Error) -> StaffPasswordFile {
        var hashes: [String: String] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw Error("\(source) line \(index + 1): expected account:hash")
            }
            let account = String(line[..<colon])
            let hash = String(line[line.index(after: colon)...])
            guard isValidAccount(account) else {
                throw Error("\(source) line \(index + 1): account must be 1-64 of A-Z a-z 0-9 _ - .")
            }
            guard isBcryptHash(hash) else {
                throw Error("\(source) line \(index + 1): \(account)'s password is not a bcrypt hash")
            }
            guard hashes[account] == nil else { throw Error("\(source) line \(index + 1): \(account) appears twice") }
            hashes[account] = hash
        }
        return StaffPasswordFile(hashes: hashes)
    }

    public var text: String {
        hashes.keys.sorted().map { "\($0):\(hashes[$0]!)\n" }.joined()
    }

    /// Writes the file atomically. A new file gets mode 0600; a replaced file keeps its mode, owner
    /// and group (so a file installed as root:playclock 0640 stays readable by the hub).
    public func write(to path: String) throws(Error) {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let bytes = Array(text.utf8)
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw Error("cannot write \(temporary.path): \(String(cString: strerror(errno)))") }
        var existing = stat()
        if stat(path, &existing) == 0 {
            _ = fchmod(fd, existing.st_mode & 0o7777)
            if getuid() == 0 { _ = fchown(fd, existing.st_uid, existing.st_gid) }
        }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                close(fd)
                unlink(temporary.path)
                throw Error("cannot write \(temporary.path): \(String(cString: strerror(errno)))")
            }
            written += n
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary.path, path) == 0 else {
            unlink(temporary.path)
            throw Error("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - Accounts

    /// Sets (or replaces) an account's password.
    public mutating func setPassword(_ password: String, for account: String, cost: UInt8 = defaultCost) throws(Error) {
        guard Self.isValidAccount(account) else { throw Error("account must be 1-64 of A-Z a-z 0-9 _ - .") }
        try Self.checkNewPassword(password)
        guard (4...31).contains(cost) else { throw Error("bcrypt cost must be 4...31") }
        hashes[account] = Bcrypt.hash(password, cost: cost)
    }

    /// Returns whether the account existed.
    @discardableResult
    public mutating func remove(_ account: String) -> Bool {
        hashes.removeValue(forKey: account) != nil
    }

    /// Whether `password` is the account's. Every answer costs exactly one bcrypt comparison at the
    /// cost the file's hashes use: an unknown account and an over-long password (bcrypt reads 72
    /// bytes at most, so such a password is never right) are checked against a fixed hash of that
    /// cost, so timing does not tell which accounts exist or why a sign-in failed.
    public func verify(_ password: String, for account: String) -> Bool {
        verify(password, for: account, bcrypt: { Bcrypt.verify($0, hash: $1) })
    }

    /// `verify` with the comparison injected (tests count the comparisons and their cost).
    func verify(_ password: String, for account: String, bcrypt: (_ password: String, _ hash: String) -> Bool) -> Bool {
        guard let hash = hashes[account], password.utf8.count <= Self.passwordBytes.upperBound else {
            _ = bcrypt(Self.dummyPassword, Self.timingDummy(cost: dummyCost))
            return false
        }
        return bcrypt(password, hash)
    }

    /// The cost a refusal is checked at: the highest cost among the file's hashes (they normally
    /// all share one), or the default for an empty file.
    var dummyCost: UInt8 {
        hashes.values.compactMap(Self.cost(of:)).max() ?? Self.defaultCost
    }

    /// The cost of a `$2b$12$...` hash.
    static func cost(of hash: String) -> UInt8? {
        let bytes = Array(hash.utf8)
        guard bytes.count >= 7, let cost = UInt8(String(decoding: bytes[4..<6], as: UTF8.self)), (4...31).contains(cost) else {
            return nil
        }
        return cost
    }

    public static func checkNewPassword(_ password: String) throws(Error) {
        guard passwordBytes.contains(password.utf8.count) else {
            throw Error("a dashboard password must be \(passwordBytes.lowerBound) to \(passwordBytes.upperBound) bytes")
        }
        guard !password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Error("a dashboard password must not contain control characters (newlines, tabs)")
        }
    }

    /// Same rule as the hub's staff account names (MQTT usernames).
    public static func isValidAccount(_ name: String) -> Bool { AccountName.isValid(name) }

    static func isBcryptHash(_ hash: String) -> Bool {
        let bytes = Array(hash.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"), bytes[3] == UInt8(ascii: "$") else {
            return false
        }
        return [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2])
    }

    /// A hash of a random string nobody knows, made once per cost, for refusals that cost the
    /// same time as a real comparison. `dummyPassword` is never its password.
    static func timingDummy(cost: UInt8) -> String {
        if let hash = dummies.withLock({ $0[cost] }) { return hash }
        let secret = (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 36) }.joined()
        let hash = Bcrypt.hash(secret, cost: cost)
        return dummies.withLock { table in
            if let existing = table[cost] { return existing }
            table[cost] = hash
            return hash
        }
    }

    static let dummyPassword = "not-the-password"
    private static let dummies = Mutex<[UInt8: String]>([:])
}
