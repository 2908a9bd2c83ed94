import PlayclockContract
import PlayclockCore
import PlayclockSQLite

/// The counter in the store: products, the lines of counter sales, and cash shifts with their
/// Z reports.
///
/// `sale_lines` is append-only like `sales` and `ledger`. A shift row changes while it is open
/// (its running cash figures) and is frozen by a trigger once closed: the Z report stored with it
/// can never be edited.
extension HubStore {
    static let counterSchema = """
        ALTER TABLE sales ADD COLUMN shift INTEGER;
        ALTER TABLE ledger ADD COLUMN shift INTEGER;
        CREATE INDEX sales_shift ON sales(shift) WHERE shift IS NOT NULL;
        CREATE INDEX ledger_shift ON ledger(shift) WHERE shift IS NOT NULL;
        CREATE TABLE products (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            category TEXT NOT NULL,
            price INTEGER NOT NULL CHECK (price > 0),
            stock INTEGER CHECK (stock IS NULL OR stock >= 0),
            low_stock INTEGER,
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE sale_lines (
            sale INTEGER NOT NULL REFERENCES sales(id),
            line INTEGER NOT NULL,
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            name TEXT NOT NULL,
            category TEXT NOT NULL,
            zone TEXT,
            qty INTEGER NOT NULL CHECK (qty > 0),
            unit_price INTEGER NOT NULL,
            amount INTEGER NOT NULL CHECK (amount >= 0),
            tax INTEGER NOT NULL CHECK (tax >= 0),
            tax_rate_bp INTEGER NOT NULL,
            seconds INTEGER,
            session TEXT,
            PRIMARY KEY (sale, line)
        );
        CREATE INDEX sale_lines_category ON sale_lines(category);
        CREATE TRIGGER sale_lines_no_update BEFORE UPDATE ON sale_lines BEGIN SELECT RAISE(ABORT, 'sale lines are append-only'); END;
        CREATE TRIGGER sale_lines_no_delete BEFORE DELETE ON sale_lines BEGIN SELECT RAISE(ABORT, 'sale lines are append-only'); END;
        CREATE TABLE shifts (
            id INTEGER PRIMARY KEY,
            staff TEXT NOT NULL,
            opened_at_ms INTEGER NOT NULL,
            float INTEGER NOT NULL CHECK (float >= 0),
            cash_in INTEGER NOT NULL DEFAULT 0,
            cash_out INTEGER NOT NULL DEFAULT 0,
            open_note TEXT,
            closed_at_ms INTEGER,
            counted INTEGER,
            close_note TEXT,
            report TEXT
        );
        CREATE UNIQUE INDEX shifts_one_open ON shifts(staff) WHERE closed_at_ms IS NULL;
        CREATE TRIGGER shifts_closed_frozen BEFORE UPDATE ON shifts WHEN OLD.closed_at_ms IS NOT NULL
            BEGIN SELECT RAISE(ABORT, 'a closed shift and its Z report cannot change'); END;
        CREATE TRIGGER shifts_no_delete BEFORE DELETE ON shifts BEGIN SELECT RAISE(ABORT, 'shifts are kept'); END;
        """

    // MARK: - Writing

    func save(_ p: Product) throws {
        try db.run(
            """
            INSERT INTO products (id, name, category, price, stock, low_stock, active) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET name = excluded.name, category = excluded.category, price = excluded.price,
                stock = excluded.stock, low_stock = excluded.low_stock, active = excluded.active
            """,
            [.text(p.id), .text(p.name), .text(p.category), .integer(p.price), SQLiteValue(p.stock), SQLiteValue(p.lowStock), SQLiteValue(p.active)])
    }

    func deleteProduct(_ id: String) throws {
        try db.run("DELETE FROM products WHERE id = ?", [.text(id)])
    }

