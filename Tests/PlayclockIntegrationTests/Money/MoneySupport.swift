import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// Prices, roles and helpers shared by the money integration tests: a real hub whose prices make
/// balances run out in seconds, staff accounts for `by` and role checks, and the real
/// `playclock db check` and `sqlite3` to look at what was stored.
enum MoneyFixture {
    /// PCs cost 10 minor units a second (36,000 an hour), billed by the second with no minimum, so
    /// a balance of 50 lasts exactly 5 s; consoles 600 an hour by the minute. One 30-minute
    /// package at 500. UTC and no rules, so no price depends on when the test runs.
    static let pricing: JSONValue = [
        "currency": "EUR", "timezone": "UTC",
        "plans": [
            ["id": "fast", "name": "Fast PCs", "kinds": ["pc"], "per_hour": 36_000, "step_s": 1, "minimum": 0],
            ["id": "console", "name": "Consoles", "kinds": ["console"], "per_hour": 600, "step_s": 60, "minimum": 0,
             "postpaid_limit_minutes": 60],
        ],
        "packages": [["id": "30m", "name": "30 minutes", "price": 500, "minutes": 30]],
        "tiers": [["id": "gold", "name": "Gold", "discount_percent": 10]],
    ]
    /// Per second of a PC, in minor units.
    static let pcPerSecond: Int64 = 10
    static let packagePrice: Int64 = 500

    /// A cashier and a manager; the shared topic keeps the manager role so the harness's own
    /// `request` (on `R/hub/request/...`) can still do everything.
    static let roles: JSONValue = ["till1": "cashier", "boss": "manager"]

    static func config(roles: Bool = true) -> [String: JSONValue] {
        var config: [String: JSONValue] = ["pricing": pricing]
        if roles {
            config["roles"] = Self.roles
            config["shared_topic_role"] = "manager"
        }
        return config
    }

    /// The harness's policy with some keys changed.
    static func policy(_ changes: [String: JSONValue] = [:]) -> JSONValue {
        var fields = HubHarness.defaultPolicy.objectValue ?? [:]
        for (key, value) in changes { fields[key] = value }
        return .object(fields)
    }

    static func harness(policy changes: [String: JSONValue] = [:], roles: Bool = true) async throws -> HubHarness {
        try await HubHarness(policy: policy(changes), config: config(roles: roles))
    }
}

extension HubHarness {
    /// A request on a staff account's own topic (`R/users/<account>/request/<verb>`), answered on
    /// `R/users/<account>/response/<verb>`. The anonymous test broker has no ACL, so the topic
    /// alone names the account.
    func request(
        as account: String, _ verb: String, _ body: JSONValue, transaction: String = UUID().uuidString,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        var fields = body.objectValue ?? [:]
        fields["transaction"] = .string(transaction)
        let mark = recorder.count
        try publish("playclock/users/\(account)/request/\(verb)", String(decoding: JSONCoding.encode(.object(fields)), as: UTF8.self), qos: 1)
        let record = try await recorder.waitFor(since: mark, "response to \(account)'s \(verb)", sourceLocation: sourceLocation) {
            $0.topic == "playclock/users/\(account)/response/\(verb)" && $0.json?["transaction"] == .string(transaction)
        }
        return try #require(record.json, sourceLocation: sourceLocation)
    }

    /// Publishes `body` (with its own `transaction`, if any) on the shared request topic and waits
    /// for the response echoing `transaction`.
    func requestKeepingTransaction(
        _ verb: String, _ body: JSONValue, transaction: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        var fields = body.objectValue ?? [:]
        fields["transaction"] = .string(transaction)
        return try await requestRaw(verb, String(decoding: JSONCoding.encode(.object(fields)), as: UTF8.self),
                                    transaction: transaction, sourceLocation: sourceLocation)
    }

