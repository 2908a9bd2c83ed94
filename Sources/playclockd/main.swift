import ArgumentParser
import Foundation
import Logging
import PlayclockHub
import PlayclockWeb

@main
struct PlayclockDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playclockd",
        abstract: "The Playclock hub: the one authority over paid time in a gaming venue.",
        discussion: """
            Connects to the venue's MQTT broker, keeps every station's state and every session timer \
            durably in SQLite, and publishes lock/unlock, warnings, countdowns and retained station \
            states. Staff talk to it through the request topics (see topics.md), the `playclock` CLI or \
            the web dashboard it serves (--http, default http://127.0.0.1:8080/, with /board for a wall \
            TV, /healthz and Prometheus /metrics).

            Settings come from defaults, then --config FILE (JSON), then these flags. \
            SIGTERM or SIGINT stops it gracefully (hub/status becomes "offline"). If a stored station \
            or running session is damaged it does not start: it names every damaged row and exits \
            with status 3 (see `playclock db check`).

            Requests are answered only on the sender's own response topics (an MQTT v5 Response \
            Topic elsewhere is refused), retained requests are refused and cleared, repeated refusals \
            are stored once per 10 s with a count, and events are kept per the config's "events" \
            section. Under a heartbeat flood only redundant heartbeats are shed (/metrics).

            Money: the config's "pricing" section (currency, timezone, plans, packages, tiers; see \
            samples/pricing.json) seeds a database without prices; sales, top-ups, session charges, \
            refunds and voids are append-only ledger entries in the same transaction as what they pay \
            for, and money requests with a "transaction" id are applied once.

            Counter: the config's "counter" section (prices_include_tax, taxes per category in \
            percent, cash_requires_shift, venue_name, venue_address) governs baskets (sale/create), \
            products and cash shifts (shift/open, shift/close with its stored Z report).
            """)

    @Option(name: .long, help: "JSON config file (keys: broker, tls_ca_file, username, password_file, database, topic_root, venue, client_id, roles, shared_topic_role, http, events, policy, pricing, counter).")
    var config: String?

    @Option(name: .long, help: "Broker URL, mqtt://HOST:PORT or mqtts://HOST:PORT for TLS (default mqtt://127.0.0.1:1883).")
    var broker: String?

    @Option(name: .long, help: "CA certificate that signed the broker's TLS certificate (default: the system's CAs).")
    var tlsCaFile: String?

    @Option(name: .long, help: "Broker username.")
    var username: String?

    @Option(name: .long, help: "Broker password (prefer --password-file: arguments are visible to other users).")
    var password: String?

    @Option(name: .long, help: "File whose first line is the broker password.")
    var passwordFile: String?

    @Option(name: .long, help: "SQLite database file (default ./playclock.sqlite). Created and migrated if needed.")
    var database: String?

    @Option(name: .long, help: "Root of every Playclock topic (default playclock).")
    var topicRoot: String?

    @Option(name: .long, help: "Venue file to import stations from at start: {\"stations\":[{\"station\":\"PC-01\",\"name\":\"PC 01\",\"kind\":\"pc\"}]}. Existing stations are kept as they are.")
    var venue: String?

    @Option(name: .long, help: "MQTT client id (default playclockd).")
    var clientId: String?

    @Option(name: .long, help: "Dashboard listen address HOST:PORT, or off (default 127.0.0.1:8080; 0.0.0.0:8080 for the venue LAN).")
    var http: String?

    @Option(name: .long, help: "Dashboard password file of account:bcrypt lines, made with `playclock dashboard passwd` (roles come from the config's roles).")
    var dashboardUsers: String?

    @Option(name: .long, help: "File whose first line is the wall board's read-only token (/board?token=...).")
    var boardTokenFile: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (default info).")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if password != nil && passwordFile != nil {
            throw ValidationError("give --password or --password-file, not both")
        }
    }

    func run() async throws {
        var settings = HubConfiguration()
        do {
            if let config { try settings.apply(configFile: config) }
            if let passwordFile { settings.password = try HubConfiguration.readPassword(passwordFile) }
        } catch {
            throw ValidationError(error.description)
        }
        if let broker { settings.brokerURL = broker }
        if let username { settings.username = username }
        if let password { settings.password = password }
        if let database { settings.databasePath = database }
        if let topicRoot { settings.topicRoot = topicRoot }
        if let venue { settings.venueFile = venue }
        if let clientId { settings.clientID = clientId }
        if let tlsCaFile { settings.tlsCAFile = tlsCaFile }
        if let dashboardUsers { settings.http.usersFile = dashboardUsers }
        if let boardTokenFile { settings.http.boardTokenFile = boardTokenFile }
        if let http {
            do { try settings.setHTTPListen(http) } catch { throw ValidationError(error.description) }
        }

        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "playclockd")
        let group = try Self.refusingDamagedDatabase(settings, logger: logger) {
            try PlayclockServer.buildApplication(settings, logger: logger)
        }
        try await group.run()
    }

    /// Exit status when the database has damaged rows (systemd: `RestartPreventExitStatus=3`).
    static let damagedDatabaseExitStatus: Int32 = 3

    /// A damaged station or running session stops the start: the hub never forgets a paid session
    /// quietly. Reported as one critical log line and the plain list of rows on standard error
    /// (one row a line, readable in the journal), then exit status 3.
    static func refusingDamagedDatabase<T>(_ settings: HubConfiguration, logger: Logger, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as HubStoreError {
            logger.critical(
                "refusing to start: the database has damaged rows",
                metadata: ["database.path": "\(settings.databasePath)", "database.damaged_rows": "\(error.rows.count)"])
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(damagedDatabaseExitStatus)
        }
    }
}
