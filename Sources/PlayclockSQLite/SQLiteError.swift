import CSQLite

/// An error reported by SQLite or by this wrapper's own checks.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// Primary result code (e.g. `SQLITE_CONSTRAINT`, `SQLITE_ERROR`, `SQLITE_MISUSE`).
    public let code: Int32
    /// Extended result code (e.g. `SQLITE_CONSTRAINT_UNIQUE`); equals `code` when none is available.
    public let extendedCode: Int32
    public let message: String
    /// The SQL being executed, when the error relates to a statement.
    public let sql: String?

    public init(code: Int32, extendedCode: Int32? = nil, message: String, sql: String? = nil) {
        self.code = code
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.sql = sql
    }

    public var description: String {
        var text = "SQLite error \(code)"
        if extendedCode != code { text += " (extended \(extendedCode))" }
        text += ": \(message)"
        if let sql { text += " [SQL: \(sql)]" }
        return text
    }
}
