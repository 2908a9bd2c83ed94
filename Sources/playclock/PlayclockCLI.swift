import ArgumentParser
import Foundation
import Logging
import PlayclockContract
import PlayclockMQTT

@main
struct Playclock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playclock",
        abstract: "Staff and ops command line for the Playclock hub.",
        discussion: """
            Station, session and plug commands are requests on <root>/hub/request/<verb> (with \
            --username: on the account's own <root>/users/<account>/request/<verb>, where the hub \
            applies the account's role); the answer is matched by its transaction id. broker, db and \
            dashboard work on the hub box's own files. Connection options \
            (--broker, --username, ...) go after the subcommand; PLAYCLOCK_BROKER sets the default \
            broker. Exit status: 0 ok, 1 refused by the hub, 2 no answer (hub or broker unreachable).

            Examples:
              playclock stations
              playclock session start PC-01 --minutes 60
              playclock session extend PC-01 --minutes 15
              playclock session transfer PC-01 PC-02
              playclock station maintenance PC-03 on
              playclock station update PC-09 --zone "VIP room"
              playclock station message PC-01 "Your pizza is ready"
              playclock station restart PC-04
              playclock plug power PS5-01 on
              playclock price quote PC-01 --minutes 90
              playclock session start PC-01 --package 3h --pay cash
              playclock session start PC-01 --member m-1001
              playclock member add m-1001 --name "Ann" --tier gold
              playclock member topup m-1001 20.00 --method card
              playclock sale refund 42 --amount 2.50 --reason "left early"
              playclock dashboard passwd ann --file /etc/playclock/dashboard.passwd
            """,
        subcommands: [
            Stations.self, StationCommand.self, SessionCommand.self, PlugCommand.self, PricingShow.self, PriceCommand.self,
            RateCommand.self, PackageCommand.self, TierCommand.self, MemberCommand.self, SaleCommand.self, ProductCommand.self,
            SellCommand.self, ShiftCommand.self, RawRequest.self,
            BrokerCommand.self, DatabaseCommand.self, DashboardCommand.self,
        ])
}

struct Connection: ParsableArguments {
    @Option(name: .long, help: "Broker URL (default $PLAYCLOCK_BROKER, else mqtt://127.0.0.1:1883).")
    var broker: String = ProcessInfo.processInfo.environment["PLAYCLOCK_BROKER"] ?? "mqtt://127.0.0.1:1883"
    @Option(name: .long, help: "CA certificate for an mqtts:// broker (default: the system's CAs).")
    var cafile: String?
    @Option(name: .long, help: "Broker username.")
    var username: String?
    @Option(name: .long, help: "Broker password.")
    var password: String?
    @Option(name: .long, help: "File whose first line is the broker password.")
    var passwordFile: String?
    @Option(name: .long, help: "Topic root (default playclock).")
    var topicRoot: String = "playclock"
    @Option(name: .long, help: "Seconds to wait for the hub's answer (default 5).")
    var timeout: Int = 5
    @Flag(name: .long, help: "Print the hub's answer as JSON.")
    var json = false
    @Option(name: .long, help: "Transaction id to send (default: a new one). Repeat it to retry a money request safely: the hub applies it once.")
    var transaction: String?

    /// Sends one request and prints the answer. Exits 1 when the hub refuses, 2 when nobody answers.
    func send(_ verb: Verb, _ body: [String: JSONValue], render: (JSONValue) -> String) async throws {
        try await send(verb.rawValue, body, render: render)
    }

    /// Any verb, as typed (`playclock request`): the hub answers `unknown_verb` for one it does not know.
    func send(_ verb: String, _ body: [String: JSONValue], render: (JSONValue) -> String) async throws {
        try await send(verb, body, render: render, printing: true)
    }

    func send(_ verb: Verb, _ body: [String: JSONValue], render: (JSONValue) -> String, printing: Bool) async throws {
        try await send(verb.rawValue, body, render: render, printing: printing)
    }