    func recordLines(_ sale: SaleRecord) throws {
        for l in sale.lines {
            try db.run(
                """
                INSERT INTO sale_lines (sale, line, kind, ref, name, category, zone, qty, unit_price, amount, tax, tax_rate_bp, seconds, session)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [.integer(sale.id), .integer(Int64(l.line)), .text(l.kind.rawValue), .text(l.ref), .text(l.name), .text(l.category),
                 SQLiteValue(l.zone), .integer(l.quantity), .integer(l.unitPrice), .integer(l.amount), .integer(l.tax), .integer(l.taxRate),
                 SQLiteValue(l.seconds), SQLiteValue(l.session)])
        }
    }

    /// An open shift is saved as it is; a closing one gets its Z report, worked out here from the
    /// shift's rows in this same transaction, and is frozen from then on.
    func save(_ s: ShiftRecord) throws {
        let report: String? = s.isOpen ? nil : String(decoding: JSONCoding.encode(try shiftReport(s)), as: UTF8.self)
        try db.run(
            """
            INSERT INTO shifts (id, staff, opened_at_ms, float, cash_in, cash_out, open_note, closed_at_ms, counted, close_note, report)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET cash_in = excluded.cash_in, cash_out = excluded.cash_out, closed_at_ms = excluded.closed_at_ms,
                counted = excluded.counted, close_note = excluded.close_note, report = excluded.report
            """,
            [.integer(s.id), .text(s.staff), .integer(s.openedAtWallMillis), .integer(s.float), .integer(s.cashIn), .integer(s.cashOut),
             SQLiteValue(s.openNote), SQLiteValue(s.closedAtWallMillis), SQLiteValue(s.counted), SQLiteValue(s.closeNote), SQLiteValue(report)])
    }

    // MARK: - Loading

    public func products() throws -> [Product] {
        var out: [Product] = []
        var damaged: [DamagedRow] = []
        for row in try db.query("SELECT rowid AS row_id, * FROM products ORDER BY id") {
            switch StoreRows.product(row) {
            case .success(let p): out.append(p)
            case .failure(let d): damaged.append(d)
            }
        }
        if !damaged.isEmpty { throw HubStoreError.damagedRows(database: db.path, rows: damaged) }
        return out
    }

    public func openShifts() throws -> [ShiftRecord] {
        try db.query("SELECT * FROM shifts WHERE closed_at_ms IS NULL ORDER BY id").compactMap(StoreRows.shift)
    }

    public func lastShiftID() throws -> Int64 { try db.queryOne("SELECT COALESCE(MAX(id), 0) AS n FROM shifts")?.int("n") ?? 0 }

    public func shift(id: Int64) throws -> ShiftRecord? {
        try db.queryOne("SELECT * FROM shifts WHERE id = ?", [.integer(id)]).flatMap(StoreRows.shift)
    }

    public func saleLines(_ sale: Int64) throws -> [SaleLine] {
        try db.query("SELECT * FROM sale_lines WHERE sale = ? ORDER BY line", [.integer(sale)]).compactMap(StoreRows.saleLine)
    }

    /// The report of a shift: the Z report stored when it closed, or, while it is open, the same
    /// figures worked out now (the X report).
    public func report(ofShift id: Int64) throws -> JSONValue? {
        guard let row = try db.queryOne("SELECT * FROM shifts WHERE id = ?", [.integer(id)]), let s = StoreRows.shift(row) else { return nil }
        if !s.isOpen, let text = row.string("report"), let json = try? JSONCoding.decode(Array(text.utf8)) { return json }
        return try shiftReport(s)
    }

    /// The shifts, newest first.
    public func shifts(limit: Int) throws -> [JSONValue] {
        try db.query("SELECT * FROM shifts ORDER BY id DESC LIMIT ?", [.integer(Int64(max(1, min(limit, 500))))]).compactMap(StoreRows.shift).map { s in
            ["shift": .int(s.id), "staff": .string(s.staff), "opened_at": .string(ISO8601.string(fromMillis: s.openedAtWallMillis)),
             "closed_at": s.closedAtWallMillis.map { .string(ISO8601.string(fromMillis: $0)) } ?? .null, "float": .int(s.float),
             "expected_cash": .int(s.expected), "counted_cash": s.counted.map { .int($0) } ?? .null,
             "difference": s.difference.map { .int($0) } ?? .null]
        }
    }

    /// Everything a shift moved, from its ledger entries and sales: the X report of an open shift,
    /// the Z report of one that is closing. The cash figures come from the ledger itself, so the
    /// report's totals are the ledger's.
    func shiftReport(_ s: ShiftRecord) throws -> JSONValue {
        let id = SQLiteValue.integer(s.id)
        let saleKinds = "('time','package','basket')"
        var byMethod: [String: Int64] = [:]
        for row in try db.query(
            "SELECT from_account, SUM(amount) AS total FROM ledger WHERE shift = ? AND kind IN \(saleKinds) GROUP BY from_account", [id])
        {
            let account = row.string("from_account") ?? ""
            let method = account.hasPrefix("member:") ? "account" : String(account.split(separator: ":").last ?? "")
            byMethod[method, default: 0] += row.int("total") ?? 0
        }
        var byCategory: [JSONValue] = []
        for row in try db.query(
            """
            SELECT category, SUM(qty) AS qty, SUM(amount) AS amount, SUM(tax) AS tax FROM (
                SELECT l.category, l.qty, l.amount, l.tax FROM sale_lines l JOIN sales s ON s.id = l.sale WHERE s.shift = ?
                UNION ALL
                SELECT 'time', 1, s.amount, 0 FROM sales s WHERE s.shift = ? AND s.kind IN ('time', 'package')
            ) GROUP BY category ORDER BY category
            """, [id, id])
        {
            byCategory.append(["category": JSONValue(row.string("category")), "qty": .int(row.int("qty") ?? 0),
                               "amount": .int(row.int("amount") ?? 0), "tax": .int(row.int("tax") ?? 0)])
        }
        var timeByZone: [JSONValue] = []
        for row in try db.query(
            """
            SELECT zone, SUM(seconds) AS seconds, SUM(amount) AS amount FROM (
                SELECT l.zone, COALESCE(l.seconds, 0) AS seconds, l.amount FROM sale_lines l JOIN sales s ON s.id = l.sale
                    WHERE s.shift = ? AND l.kind IN ('time', 'package')
                UNION ALL
                SELECT st.zone, COALESCE(json_extract(s.detail, '$.granted_s'), json_extract(s.detail, '$.billed_s'), 0), s.amount
                    FROM sales s LEFT JOIN stations st ON st.id = s.station WHERE s.shift = ? AND s.kind IN ('time', 'package')
            ) GROUP BY zone ORDER BY zone
            """, [id, id])
        {
            timeByZone.append(["zone": JSONValue(row.string("zone")), "seconds": .int(row.int("seconds") ?? 0), "amount": .int(row.int("amount") ?? 0)])
        }
        func listed(_ kind: String) throws -> [JSONValue] {
            try db.query("SELECT * FROM sales WHERE shift = ? AND kind = ? ORDER BY id", [id, .text(kind)]).map { row in
                ["sale": .int(row.int("id") ?? 0), "refers_to": row.int("refers_to").map { .int($0) } ?? .null,
                 "amount": .int(row.int("amount") ?? 0), "method": JSONValue(row.string("method")), "member": JSONValue(row.string("member")),
                 "by": JSONValue(row.string("by")), "reason": JSONValue(row.string("reason")),
                 "at": .string(ISO8601.string(fromMillis: row.int("at_ms") ?? 0))]
            }
        }
        func total(_ items: [JSONValue]) -> Int64 { items.reduce(0) { $0 + ($1.objectValue?["amount"]?.intValue ?? 0) } }
        let topups = try listed("topup"), refunds = try listed("refund"), voids = try listed("void")
        let payIns = try listed("pay_in"), payOuts = try listed("pay_out")
        let cashIn = try db.queryOne("SELECT COALESCE(SUM(amount), 0) AS n FROM ledger WHERE shift = ? AND from_account = 'tender:cash'", [id])?.int("n") ?? 0
        let cashOut = try db.queryOne("SELECT COALESCE(SUM(amount), 0) AS n FROM ledger WHERE shift = ? AND to_account = 'tender:cash'", [id])?.int("n") ?? 0
        let sales = try db.queryOne(
            "SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total FROM sales WHERE shift = ? AND kind IN \(saleKinds)", [id])
        let gross = sales?.int("total") ?? 0
        let expected = s.float + cashIn - cashOut
        var report: [String: JSONValue] = [
            "shift": .int(s.id), "type": .string(s.isOpen ? "X" : "Z"), "staff": .string(s.staff),
            "opened_at": .string(ISO8601.string(fromMillis: s.openedAtWallMillis)),
            "closed_at": s.closedAtWallMillis.map { .string(ISO8601.string(fromMillis: $0)) } ?? .null,
            "sales_count": .int(sales?.int("n") ?? 0), "sales_total": .int(gross),
            "sales_by_method": .object(byMethod.mapValues { .int($0) }), "sales_by_category": .array(byCategory), "time_by_zone": .array(timeByZone),
            "topups": .array(topups), "topups_total": .int(total(topups)), "refunds": .array(refunds), "refunds_total": .int(total(refunds)),
            "voids": .array(voids), "voids_total": .int(total(voids)), "pay_ins": .array(payIns), "pay_ins_total": .int(total(payIns)),
            "pay_outs": .array(payOuts), "pay_outs_total": .int(total(payOuts)),
            "net_sales": .int(gross - total(refunds) - total(voids)),
            "cash": ["float": .int(s.float), "cash_in": .int(cashIn), "cash_out": .int(cashOut), "expected": .int(expected),
                     "counted": s.counted.map { .int($0) } ?? .null, "difference": s.counted.map { .int($0 - expected) } ?? .null],
        ]
        if let note = s.closeNote { report["close_note"] = .string(note) }
        return .object(report)
    }
}

extension StoreRows {
    static func product(_ row: SQLiteRow) -> Result<Product, DamagedRow> {
        var r = Reader(row)
        let id = r.text("id", nonEmpty: true)
        let name = r.text("name")
        let category = r.text("category", nonEmpty: true)
        let price = r.int("price", atLeast: 1)
        let stock = r.optionalInt("stock", atLeast: 0)
        let low = r.optionalInt("low_stock", atLeast: 0)
        let active = r.flag("active")
        guard r.problems.isEmpty else { return .failure(r.damaged("products", blocksStart: true)) }
        return .success(Product(id: id, name: name, category: category, price: price, stock: stock, lowStock: low, active: active))
    }

    static func shift(_ row: SQLiteRow) -> ShiftRecord? {
        guard let id = row.int("id"), let staff = row.string("staff"), let opened = row.int("opened_at_ms"), let float = row.int("float") else { return nil }
        return ShiftRecord(
            id: id, staff: staff, openedAtWallMillis: opened, float: float, cashIn: row.int("cash_in") ?? 0, cashOut: row.int("cash_out") ?? 0,
            openNote: row.string("open_note"), closedAtWallMillis: row.int("closed_at_ms"), counted: row.int("counted"),
            closeNote: row.string("close_note"))
    }

    static func saleLine(_ row: SQLiteRow) -> SaleLine? {
        guard let line = row.int("line"), let kind = row.string("kind").flatMap(SaleLine.Kind.init(rawValue:)), let ref = row.string("ref"),
            let name = row.string("name"), let category = row.string("category"), let qty = row.int("qty"), let unit = row.int("unit_price"),
            let amount = row.int("amount"), let tax = row.int("tax"), let rate = row.int("tax_rate_bp")
        else { return nil }
        return SaleLine(
            line: Int(line), kind: kind, ref: ref, name: name, category: category, zone: row.string("zone"), quantity: qty, unitPrice: unit,
            amount: amount, tax: tax, taxRate: rate, seconds: row.int("seconds"), session: row.string("session"))
    }
}