    /// Every response on the shared topic of `verb` echoing `transaction`, since `since`.
    func responses(_ verb: String, transaction: String, since: Int = 0) -> [JSONValue] {
        recorder.records().dropFirst(since).filter {
            $0.topic == "playclock/hub/response/\(verb)" && $0.json?["transaction"] == .string(transaction)
        }.compactMap(\.json)
    }

    /// Events on `R/events` since `since`, decoded, optionally of one type.
    func events(since: Int = 0, _ type: String? = nil) -> [JSONValue] {
        recorder.records().dropFirst(since).filter { $0.topic == "playclock/events" }.compactMap(\.json)
            .filter { type == nil || $0["type"] == .string(type!) }
    }

    /// A member's `data` from `member/get`.
    func member(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        let answer = try await request("member/get", ["member": .string(id)], sourceLocation: sourceLocation)
        #expect(answer["status"] == "ok", "member/get \(id): \(answer)", sourceLocation: sourceLocation)
        return try #require(answer["data"], sourceLocation: sourceLocation)
    }

    func balance(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int64? {
        try await member(id, sourceLocation: sourceLocation)["balance"]?.intValue
    }

    /// Adds a member (optionally with a PIN) and tops them up by cash.
    @discardableResult
    func addMember(_ id: String, name: String = "Ann", pin: String? = nil, topUp: Int64 = 0,
                   sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        var body: [String: JSONValue] = ["member": .string(id), "name": .string(name)]
        if let pin { body["pin"] = .string(pin) }
        let added = try await request("member/add", .object(body), sourceLocation: sourceLocation)
        #expect(added["status"] == "ok", "member/add \(id): \(added)", sourceLocation: sourceLocation)
        guard topUp > 0 else { return added }
        let topped = try await request("member/topup", ["member": .string(id), "amount": .int(topUp), "method": "cash"],
                                       sourceLocation: sourceLocation)
        #expect(topped["status"] == "ok", "member/topup \(id): \(topped)", sourceLocation: sourceLocation)
        #expect(topped["data"]?["balance"]?.intValue == topUp, sourceLocation: sourceLocation)
        return topped
    }

    /// The real `playclock db check` on this hub's database.
    func dbCheck() throws -> (output: String, status: Int32) {
        try runTool(binaryPath("playclock"), ["db", "check", "--database", database], timeout: .seconds(30))
    }

    /// `playclock db check` exits 0 and reports no `money:` problem.
    func expectCleanDBCheck(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (output, status) = try dbCheck()
        #expect(status == 0, "db check failed (\(status)):\n\(output)", sourceLocation: sourceLocation)
        let money = output.split(separator: "\n").filter { $0.contains("money:") }
        #expect(money.isEmpty, "db check found money problems:\n\(money.joined(separator: "\n"))", sourceLocation: sourceLocation)
        #expect(output.contains("ok: "), "db check output: \(output)", sourceLocation: sourceLocation)
    }

    /// One SQL query against the hub's database, read-only with the `sqlite3` shell (rows as
    /// lines, columns separated by `|`).
    func sql(_ query: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        let (output, status) = try runTool("/usr/bin/sqlite3", ["-readonly", database, query], timeout: .seconds(10))
        #expect(status == 0, "sqlite3 \(query): \(output)", sourceLocation: sourceLocation)
        return output.split(separator: "\n").map(String.init)
    }

    /// A single integer from `sql`.
    func sqlInt(_ query: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int64? {
        try sql(query, sourceLocation: sourceLocation).first.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Control messages of `action` to `station` since `since`.
    func controls(_ station: String, _ action: String, since: Int) -> [WireRecord] {
        recorder.records().dropFirst(since).filter {
            $0.topic == "playclock/stations/\(station)/control" && $0.json?["action"] == .string(action)
        }
    }
}

/// Encodes a JSON object as a request payload.
func payload(_ body: JSONValue) -> String { String(decoding: JSONCoding.encode(body), as: UTF8.self) }
