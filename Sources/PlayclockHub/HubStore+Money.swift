import PlayclockContract
import PlayclockCore
import PlayclockSQLite

/// Money in the store: members, sales with their ledger entries, the prices, and the answers of
/// money requests kept by `transaction` id.
///
/// `sales` and `ledger` are append-only: triggers refuse every UPDATE and DELETE, so not even a
/// bug in this program can change money already recorded. A member's `balance` column is a cache
/// of their ledger entries; loading takes the ledger's figure and `playclock db check` reports
/// any difference.
extension HubStore {
    static let moneySchema = """
        ALTER TABLE sessions ADD COLUMN billing TEXT;
        CREATE TABLE members (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            contact TEXT,
            tier TEXT,
            pin_hash TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at_ms INTEGER NOT NULL,
            last_seen_ms INTEGER,
            balance INTEGER NOT NULL DEFAULT 0,
            failed_pins INTEGER NOT NULL DEFAULT 0,
            locked_until_ms INTEGER,
            active_session TEXT
        );
        CREATE TABLE sales (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            at_ms INTEGER NOT NULL,
            amount INTEGER NOT NULL CHECK (amount >= 0),
            currency TEXT NOT NULL,
            method TEXT NOT NULL,
            station TEXT,
            session TEXT,
            member TEXT,
            by TEXT,
            refers_to INTEGER REFERENCES sales(id),
            reason TEXT,
            detail TEXT NOT NULL
        );
        CREATE INDEX sales_refers_to ON sales(refers_to) WHERE refers_to IS NOT NULL;
        CREATE INDEX sales_member ON sales(member, id) WHERE member IS NOT NULL;
        CREATE INDEX sales_session ON sales(session) WHERE session IS NOT NULL;
        CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            at_ms INTEGER NOT NULL,
            from_account TEXT NOT NULL,
            to_account TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0),
            currency TEXT NOT NULL,
            kind TEXT NOT NULL,
            sale INTEGER NOT NULL REFERENCES sales(id),
            session TEXT,
            by TEXT,
            CHECK (from_account <> to_account)
        );
        CREATE INDEX ledger_from ON ledger(from_account);
        CREATE INDEX ledger_to ON ledger(to_account);
        CREATE INDEX ledger_sale ON ledger(sale);
        CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER sales_no_update BEFORE UPDATE ON sales BEGIN SELECT RAISE(ABORT, 'sales are append-only'); END;
        CREATE TRIGGER sales_no_delete BEFORE DELETE ON sales BEGIN SELECT RAISE(ABORT, 'sales are append-only'); END;
        CREATE TABLE pricing (
            version INTEGER PRIMARY KEY,
            at_ms INTEGER NOT NULL,
            by TEXT,
            catalog TEXT NOT NULL
        );
        CREATE TABLE requests (
            key TEXT PRIMARY KEY,
            verb TEXT NOT NULL,
            body TEXT NOT NULL,
            response BLOB NOT NULL,
            at_ms INTEGER NOT NULL
        );
        CREATE INDEX requests_at ON requests(at_ms);
        """

    // MARK: - Writing

    func save(_ m: MemberAccount) throws {
        try db.run(
            """
            INSERT INTO members (id, name, contact, tier, pin_hash, disabled, created_at_ms, last_seen_ms, balance, failed_pins,
                                 locked_until_ms, active_session)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET name = excluded.name, contact = excluded.contact, tier = excluded.tier,
                pin_hash = excluded.pin_hash, disabled = excluded.disabled, last_seen_ms = excluded.last_seen_ms,
                balance = excluded.balance, failed_pins = excluded.failed_pins, locked_until_ms = excluded.locked_until_ms,
                active_session = excluded.active_session
            """,
            [.text(m.id), .text(m.name), SQLiteValue(m.contact), SQLiteValue(m.tier), SQLiteValue(m.pinHash), SQLiteValue(m.disabled),
             .integer(m.createdAtWallMillis), SQLiteValue(m.lastSeenWallMillis), .integer(m.balance), .integer(Int64(m.failedPINs)),
             SQLiteValue(m.lockedUntilWallMillis), SQLiteValue(m.activeSession)])
    }

