import PlayclockSQLite
import Testing

@Suite("Values")
struct SQLiteValueTests {
    let scratch: Scratch

    init() throws {
        scratch = try Scratch()
    }

    @Test func everyValueTypeRoundTrips() throws {
        let values: [SQLiteValue] = [
            .null,
            .integer(0), .integer(-1), .integer(Int64.max), .integer(Int64.min),
            .real(3.25), .real(-1e300), .real(0.1),
            .text(""), .text("plain"), .text("héllo wörld 🏈 日本語 ✓"), .text("nul\u{0}inside"),
            .blob([]), .blob([0, 1, 2, 255]), .blob([0]),
        ]
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        for (index, value) in values.enumerated() {
            try db.run("INSERT INTO t (id, v) VALUES (?, ?)", [SQLiteValue(index), value])
        }
        let rows = try db.query("SELECT v, typeof(v) AS type FROM t ORDER BY id")
        #expect(rows.map { $0["v"] } == values)
        #expect(rows[0].string("type") == "null")
        #expect(rows[8].string("type") == "text")
        #expect(rows[12].string("type") == "blob")
    }

    @Test func typedAccessors() throws {
        let db = try scratch.open()
        let row = try #require(
            try db.queryOne(
                "SELECT ? AS i, ? AS r, ? AS s, ? AS b, ? AS yes, ? AS no, ? AS n",
                [42, 2.5, "text", .blob([9, 8]), true, false, nil]))
        #expect(row.int("i") == 42)
        #expect(row.double("i") == 42.0)
        #expect(row.double("r") == 2.5)
        #expect(row.int("r") == nil)
        #expect(row.string("s") == "text")
        #expect(row.string("i") == nil)
        #expect(row.blob("b") == [9, 8])
        #expect(row.bool("yes") == true)
        #expect(row.bool("no") == false)
        #expect(row["n"] == .null)
        #expect(row.int("n") == nil)
        #expect(row["missing"] == .null)
        #expect(row.hasColumn("i") && !row.hasColumn("missing"))
        #expect(row.columns == ["i", "r", "s", "b", "yes", "no", "n"])
        #expect(row[0] == .integer(42))
    }

    @Test func convenienceInitialisersBindAsExpected() throws {
        let absentInt: Int? = nil
        let absentString: String? = nil
        let absentBool: Bool? = nil
        let absentDouble: Double? = nil
        let absentInt64: Int64? = nil
        let absentBlob: [UInt8]? = nil
        let converted: [SQLiteValue] = [
            SQLiteValue(7), SQLiteValue(Int64(8)), SQLiteValue(1.5), SQLiteValue("s"), SQLiteValue(true),
            SQLiteValue([1, 2] as [UInt8]), SQLiteValue(Int?(3)), SQLiteValue(String?("x")),
            SQLiteValue(absentInt), SQLiteValue(absentString), SQLiteValue(absentBool),
            SQLiteValue(absentDouble), SQLiteValue(absentInt64), SQLiteValue(absentBlob),
        ]
        #expect(converted == [
            .integer(7), .integer(8), .real(1.5), .text("s"), .integer(1),
            .blob([1, 2]), .integer(3), .text("x"),
            .null, .null, .null, .null, .null, .null,
        ])
        let literals: [SQLiteValue] = [nil, 5, 0.5, "lit", false]
        #expect(literals == [.null, .integer(5), .real(0.5), .text("lit"), .integer(0)])

        let db = try scratch.open()
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        for (index, value) in (converted + literals).enumerated() {
            try db.run("INSERT INTO t VALUES (?, ?)", [SQLiteValue(index), value])
        }
        let read = try db.query("SELECT v FROM t ORDER BY id").map { $0["v"] }
        #expect(read == converted + literals)
    }
}