    func send(_ verb: String, _ body: [String: JSONValue], render: (JSONValue) -> String, printing: Bool) async throws {
        guard let topics = TopicScheme(root: topicRoot) else { throw ValidationError("invalid --topic-root") }
        var config = try MQTTClientConfiguration(url: broker, clientID: "playclock-cli-\(UUID().uuidString.prefix(8))")
        config.username = username
        config.password = password
        if let cafile { config.tlsCAFile = cafile }
        if let passwordFile {
            do {
                config.password = try MQTTClientConfiguration.password(fromFile: passwordFile)
            } catch {
                throw ValidationError(error.description)
            }
        }
        var logger = Logger(label: "playclock")
        logger.logLevel = .error
        let client = MQTTClient(configuration: config, logger: logger)
        defer { client.stop() }
        // With an account, requests go on the account's own topics: the broker's ACL vouches for
        // who sent them, and the hub applies the account's role.
        let requestTopic = username.map { topics.userRequest($0, verb) } ?? topics.request(verb)
        let responseTopic = username.map { topics.userResponse($0, verb) } ?? topics.response(verb)
        client.subscribe(try MQTTTopicFilter(responseTopic), qos: .atLeastOnce)
        client.start()
        guard await client.waitUntilConnected(timeout: .seconds(timeout)) else {
            fail("cannot reach the broker at \(broker)", code: 2)
        }
        let transaction = self.transaction ?? UUID().uuidString.lowercased()
        var request = body
        request["transaction"] = .string(transaction)
        client.publish(try MQTTTopic(requestTopic), payload: JSONCoding.encode(.object(request)), qos: .atLeastOnce)

        let answer = await withTaskGroup(of: JSONValue?.self) { group in
            group.addTask {
                for await event in client.events {
                    if case .message(let m) = event, let reply = try? JSONCoding.decode(m.payload),
                        reply["transaction"] == .string(transaction)
                    {
                        return reply
                    }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(timeout))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let answer else { fail("no answer from the hub within \(timeout) s (is playclockd running?)", code: 2) }
        if answer["status"] == "ok" {
            let data = answer["data"] ?? .null
            let text = json ? String(decoding: JSONCoding.encode(data), as: UTF8.self) : render(data)
            if printing { print(text) }
        } else {
            if json { print(String(decoding: JSONCoding.encode(answer), as: UTF8.self)) }
            let code = answer["error"]?["code"]?.stringValue ?? "error"
            let message = answer["error"]?["message"]?.stringValue ?? "refused"
            fail("\(code): \(message)", code: 1)
        }
    }

    private func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("playclock: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

// MARK: - Rendering

enum Render {
    static func duration(_ seconds: Int64) -> String {
        let h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }

    static func stationLine(_ state: JSONValue) -> String {
        let id = state["station"]?.stringValue ?? "?"
        let status = state["status"]?.stringValue ?? "?"
        guard let session = state["session"], session != .null else { return "\(id) \(status)" }
        let left = duration(session["remaining_s"]?.intValue ?? 0)
        let ends = session["ends_at"]?.stringValue.map { ", ends \($0)" } ?? ""
        return "\(id) \(status), \(left) left\(ends) (session \(session["id"]?.stringValue ?? "?"))"
    }

    /// `tasmota on 64W`, `shelly2 off`, `tasmota on held` (powered by hand), `tasmota ? ALARM offline`, or `-`.
    static func plug(_ value: JSONValue?) -> String {
        guard let plug = value, plug != .null else { return "-" }
        var parts = [plug["type"]?.stringValue ?? "?"]
        switch plug["power"] {
        case .bool(true)?: parts.append("on")
        case .bool(false)?: parts.append("off")
        default: parts.append("?")
        }
        if let watts = plug["watts"]?.doubleValue { parts.append("\(Int(watts.rounded()))W") }
        if plug["hold"] == .bool(true) { parts.append("held") }
        if let alarm = plug["alarm"]?.stringValue { parts.append("ALARM \(alarm)") }
        return parts.joined(separator: " ")
    }

    static func table(_ data: JSONValue) -> String {
        guard case .array(let stations)? = data["stations"] else { return "" }
        var rows = [["STATION", "NAME", "KIND", "ZONE", "ONLINE", "STATUS", "LEFT", "ENDS AT", "PLUG"]]
        for s in stations {
            let session = s["session"].flatMap { $0 == .null ? nil : $0 }
            let online: String
            switch s["online"] {
            case .bool(true)?: online = "yes"
            case .bool(false)?: online = "no"
            default: online = "-"
            }
            rows.append([
                s["station"]?.stringValue ?? "?", s["name"]?.stringValue ?? "", s["kind"]?.stringValue ?? "",
                s["zone"]?.stringValue ?? "-", online,
                s["status"]?.stringValue ?? "", session.map { duration($0["remaining_s"]?.intValue ?? 0) } ?? "-",
                session?["ends_at"]?.stringValue ?? "-", plug(s["plug"]),
            ])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}

// MARK: - Commands

struct Stations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every station's live state.")
    @OptionGroup var connection: Connection
    func run() async throws { try await connection.send(.stationList, [:], render: Render.table) }
}

struct StationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "station",
        abstract: "Add, remove, show stations, put them in maintenance, or send a PC an order.",
        discussion: """
            logout, shutdown, restart and message are one-off orders to a PC's agent (role manager). \
            The hub sends each once, online or not: an agent that is offline never gets it. The \
            answer names the order's command id; the agent's report of it appears in the events \
            (agent.order_done or agent.order_failed).
            """,
        subcommands: [Add.self, Update.self, Remove.self, Get.self, Maintenance.self, Logout.self, Shutdown.self, Restart.self, Message.self])

    /// Sends an order and prints `PC-01: shutdown sent (command <id>)`.
    static func order(_ verb: Verb, _ body: [String: JSONValue], _ connection: Connection) async throws {
        try await connection.send(verb, body) { data in
            let station = data["station"]?.stringValue ?? "?"
            return "\(station): \(data["action"]?.stringValue ?? verb.rawValue) sent (command \(data["command"]?.stringValue ?? "?"))"
        }
    }

    struct Logout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Log the desktop user out of a PC (its agent runs its logout command).")
        @Argument var station: String
        @OptionGroup var connection: Connection
        func run() async throws { try await StationCommand.order(.stationLogout, ["station": .string(station)], connection) }
    }

    struct Shutdown: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Shut a PC down.")
        @Argument var station: String
        @OptionGroup var connection: Connection
        func run() async throws { try await StationCommand.order(.stationShutdown, ["station": .string(station)], connection) }
    }

    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restart a PC.")
        @Argument var station: String
        @OptionGroup var connection: Connection
        func run() async throws { try await StationCommand.order(.stationRestart, ["station": .string(station)], connection) }
    }

