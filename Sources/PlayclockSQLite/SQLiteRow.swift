/// One result row: column names (from `sqlite3_column_name`) and their values, in result order.
public struct SQLiteRow: Sendable {
    public let columns: [String]
    public let values: [SQLiteValue]

    public init(columns: [String], values: [SQLiteValue]) {
        precondition(columns.count == values.count, "SQLiteRow: columns and values differ in length")
        self.columns = columns
        self.values = values
    }

    /// Whether the row has a column with this exact name.
    public func hasColumn(_ column: String) -> Bool {
        columns.contains(column)
    }

    /// The value of the first column with this exact name; `.null` if there is no such column.
    public subscript(_ column: String) -> SQLiteValue {
        guard let index = columns.firstIndex(of: column) else { return .null }
        return values[index]
    }

    /// The value at a result position.
    public subscript(_ index: Int) -> SQLiteValue {
        values[index]
    }

    public func int(_ column: String) -> Int64? { self[column].int64Value }
    public func double(_ column: String) -> Double? { self[column].doubleValue }
    public func string(_ column: String) -> String? { self[column].stringValue }
    public func bool(_ column: String) -> Bool? { self[column].boolValue }
    public func blob(_ column: String) -> [UInt8]? { self[column].blobValue }
}