    func record(_ sale: SaleRecord) throws {
        try db.run(
            """
            INSERT INTO sales (id, kind, at_ms, amount, currency, method, station, session, member, by, refers_to, reason, detail, shift)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.integer(sale.id), .text(sale.kind.rawValue), .integer(sale.atWallMillis), .integer(sale.amount), .text(sale.currency),
             .text(sale.method), SQLiteValue(sale.station?.value), SQLiteValue(sale.session), SQLiteValue(sale.member), SQLiteValue(sale.by),
             SQLiteValue(sale.refersTo), SQLiteValue(sale.reason), .text(String(decoding: JSONCoding.encode(sale.detail), as: UTF8.self)),
             SQLiteValue(sale.shift)])
        for e in sale.entries {
            try db.run(
                """
                INSERT INTO ledger (id, at_ms, from_account, to_account, amount, currency, kind, sale, session, by, shift)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [.integer(e.id), .integer(e.atWallMillis), .text(e.from.description), .text(e.to.description), .integer(e.amount),
                 .text(e.currency), .text(e.kind.rawValue), .integer(e.sale), SQLiteValue(e.session), SQLiteValue(e.by), SQLiteValue(e.shift)])
        }
        try recordLines(sale)
    }

    func savePricing(_ catalog: PricingCatalog, by: String?, atWallMillis: Int64) throws {
        try db.run(
            "INSERT INTO pricing (at_ms, by, catalog) VALUES (?, ?, ?)",
            [.integer(atWallMillis), SQLiteValue(by), .text(String(decoding: JSONCoding.encode(catalog.json), as: UTF8.self))])
    }

    func remember(_ r: RememberedRequest) throws {
        try db.run(
            "INSERT INTO requests (key, verb, body, response, at_ms) VALUES (?, ?, ?, ?, ?)",
            [.text(r.key), .text(r.verb), .text(r.body), .blob(r.response), .integer(r.atWallMillis)])
    }

    /// The first answer to a money request with this key, if it was answered.
    public func rememberedRequest(key: String) throws -> RememberedRequest? {
        guard let row = try db.queryOne("SELECT * FROM requests WHERE key = ?", [.text(key)]) else { return nil }
        let response: [UInt8]
        switch row["response"] {
        case .blob(let b): response = b
        case .text(let t): response = Array(t.utf8)
        default: response = []
        }
        return RememberedRequest(
            key: key, verb: row.string("verb") ?? "", body: row.string("body") ?? "", response: response, atWallMillis: row.int("at_ms") ?? 0)
    }

    /// Forgets remembered answers older than the cutoff (a retry days later is a new request).
    @discardableResult
    public func pruneRememberedRequests(olderThanWallMillis cutoff: Int64) throws -> Int {
        try db.run("DELETE FROM requests WHERE at_ms < ?", [.integer(cutoff)])
        return db.changes
    }

    /// The prices to start with: the newest stored version; if none, `seed` (the config file's
    /// `pricing`) is stored as the first version. Later edits (`rate/set`, ...) are new versions;
    /// the config file is read again only for a database that has no prices yet.
    public func loadPricing(seed: PricingCatalog?, atWallMillis: Int64) throws -> PricingCatalog? {
        if let row = try db.queryOne("SELECT version, catalog FROM pricing ORDER BY version DESC LIMIT 1") {
            guard let text = row.string("catalog"), let json = try? JSONCoding.decode(Array(text.utf8)) else {
                throw HubStoreError.damagedRows(database: db.path, rows: [
                    DamagedRow(table: "pricing", rowID: row.int("version") ?? 0, id: nil, reason: "catalog is not JSON", blocksStart: true),
                ])
            }
            do { return try PricingCatalog.parse(json) } catch {
                throw HubStoreError.damagedRows(database: db.path, rows: [
                    DamagedRow(table: "pricing", rowID: row.int("version") ?? 0, id: nil, reason: "catalog does not validate: \(error.message)",
                               blocksStart: true),
                ])
            }
        }
        guard let seed else { return nil }
        try savePricing(seed, by: "config", atWallMillis: atWallMillis)
        return seed
    }

    // MARK: - Loading

    /// Every member, with the balance their ledger entries add up to.
    public func members() throws -> [MemberAccount] {
        let balances = try ledgerBalances()
        var out: [MemberAccount] = []
        var damaged: [DamagedRow] = []
        for row in try db.query("SELECT rowid AS row_id, * FROM members ORDER BY id") {
            switch StoreRows.member(row) {
            case .success(var m):
                m.balance = balances[m.id] ?? 0
                out.append(m)
            case .failure(let d): damaged.append(d)
            }
        }
        if !damaged.isEmpty { throw HubStoreError.damagedRows(database: db.path, rows: damaged) }
        return out
    }

    /// Member id -> what their ledger entries add up to.
    func ledgerBalances() throws -> [String: Int64] {
        var balances: [String: Int64] = [:]
        for row in try db.query(
            """
            SELECT account, SUM(delta) AS balance FROM (
                SELECT to_account AS account, amount AS delta FROM ledger WHERE to_account LIKE 'member:%'
                UNION ALL
                SELECT from_account AS account, -amount AS delta FROM ledger WHERE from_account LIKE 'member:%'
            ) GROUP BY account
            """)
        {
            guard let account = row.string("account") else { continue }
            balances[String(account.dropFirst("member:".count))] = row.int("balance") ?? 0
        }
        return balances
    }

    public func lastSaleID() throws -> Int64 { try db.queryOne("SELECT COALESCE(MAX(id), 0) AS n FROM sales")?.int("n") ?? 0 }
    public func lastLedgerID() throws -> Int64 { try db.queryOne("SELECT COALESCE(MAX(id), 0) AS n FROM ledger")?.int("n") ?? 0 }

    /// One sale with its ledger entries, and what refunds and voids recorded against it so far.
    public func sale(id: Int64) throws -> CommandContext {
        guard let row = try db.queryOne("SELECT * FROM sales WHERE id = ?", [.integer(id)]) else { return CommandContext() }
        let entries = try db.query("SELECT * FROM ledger WHERE sale = ? ORDER BY id", [.integer(id)]).compactMap(StoreRows.ledgerEntry)
        guard var sale = StoreRows.sale(row, entries: entries) else { return CommandContext() }
        sale.lines = try saleLines(id)
        let refunded = try db.queryOne(
            "SELECT COALESCE(SUM(amount), 0) AS n FROM sales WHERE refers_to = ? AND kind = 'refund'", [.integer(id)])?.int("n") ?? 0
        let voided = try db.queryOne("SELECT COUNT(*) AS n FROM sales WHERE refers_to = ? AND kind = 'void'", [.integer(id)])?.int("n") ?? 0
        return CommandContext(sale: sale, refundedAmount: refunded, voided: voided > 0)
    }

    /// The member's newest sales (top-ups, purchases, charges, refunds), newest first.
    public func memberHistory(_ member: String, limit: Int) throws -> [JSONValue] {
        try db.query("SELECT * FROM sales WHERE member = ? ORDER BY id DESC LIMIT ?", [.text(member), .integer(Int64(max(1, min(limit, 200))))])
            .map { row in
                ["sale": .int(row.int("id") ?? 0), "kind": JSONValue(row.string("kind")), "amount": .int(row.int("amount") ?? 0),
                 "amount_text": JSONValue(row.string("currency").flatMap(Currency.init).map { $0.formatted(row.int("amount") ?? 0) }),
                 "method": JSONValue(row.string("method")), "station": JSONValue(row.string("station")),
                 "session": JSONValue(row.string("session")), "refers_to": row.int("refers_to").map { .int($0) } ?? .null,
                 "reason": JSONValue(row.string("reason")), "by": JSONValue(row.string("by")),
                 "at": .string(ISO8601.string(fromMillis: row.int("at_ms") ?? 0))]
            }
    }
}

