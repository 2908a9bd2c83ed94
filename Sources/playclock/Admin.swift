import ArgumentParser
import Foundation
import PlayclockContract
import PlayclockCore
import PlayclockHub

/// Commands run on the hub box itself, against its files rather than over MQTT.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker", abstract: "Generate the broker's ACL and manage broker accounts (run on the hub box).",
        subcommands: [ACL.self, Passwd.self])

    struct ACL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write Mosquitto's ACL file from the station registry and the staff roles.",
            discussion: """
                Agents get the account named after their station id, plugs the account named after \
                their Tasmota topic, Shelly id or Shelly Gen2 prefix, staff the accounts listed under \
                "roles" in the hub's config. Reload Mosquitto afterwards (systemctl reload mosquitto).
                """)
        @Option(help: "The hub's SQLite database (the live station registry).") var database: String?
        @Option(help: "Or a venue file, before the hub has ever run.") var venue: String?
        @Option(help: "The hub's config file (for roles and topic root).") var config: String?
        @Option(help: "The hub's broker account (default playclock-hub).") var hubAccount: String = "playclock-hub"
        @Option(help: "A read-only account that may read every topic (repeatable).") var monitor: [String] = []
        @Option(help: "Write here instead of standard output (replaced atomically).") var out: String?

        func run() throws {
            var settings = HubConfiguration()
            if let config {
                do { try settings.apply(configFile: config) } catch { throw ValidationError(error.description) }
            }
            guard AccountName.isValid(hubAccount), monitor.allSatisfy(AccountName.isValid) else {
                throw ValidationError("account names must be 1-64 of A-Z a-z 0-9 _ - .")
            }
            guard let topics = TopicScheme(root: settings.topicRoot) else { throw ValidationError("invalid topic root") }
            let stations: [Station]
            switch (database, venue) {
            case (let database?, nil):
                guard FileManager.default.fileExists(atPath: database) else { throw ValidationError("no database at \(database)") }
                let store = try HubStore(path: database)
                defer { store.close() }
                stations = try store.stations()
            case (nil, let venue?):
                do { stations = try HubConfiguration.readVenue(venue) } catch { throw ValidationError(error.description) }
            default:
                throw ValidationError("give --database or --venue")
            }
            let text: String
            do {
                text = try BrokerACL.render(
                    topics: topics, stations: stations, staff: settings.access.roles, hubAccount: hubAccount,
                    rpcSource: topics.rpcSource, monitors: monitor)
            } catch {
                throw ValidationError(error.description)
            }
            if let out {
                try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
                print("wrote \(out)")
            } else {
                print(text, terminator: "")
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or change a broker account (wraps mosquitto_passwd).",
            discussion: "Without --password-file a random password is generated and printed once.")
        @Argument(help: "Account name: 1-64 of A-Z a-z 0-9 _ - .") var account: String
        @Option(help: "Mosquitto password file (created if missing).") var file: String = "/etc/mosquitto/playclock.passwd"
        @Option(help: "File whose first line is the password to set.") var passwordFile: String?
        @Option(help: "mosquitto_passwd to run.") var tool: String = "/usr/bin/mosquitto_passwd"

        func validate() throws {
            guard AccountName.isValid(account) else { throw ValidationError("account must be 1-64 of A-Z a-z 0-9 _ - .") }
        }

        func run() throws {
            let password: String
            if let passwordFile {
                do { password = try HubConfiguration.readPassword(passwordFile) } catch { throw ValidationError(error.description) }
            } else {
                password = randomSecret(length: 24)
            }
            let create = !FileManager.default.fileExists(atPath: file)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = (create ? ["-c"] : []) + ["-b", file, account, password]
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw ExitCode(process.terminationStatus) }
            print(passwordFile == nil ? "\(account) \(password)" : "\(account) updated")
        }
    }
}

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Back up or check the hub's database (run on the hub box).", subcommands: [Backup.self, Check.self])

    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a consistent copy of the live database while the hub runs.",
            discussion: """
                To restore: stop playclockd, copy the backup over the database file, delete the \
                database's -wal and -shm files, start playclockd.
                """)
        @Option(help: "The hub's SQLite database.") var database: String
        @Option(help: "Backup file to create (must not exist).") var out: String

        func run() throws {
            guard FileManager.default.fileExists(atPath: database) else { throw ValidationError("no database at \(database)") }
            guard !FileManager.default.fileExists(atPath: out) else { throw ValidationError("\(out) exists; choose a new file") }
            let store = try HubStore(path: database)
            defer { store.close() }
            try store.backup(to: out)
            print("backed up \(database) to \(out)")
        }
    }
}