    struct Message: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a message on a PC's screen.",
            discussion: "The text is trimmed and must then be 1-280 characters, without control characters other than line breaks.")
        @Argument var station: String
        @Argument(help: "The text to show (quote it).") var text: String
        @OptionGroup var connection: Connection
        func run() async throws {
            try await StationCommand.order(.stationMessage, ["station": .string(station), "text": .string(text)], connection)
        }
    }

    /// Parses a `--plug` value: a JSON object, or `none` to unbind (update only).
    static func plugValue(_ text: String, allowNone: Bool) throws -> JSONValue {
        if allowNone, text == "none" { return .null }
        guard let value = try? JSONCoding.decode(Array(text.utf8)), value.objectValue != nil else {
            throw ValidationError(#"--plug must be a JSON object such as '{"type":"tasmota","topic":"ps5-plug-1"}'"# + (allowNone ? " or none" : ""))
        }
        return value
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a station (id: 1-64 of A-Z a-z 0-9 _ -).")
        @Argument var station: String
        @Option(help: "Display name (default: the id).") var name: String?
        @Option(help: "Kind: pc, console, ... (default pc).") var kind: String = "pc"
        @Option(help: #"Smart plug binding as JSON, e.g. '{"type":"tasmota","topic":"ps5-plug-1"}' (see topics.md)."#)
        var plug: String?
        @Option(help: #"Zone on the floor, e.g. "VIP room" (1-32 characters)."#) var zone: String?
        @OptionGroup var connection: Connection
        func run() async throws {
            var body: [String: JSONValue] = ["station": .string(station), "kind": .string(kind)]
            if let name { body["name"] = .string(name) }
            if let plug { body["plug"] = try StationCommand.plugValue(plug, allowNone: false) }
            if let zone { body["zone"] = .string(zone) }
            try await connection.send(.stationAdd, body, render: Render.stationLine)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a station's name, kind, zone or plug binding.",
            discussion: "Only the options given change. --no-zone takes the station out of its zone.")
        @Argument var station: String
        @Option(help: "New display name.") var name: String?
        @Option(help: "New kind.") var kind: String?
        @Option(help: "New plug binding as JSON, or none to unbind.") var plug: String?
        @Option(help: #"New zone, e.g. "VIP room" (1-32 characters)."#) var zone: String?
        @Flag(help: "Clear the station's zone.") var noZone = false
        @OptionGroup var connection: Connection
        func validate() throws {
            if zone != nil, noZone { throw ValidationError("give --zone or --no-zone, not both") }
        }
        func run() async throws {
            var body: [String: JSONValue] = ["station": .string(station)]
            if let name { body["name"] = .string(name) }
            if let kind { body["kind"] = .string(kind) }
            if let plug { body["plug"] = try StationCommand.plugValue(plug, allowNone: true) }
            if let zone { body["zone"] = .string(zone) }
            if noZone { body["zone"] = .null }
            try await connection.send(.stationUpdate, body, render: Render.stationLine)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a station that has no session.")
        @Argument var station: String
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.stationRemove, ["station": .string(station)]) { _ in "\(station) removed" }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one station.")
        @Argument var station: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.stationGet, ["station": .string(station)], render: Render.stationLine) }
    }

    struct Maintenance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn maintenance on or off (on locks the station).")
        @Argument var station: String
        @Argument(help: "on or off") var mode: OnOff
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(
                .stationMaintenance, ["station": .string(station), "enabled": .bool(mode == .on)], render: Render.stationLine)
        }
    }
}