// MARK: - Decoding stored money rows

extension StoreRows {
    static func member(_ row: SQLiteRow) -> Result<MemberAccount, DamagedRow> {
        var r = Reader(row)
        let id = r.text("id", nonEmpty: true)
        if !MemberID.isValid(id) { r.problem("id is not a valid member id") }
        let name = r.text("name")
        let contact = r.optionalText("contact")
        let tier = r.optionalText("tier")
        let pin = r.optionalText("pin_hash")
        let disabled = r.flag("disabled")
        let created = r.int("created_at_ms", atLeast: 0)
        let lastSeen = r.optionalInt("last_seen_ms", atLeast: 0)
        let balance = r.int("balance", atLeast: Int64.min)
        let failed = r.int("failed_pins", atLeast: 0)
        let locked = r.optionalInt("locked_until_ms", atLeast: 0)
        let active = r.optionalText("active_session")
        guard r.problems.isEmpty else { return .failure(r.damaged("members", blocksStart: true)) }
        return .success(MemberAccount(
            id: id, name: name, contact: contact, tier: tier, pinHash: pin, disabled: disabled, createdAtWallMillis: created,
            lastSeenWallMillis: lastSeen, balance: balance, failedPINs: Int(failed), lockedUntilWallMillis: locked, activeSession: active))
    }