extension DatabaseCommand {
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the hub's database without changing it.",
            discussion: """
                Opens the file read-only (nothing is migrated or written; the hub may keep running), \
                runs SQLite's integrity check and validates every station, session and event row as \
                playclockd does when it starts, then the money invariants: every member's balance equals \
                the sum of their ledger entries and is not below zero, every sale's entries move its \
                amount, every session charge equals its priced segments, refunds never exceed their \
                sale, a sale is voided at most once, every ended balance or pay-later session was \
                charged once. Prints one problem a line, then a summary. A damaged \
                station or running session stops playclockd from starting; damaged ended sessions and \
                events do not, but are listed too. What to do about each: docs/deployment.md, \
                "Damaged database". Exit status: 0 clean, 1 damaged, 2 no database at that path.
                """)
        @Option(help: "The hub's SQLite database.") var database: String
        @Flag(help: "Print the report as JSON.") var json = false

        func run() throws {
            guard FileManager.default.fileExists(atPath: database) else {
                FileHandle.standardError.write(Data("no database at \(database)\n".utf8))
                throw ExitCode(2)
            }
            let report: StoreCheckReport
            do {
                let store = try HubStore(path: database, readOnly: true)
                defer { store.close() }
                report = store.check()
            } catch {
                var failed = StoreCheckReport(database: database)
                failed.problems = ["cannot open the file: \(error)"]
                report = failed
            }
            print(json ? Self.json(report) : Self.text(report))
            if !report.isClean { throw ExitCode(1) }
        }

        static func text(_ r: StoreCheckReport) -> String {
            var lines = r.problems
            lines += r.damagedRows.map { "\($0) [\($0.table) rowid \($0.rowID)]" }
            lines += r.notes.map { "note: \($0)" }
            let counts = "schema \(r.schemaVersion), \(r.stations) stations, \(r.sessions) sessions (\(r.runningSessions) running), \(r.events) events, \(r.members) members, \(r.sales) sales, \(r.ledgerEntries) ledger entries"
            if r.isClean {
                lines.append("ok: \(r.database): \(counts)")
            } else {
                let blocking = r.damagedRows.filter(\.blocksStart).count
                var summary = "damaged: \(r.database): \(r.problems.count) file problem(s), \(r.damagedRows.count) damaged row(s)"
                if blocking > 0 { summary += ", \(blocking) of them stop playclockd from starting" }
                lines.append(summary + " (\(counts)); see docs/deployment.md, \"Damaged database\"")
            }
            return lines.joined(separator: "\n")
        }

        static func json(_ r: StoreCheckReport) -> String {
            let rows: [JSONValue] = r.damagedRows.map { row in
                [
                    "table": .string(row.table), "rowid": .int(row.rowID), "id": JSONValue(row.id), "row": .string(row.label),
                    "reason": .string(row.reason), "blocks_start": .bool(row.blocksStart),
                ]
            }
            let value: JSONValue = [
                "database": .string(r.database), "ok": .bool(r.isClean), "schema_version": .int(Int64(r.schemaVersion)),
                "latest_schema_version": .int(Int64(r.latestSchemaVersion)), "problems": .array(r.problems.map(JSONValue.string)),
                "damaged_rows": .array(rows), "notes": .array(r.notes.map(JSONValue.string)),
                "counts": [
                    "stations": .int(Int64(r.stations)), "sessions": .int(Int64(r.sessions)),
                    "running_sessions": .int(Int64(r.runningSessions)), "events": .int(Int64(r.events)),
                    "members": .int(Int64(r.members)), "sales": .int(Int64(r.sales)), "ledger_entries": .int(Int64(r.ledgerEntries)),
                ],
            ]
            return String(decoding: JSONCoding.encode(value), as: UTF8.self)
        }
    }
}

/// A random secret from the system's generator, without look-alike characters (0/O, 1/l/I).
func randomSecret(length: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
}