struct DurationOptions: ParsableArguments {
    @Option(help: "Minutes.") var minutes: Int64?
    @Option(help: "Seconds.") var seconds: Int64?

    func validate() throws {
        guard (minutes == nil) != (seconds == nil) else { throw ValidationError("give --minutes or --seconds") }
    }

    var body: [String: JSONValue] { minutes.map { ["minutes": .int($0)] } ?? ["seconds": .int(seconds ?? 0)] }
}

struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Start, extend, pause, resume, stop or transfer a session.",
        subcommands: [Start.self, Extend.self, Pause.self, Resume.self, Stop.self, Transfer.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a session: unlocks the station.",
            discussion: """
                --minutes/--seconds alone: time given without money. With --pay cash|card (or --pay \
                account --member ID): time or a --package sold at the desk, in the same transaction as \
                the session. --member ID alone: the session runs on the member's balance and is \
                charged when it ends. --pay later: pay later, up to the plan's limit.
                """)
        @Argument var station: String
        @OptionGroup var sale: SaleOptions
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.sessionStart, try sale.startBody(station: station), render: Render.saleLine)
        }
    }

    struct Extend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add time to a running or paused session (with --pay: sold at the desk).")
        @Argument var station: String
        @OptionGroup var sale: SaleOptions
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.sessionExtend, try sale.extendBody(station: station), render: Render.saleLine)
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Freeze the clock and lock the station.")
        @Argument var station: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.sessionPause, ["station": .string(station)], render: Render.stationLine) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restart the clock and unlock the station.")
        @Argument var station: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.sessionResume, ["station": .string(station)], render: Render.stationLine) }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End the session now and lock the station.")
        @Argument var station: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.sessionStop, ["station": .string(station)], render: Render.stationLine) }
    }

    struct Transfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a session, with its remaining time, to an idle station.")
        @Argument var station: String
        @Argument var to: String
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.sessionTransfer, ["station": .string(station), "to": .string(to)]) { data in
                "\(Render.stationLine(data["from"] ?? .null))\n\(Render.stationLine(data["to"] ?? .null))"
            }
        }
    }
}

struct PlugCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plug", abstract: "Switch a station's smart plug by hand.", subcommands: [Power.self])

    struct Power: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Power a station's plug on or off outside a session (e.g. for a console update).",
            discussion: """
                on holds the plug on, in maintenance too, until off or until a session starts on the \
                station (the session then owns the power). Refused while the station has a session.
                """)
        @Argument var station: String
        @Argument(help: "on or off") var mode: OnOff
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.plugPower, ["station": .string(station), "on": .bool(mode == .on)]) { state in
                "\(Render.stationLine(state)), plug \(Render.plug(state["plug"]))"
            }
        }
    }
}

struct RawRequest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request", abstract: "Send any request verb with a JSON body and print the answer as JSON.")
    @Argument(help: "Verb, e.g. station/get") var verb: String
    @Argument(help: "JSON object body, e.g. '{\"station\":\"PC-01\"}'") var body: String = "{}"
    @OptionGroup var connection: Connection
    func run() async throws {
        guard let object = (try? JSONCoding.decode(Array(body.utf8)))?.objectValue else {
            throw ValidationError("the body must be a JSON object")
        }
        try await connection.send(verb, object) { String(decoding: JSONCoding.encode($0), as: UTF8.self) }
    }
}

/// An `on`/`off` argument.
enum OnOff: String, ExpressibleByArgument, CaseIterable {
    case on, off
}
