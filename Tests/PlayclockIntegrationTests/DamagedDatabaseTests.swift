import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// `playclock db check` and `playclockd` on a real hub database damaged by hand with `sqlite3`:
/// the check names every damaged row, the hub refuses to start (before it ever goes online) and
/// changes nothing, and the documented hand fix brings the paid session back.
@Suite(.serialized)
struct DamagedDatabaseTests {
    func sqlite(_ database: String, _ sql: String) throws -> String {
        let result = try runTool("/usr/bin/sqlite3", [database, sql])
        guard result.status == 0 else { throw ChildProcessError(description: "sqlite3 failed: \(result.output)") }
        return result.output
    }

    func check(_ database: String, json: Bool = false) throws -> (output: String, status: Int32) {
        try runTool(binaryPath("playclock"), ["db", "check", "--database", database] + (json ? ["--json"] : []))
    }

    @Test func dbCheckNamesTheDamageAndTheHubRefusesToStartOnIt() async throws {
        let h = try await HubHarness()
        let started = try await h.request("session/start", ["station": "PC-01", "minutes": 60])
        #expect(started["status"] == "ok")
        let session = try #require(started["data"]?["session"]?["id"]?.stringValue)
        h.killHub()

        // Clean: exit 0, a summary line.
        let clean = try check(h.database)
        #expect(clean.status == 0, "\(clean.output)")
        #expect(clean.output.contains("ok: \(h.database): schema 6, 4 stations, 1 sessions (1 running)"), "\(clean.output)")
        let cleanJSON = try check(h.database, json: true)
        #expect(cleanJSON.status == 0)
        #expect(try JSONCoding.decode(Array(cleanJSON.output.utf8))["ok"] == true)

        // Damaged by hand: the paid session's station row is gone, another station's kind is invalid.
        _ = try sqlite(h.database, "DELETE FROM stations WHERE id = 'PC-01'; UPDATE stations SET kind = 'Big PC' WHERE id = 'PC-02';")
        let dumpBefore = try sqlite(h.database, ".dump")
        let damaged = try check(h.database)
        #expect(damaged.status == 1, "\(damaged.output)")
        let lines = damaged.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix(#"station PC-02: kind "Big PC" is not a valid kind"#) }, "\(damaged.output)")
        #expect(lines.contains { $0.hasPrefix("session \(session): station PC-01 does not exist [sessions rowid ") }, "\(damaged.output)")
        #expect(lines.last?.hasPrefix("damaged: \(h.database): 0 file problem(s), 2 damaged row(s), 2 of them stop playclockd from starting") == true,
                "\(damaged.output)")
        let damagedJSON = try check(h.database, json: true)
        #expect(damagedJSON.status == 1)
        let report = try JSONCoding.decode(Array(damagedJSON.output.utf8))
        #expect(report["ok"] == false)
        guard case .array(let rows)? = report["damaged_rows"] else {
            Issue.record("no damaged_rows in \(damagedJSON.output)")
            return
        }
        #expect(Set(rows.compactMap { $0["row"]?.stringValue }) == ["station PC-02", "session \(session)"])

        // The hub refuses to start: it names every damaged row, never goes online, changes nothing
        // (not even the venue import, which would re-add PC-01).
        let mark = h.recorder.count
        let refused = try ChildProcess(
            binaryPath("playclockd"),
            arguments: [
                "--broker", h.broker.url, "--database", h.database, "--config", h.directory.appendingPathComponent("config.json").path,
                "--venue", h.directory.appendingPathComponent("venue.json").path, "--http", "off",
            ])
        let status = await refused.waitForExit(timeout: .seconds(20))
        #expect(status == 3, "\(refused.output)")
        let output = refused.output
        #expect(output.contains("refusing to start: the database has damaged rows"), "\(output)")
        #expect(output.contains("database \(h.database) has 2 damaged rows; refusing to use it"), "\(output)")
        #expect(output.contains("\n  session \(session): station PC-01 does not exist\n"), "\(output)")
        #expect(output.contains(#"  station PC-02: kind "Big PC" is not a valid kind"#), "\(output)")
        #expect(output.contains("playclock db check --database \(h.database)"), "\(output)")
        #expect(!output.contains("HubStoreError"), "plain text, not a Swift dump: \(output)")
        #expect(!h.recorder.records().dropFirst(mark).contains { $0.topic == "playclock/hub/status" && $0.payload == "online" })
        #expect(try sqlite(h.database, ".dump") == dumpBefore)

        // The documented hand fix: put the station back, correct the kind; then the hub starts and
        // the paid session is still there.
        _ = try sqlite(h.database, """
            INSERT INTO stations (id, name, kind) VALUES ('PC-01', 'PC-01', 'pc'); UPDATE stations SET kind = 'pc' WHERE id = 'PC-02';
            """)
        #expect(try check(h.database).status == 0)
        try await h.startHub()
        let state = try #require(try h.retainedState("PC-01"))
        #expect(state["session"]?["id"] == .string(session), "\(state)")
    }

    @Test func dbCheckOnAMissingFileCreatesNothing() throws {
        let directory = try makeTemporaryDirectory(prefix: "dbcheck")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("none.sqlite").path
        let result = try check(path)
        #expect(result.status == 2)
        #expect(result.output.contains("no database at \(path)"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
