import PlayclockContract
import PlayclockCore
import PlayclockSQLite

/// The money invariants `playclock db check` verifies. Each broken one is a `problem` naming the
/// rows, so `db check` exits non-zero with a report a person can act on.
extension HubStore {
    func checkMoney(into report: inout StoreCheckReport, pageSize: Int64) {
        func problem(_ text: String) { report.problems.append("money: \(text)") }
        func each(_ sql: String, _ body: (SQLiteRow) -> Void) {
            do { for row in try db.query(sql) { body(row) } } catch { problem("cannot check (\(Self.plain(error))): \(sql.prefix(60))...") }
        }
        do {
            report.members = Int(try db.queryOne("SELECT COUNT(*) AS n FROM members")?.int("n") ?? 0)
            report.sales = Int(try db.queryOne("SELECT COUNT(*) AS n FROM sales")?.int("n") ?? 0)
            report.ledgerEntries = Int(try db.queryOne("SELECT COUNT(*) AS n FROM ledger")?.int("n") ?? 0)
        } catch {
            problem("cannot count members, sales and ledger entries: \(Self.plain(error))")
            return
        }

        // Every member's balance equals the sum of their entries, and is never below zero.
        var balances: [String: Int64] = [:]
        do { balances = try ledgerBalances() } catch { problem("cannot add up the ledger: \(Self.plain(error))") }
        var memberIDs: Set<String> = []
        each("SELECT rowid AS row_id, * FROM members ORDER BY id") { row in
            switch StoreRows.member(row) {
            case .failure(let damaged): report.damagedRows.append(damaged)
            case .success(let m):
                memberIDs.insert(m.id)
                let derived = balances[m.id] ?? 0
                if derived != m.balance {
                    problem("member \(m.id): the balance column says \(m.balance), the ledger entries add up to \(derived)")
                }
                if derived < 0 { problem("member \(m.id): the balance is \(derived), below zero") }
            }
        }
        for (id, _) in balances where !memberIDs.contains(id) { problem("ledger entries move money for member \(id), who does not exist") }

        // Every entry names known accounts and an existing sale, in the venue's one currency.
        each("SELECT id, from_account, to_account FROM ledger") { row in
            for column in ["from_account", "to_account"] where row.string(column).flatMap(LedgerAccount.init) == nil {
                problem("ledger entry \(row.int("id") ?? 0): \(column) \(row.string(column) ?? "NULL") is not an account")
            }
        }
        each("SELECT l.id AS id, l.sale AS sale FROM ledger l LEFT JOIN sales s ON s.id = l.sale WHERE s.id IS NULL") { row in
            problem("ledger entry \(row.int("id") ?? 0) belongs to sale \(row.int("sale") ?? 0), which does not exist")
        }
        each("SELECT DISTINCT currency FROM ledger UNION SELECT DISTINCT currency FROM sales") { row in
            report.notes.append("money is recorded in \(row.string("currency") ?? "?")")
        }
        if report.notes.filter({ $0.hasPrefix("money is recorded in") }).count > 1 {
            problem("money is recorded in more than one currency")
        }

        // Every sale has ledger entries moving exactly its amount.
        each(
            """
            SELECT s.id AS id, s.kind AS kind, s.amount AS amount, COALESCE(SUM(l.amount), 0) AS moved FROM sales s
            LEFT JOIN ledger l ON l.sale = s.id GROUP BY s.id HAVING moved <> s.amount
            """
        ) { row in
            problem("sale \(row.int("id") ?? 0) (\(row.string("kind") ?? "?")) is for \(row.int("amount") ?? 0) but its ledger entries move \(row.int("moved") ?? 0)")
        }

        // Every session charge equals its priced segments (plus the plan's minimum, if it applied).
        each("SELECT id, amount, detail FROM sales WHERE kind = 'session_charge'") { row in
            let id = row.int("id") ?? 0
            guard let text = row.string("detail"), let detail = (try? JSONCoding.decode(Array(text.utf8)))?.objectValue,
                let segments = detail["segments"]?.arrayValue
            else { return problem("session charge \(id) has no priced segments") }
            let sum = segments.reduce(Int64(0)) { $0 + ($1.objectValue?["amount"]?.intValue ?? 0) }
            let priced = sum + (detail["minimum_extra"]?.intValue ?? 0)
            let expected = detail["capped_at_balance"]?.intValue ?? priced
            if expected != row.int("amount") {
                problem("session charge \(id) is \(row.int("amount") ?? 0) but its segments add up to \(priced)")
            }
            if detail["amount"]?.intValue.map({ $0 != priced }) == true {
                problem("session charge \(id): the price's amount \(detail["amount"]?.intValue ?? 0) differs from its segments \(priced)")
            }
        }

        // Refunds never exceed what they refer to; a sale is voided at most once, whole, and never refunded as well.
        each(
            """
            SELECT r.refers_to AS sale, SUM(r.amount) AS refunded, o.amount AS amount, o.id AS original FROM sales r
            LEFT JOIN sales o ON o.id = r.refers_to WHERE r.kind = 'refund' GROUP BY r.refers_to
            """
        ) { row in
            guard row.int("original") != nil else { return problem("refunds refer to sale \(row.int("sale") ?? 0), which does not exist") }
            if (row.int("refunded") ?? 0) > (row.int("amount") ?? 0) {
                problem("sale \(row.int("sale") ?? 0) of \(row.int("amount") ?? 0) was refunded \(row.int("refunded") ?? 0)")
            }
        }
        each(
            """
            SELECT v.refers_to AS sale, COUNT(*) AS n, SUM(v.amount) AS voided, o.amount AS amount, o.id AS original,
                (SELECT COUNT(*) FROM sales r WHERE r.refers_to = v.refers_to AND r.kind = 'refund') AS refunds
            FROM sales v LEFT JOIN sales o ON o.id = v.refers_to WHERE v.kind = 'void' GROUP BY v.refers_to
            """
        ) { row in
            let sale = row.int("sale") ?? 0
            guard row.int("original") != nil else { return problem("a void refers to sale \(sale), which does not exist") }
            if (row.int("n") ?? 0) > 1 { problem("sale \(sale) was voided \(row.int("n") ?? 0) times") }
            if row.int("voided") != row.int("amount"), row.int("n") == 1 { problem("the void of sale \(sale) does not reverse its whole amount") }
            if (row.int("refunds") ?? 0) > 0 { problem("sale \(sale) was both refunded and voided") }
        }

        // Every ended balance or pay-later session was charged once; running ones are their member's.
        each(
            """
            SELECT s.id AS id, json_extract(s.billing, '$.mode') AS mode,
                (SELECT COUNT(*) FROM sales c WHERE c.session = s.id AND c.kind = 'session_charge') AS charges
            FROM sessions s WHERE s.billing IS NOT NULL AND s.ended_at_ms IS NOT NULL AND json_extract(s.billing, '$.mode') IN ('balance', 'later')
            """
        ) { row in
            let n = row.int("charges") ?? 0
            if n != 1 { problem("ended \(row.string("mode") ?? "") session \(row.string("id") ?? "?") was charged \(n) times, not once") }
        }
        each(
            """
            SELECT s.id AS id, json_extract(s.billing, '$.member') AS member, m.active_session AS active FROM sessions s
            LEFT JOIN members m ON m.id = json_extract(s.billing, '$.member')
            WHERE s.ended_at_ms IS NULL AND json_extract(s.billing, '$.mode') = 'balance'
            """
        ) { row in
            if row.string("active") != row.string("id") {
                problem("running session \(row.string("id") ?? "?") is billed to member \(row.string("member") ?? "?"), whose active session is \(row.string("active") ?? "none")")
            }
        }
        each("SELECT s.id AS id, s.session AS session FROM sales s LEFT JOIN sessions x ON x.id = s.session WHERE s.session IS NOT NULL AND x.id IS NULL") { row in
            problem("sale \(row.int("id") ?? 0) paid for session \(row.string("session") ?? "?"), which does not exist")
        }

        guard report.schemaVersion >= 6 else { return }
        // The counter: a basket's lines add up to it; every shift's cash figures are its ledger's.
        each(
            """
            SELECT s.id AS id, s.amount AS amount, COALESCE(SUM(l.amount), 0) AS lines FROM sales s
            LEFT JOIN sale_lines l ON l.sale = s.id WHERE s.kind = 'basket' GROUP BY s.id HAVING lines <> s.amount
            """
        ) { row in
            problem("counter sale \(row.int("id") ?? 0) is for \(row.int("amount") ?? 0) but its lines add up to \(row.int("lines") ?? 0)")
        }
        each(
            """
            SELECT id, closed_at_ms, cash_in, cash_out, report,
                (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE shift = shifts.id AND from_account = 'tender:cash') AS ledger_in,
                (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE shift = shifts.id AND to_account = 'tender:cash') AS ledger_out
            FROM shifts
            """
        ) { row in
            let id = row.int("id") ?? 0
            if row.int("cash_in") != row.int("ledger_in") || row.int("cash_out") != row.int("ledger_out") {
                problem("shift \(id) says cash in \(row.int("cash_in") ?? 0) / out \(row.int("cash_out") ?? 0); its ledger entries move \(row.int("ledger_in") ?? 0) / \(row.int("ledger_out") ?? 0)")
            }
            if row.int("closed_at_ms") != nil, row.string("report") == nil { problem("closed shift \(id) has no Z report") }
        }
        each("SELECT l.id AS id, l.shift AS shift FROM ledger l LEFT JOIN shifts s ON s.id = l.shift WHERE l.shift IS NOT NULL AND s.id IS NULL") { row in
            problem("ledger entry \(row.int("id") ?? 0) belongs to shift \(row.int("shift") ?? 0), which does not exist")
        }
    }
}