    static func ledgerEntry(_ row: SQLiteRow) -> LedgerEntry? {
        guard let id = row.int("id"), let at = row.int("at_ms"), let from = row.string("from_account").flatMap(LedgerAccount.init),
            let to = row.string("to_account").flatMap(LedgerAccount.init), let amount = row.int("amount"),
            let currency = row.string("currency"), let kind = row.string("kind").flatMap(SaleKind.init(rawValue:)), let sale = row.int("sale")
        else { return nil }
        return LedgerEntry(
            id: id, atWallMillis: at, from: from, to: to, amount: amount, currency: currency, kind: kind, sale: sale,
            session: row.string("session"), by: row.string("by"), shift: row.int("shift"))
    }

    static func sale(_ row: SQLiteRow, entries: [LedgerEntry]) -> SaleRecord? {
        guard let id = row.int("id"), let kind = row.string("kind").flatMap(SaleKind.init(rawValue:)), let at = row.int("at_ms"),
            let amount = row.int("amount"), let currency = row.string("currency"), let method = row.string("method")
        else { return nil }
        let detail = row.string("detail").flatMap { try? JSONCoding.decode(Array($0.utf8)) } ?? .null
        return SaleRecord(
            id: id, kind: kind, atWallMillis: at, amount: amount, currency: currency, method: method,
            station: row.string("station").flatMap(StationID.init), session: row.string("session"), member: row.string("member"),
            by: row.string("by"), refersTo: row.int("refers_to"), reason: row.string("reason"), detail: detail, entries: entries,
            shift: row.int("shift"))
    }

    /// A session's billing as stored in `sessions.billing`.
    static func billingJSON(_ b: SessionBilling) -> JSONValue {
        var body: [String: JSONValue] = [
            "mode": .string(b.modeName), "discount_percent": .int(b.discountPercent),
            "closed_runs": .array(b.closedRuns.map { [.int($0.startWallMillis), .int($0.durationMillis)] }),
            "open_run_start_ms": b.openRunStartWallMillis.map { .int($0) } ?? .null, "open_run_used_at_start": .int(b.openRunUsedAtStart),
        ]
        if let member = b.member { body["member"] = .string(member) }
        if let plan = b.plan { body["plan"] = plan.json }
        return .object(body)
    }

    struct Problem: Error { var text: String }

    static func billing(_ text: String) -> Result<SessionBilling, Problem> {
        guard let json = try? JSONCoding.decode(Array(text.utf8)), let o = json.objectValue else { return .failure(Problem(text: "billing is not a JSON object")) }
        let mode: SessionBilling.Mode
        switch o["mode"]?.stringValue {
        case "prepaid": mode = .prepaid
        case "later": mode = .postpaid
        case "balance":
            guard let m = o["member"]?.stringValue, MemberID.isValid(m) else { return .failure(Problem(text: "billing of a balance session names no member")) }
            mode = .balance(member: m)
        default: return .failure(Problem(text: "billing mode is not prepaid, balance or later"))
        }
        var plan: RatePlan?
        if let p = o["plan"], p != .null {
            do { plan = try RatePlan.parse(p) } catch { return .failure(Problem(text: "billing plan does not validate: \(error.message)")) }
        }
        if mode != .prepaid && plan == nil { return .failure(Problem(text: "billing of a \(o["mode"]?.stringValue ?? "") session has no plan")) }
        var runs: [PricedRun] = []
        for item in o["closed_runs"]?.arrayValue ?? [] {
            guard let pair = item.arrayValue, pair.count == 2, let start = pair[0].intValue, let length = pair[1].intValue, length >= 0 else {
                return .failure(Problem(text: "billing closed_runs must be [start_ms, duration_ms] pairs"))
            }
            runs.append(PricedRun(startWallMillis: start, durationMillis: length))
        }
        let discount = o["discount_percent"]?.intValue ?? 0
        guard (0...100).contains(discount) else { return .failure(Problem(text: "billing discount_percent is not 0-100")) }
        return .success(SessionBilling(
            mode: mode, plan: plan, discountPercent: discount, closedRuns: runs, openRunStartWallMillis: o["open_run_start_ms"]?.intValue,
            openRunUsedAtStart: o["open_run_used_at_start"]?.intValue ?? 0))
    }
}
