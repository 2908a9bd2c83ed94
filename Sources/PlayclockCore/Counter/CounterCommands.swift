import PlayclockContract

/// The counter: the product catalogue, baskets of products and time paid in one or more
/// payments, and the cashiers' shifts with their cash drawer.
extension HubCore {
    // MARK: - Products

    func productsJSON() -> JSONValue {
        let sorted = money.products.values.sorted { ($0.category, $0.name, $0.id) < ($1.category, $1.name, $1.id) }
        return ["products": .array(sorted.map(\.json)), "currency": .string(money.currency),
                "prices_include_tax": .bool(money.counter.pricesIncludeTax)]
    }

    mutating func setProduct(_ product: Product, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        _ = try catalog()
        let old = money[product: product.id]
        money[product: product.id] = product
        return (product.json, [
            .saveProduct(product),
            event(.productChanged, station: nil, session: nil, data: [
                "product": .string(product.id), "change": .string(old == nil ? "added" : "updated"), "price": .int(product.price),
                "stock": product.stock.map { .int($0) } ?? .null, "active": .bool(product.active),
            ], now: now),
        ])
    }

    /// Takes a product off the catalogue. Its sales keep its name and price in their lines.
    mutating func removeProduct(_ id: String, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        guard money[product: id] != nil else { throw CommandError(.unknownProduct, "there is no product \(id)") }
        money[product: id] = nil
        return (["product": .string(id), "removed": true], [
            .deleteProduct(id),
            event(.productChanged, station: nil, session: nil, data: ["product": .string(id), "change": "removed"], now: now),
        ])
    }

    /// Puts the products of a voided basket back on the shelf (those still counted).
    mutating func restock(_ lines: [SaleLine]) -> [HubAction] {
        var actions: [HubAction] = []
        for line in lines where line.kind == .product {
            guard var p = money[product: line.ref], let stock = p.stock else { continue }
            p.stock = min(Product.maxStock, stock + line.quantity)
            money[product: line.ref] = p
            actions.append(.saveProduct(p))
        }
        return actions
    }

    // MARK: - Shifts

    /// Cash moves only inside a shift of the account that moves it (`counter.cash_requires_shift`).
    func requireCashShift(_ actor: String?) throws(CommandError) {
        guard money.counter.cashRequiresShift else { return }
        guard let actor, money[shiftOf: actor] != nil else {
            throw CommandError(.noShift, actor == nil
                ? "cash needs an open shift, and this request has no staff account: send it as a signed-in account"
                : "\(actor) has no open shift: open one with the float in the drawer (shift/open) before taking or giving cash")
        }
    }

    func shiftJSON(_ s: ShiftRecord) -> JSONValue {
        ["shift": .int(s.id), "staff": .string(s.staff), "opened_at": .string(ISO8601.string(fromMillis: s.openedAtWallMillis)),
         "closed_at": s.closedAtWallMillis.map { .string(ISO8601.string(fromMillis: $0)) } ?? .null,
         "open": .bool(s.isOpen), "float": .int(s.float), "cash_in": .int(s.cashIn), "cash_out": .int(s.cashOut),
         "expected_cash": .int(s.expected), "counted_cash": s.counted.map { .int($0) } ?? .null,
         "difference": s.difference.map { .int($0) } ?? .null, "currency": .string(money.currency),
         "expected_text": .string(money.formatted(s.expected)),
         "difference_text": s.difference.map { .string(money.formatted($0)) } ?? .null,
         "open_note": JSONValue(s.openNote), "close_note": JSONValue(s.closeNote)]
    }

    mutating func openShift(float: Int64, note: String?, now: Timestamp, actor: String?) throws(CommandError) -> (JSONValue, [HubAction]) {
        guard let actor else { throw CommandError(.noShift, "a shift belongs to a staff account: send shift/open as a signed-in account") }
        if let open = money[shiftOf: actor] {
            throw CommandError(.shiftOpen, "\(actor) has shift \(open.id) open since \(ISO8601.string(fromMillis: open.openedAtWallMillis)): close it first")
        }
        money.lastShiftID += 1
        let shift = ShiftRecord(id: money.lastShiftID, staff: actor, openedAtWallMillis: now.wallMillis, float: float, openNote: note)
        money[shiftOf: actor] = shift
        return (shiftJSON(shift), [
            .saveShift(shift),
            event(.shiftOpened, station: nil, session: nil, data: ["shift": .int(shift.id), "float": .int(float)], now: now),
        ])
    }

    /// Closes the account's shift with the cash counted. The store works out the Z report from the
    /// shift's entries in the same transaction; the hub answers with it.
    mutating func closeShift(counted: Int64, note: String?, now: Timestamp, actor: String?) throws(CommandError) -> (JSONValue, [HubAction]) {
        guard let actor, var shift = money[shiftOf: actor] else {
            throw CommandError(.noShift, "\(actor ?? "this request") has no open shift to close")
        }
        shift.closedAtWallMillis = now.wallMillis
        shift.counted = counted
        shift.closeNote = note
        money[shiftOf: actor] = nil
        return (shiftJSON(shift), [
            .saveShift(shift),
            event(.shiftClosed, station: nil, session: nil, data: [
                "shift": .int(shift.id), "expected_cash": .int(shift.expected), "counted_cash": .int(counted),
                "difference": .int(shift.difference ?? 0),
            ], now: now),
        ])
    }

    /// Cash paid into the drawer (change from the bank) or out of it (a delivery paid in cash).
    mutating func moveDrawerCash(
        _ kind: SaleKind, amount: Int64, reason: String, now: Timestamp, actor: String?
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        _ = try catalog()
        guard let actor, let shift = money[shiftOf: actor] else {
            throw CommandError(.noShift, "\(actor ?? "this request") has no open shift: cash moves in and out of the drawer only during one")
        }
        let moves: [(from: LedgerAccount, to: LedgerAccount, amount: Int64)]
        if kind == .payOut {
            guard amount <= shift.expected else {
                throw CommandError(.invalidAmount, "the drawer should hold \(money.formatted(shift.expected)); a pay-out of \(money.formatted(amount)) is more than that")
            }
            moves = [(.drawerAdjustments, .tender(.cash), amount)]
        } else {
            moves = [(.tender(.cash), .drawerAdjustments, amount)]
        }
        let (sale, actions) = sell(
            kind, amount: amount, method: "cash", moves: moves, station: nil, session: nil, member: nil, reason: reason, detail: [:],
            event: kind == .payOut ? .drawerPayOut : .drawerPayIn, now: now, actor: actor)
        let open = money[shiftOf: actor] ?? shift
        return (merged(saleJSON(sale), ["shift": shiftJSON(open)]), actions)
    }

    /// `shift/get`: the account's open shift (no id), or the shift with that id (open in the core,
    /// or closed and read from the store by the hub). The hub adds the report's figures.
    func shiftSummary(_ id: Int64?, context: CommandContext, now: Timestamp, actor: String?) throws(CommandError) -> (JSONValue, [HubAction]) {
        guard let id else {
            guard let actor, let open = money[shiftOf: actor] else {
                throw CommandError(.noShift, "\(actor ?? "this request") has no open shift; name a closed one with \"shift\"")
            }
            return (shiftJSON(open), [])
        }
        if let open = money.openShifts.values.first(where: { $0.id == id }) { return (shiftJSON(open), []) }
        guard let closed = context.shift, closed.id == id else { throw CommandError(.unknownShift, "there is no shift \(id)") }
        return (shiftJSON(closed), [])
    }

    // MARK: - Baskets

    /// One basket: products and time on stations, priced now, paid by one or more payments that
    /// must add up to the total; one sale with its lines and ledger entries, the sessions it starts
    /// or extends, and the stock it takes, all in one change. Called on a scratch copy of the core
    /// (see `route`), so a refusal at any point leaves the real one untouched.
    mutating func sellBasket(
        _ items: [BasketLine], payments: [BasketPayment], member memberID: String?, newSessionID: String, now: Timestamp, actor: String?
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        _ = try catalog()
        let accountMembers = payments.compactMap { p -> String? in if case .account(let m) = p.method { return m } else { return nil } }
        let discountMember = try (memberID ?? accountMembers.first).map { id throws(CommandError) in try usableMember(id) }
        let counter = money.counter

        // Price every line and check it can be sold, before anything changes.
        struct TimeSale { var line: Int; var station: StationID; var grantedMillis: Int64; var starts: Bool; var revenue: LedgerAccount.RevenueKind }
        var lines: [SaleLine] = []
        var timeSales: [TimeSale] = []
        var taken: [String: Int64] = [:]
        for item in items {
            let number = lines.count + 1
            switch item {
            case .product(let id, let qty):
                guard let p = money[product: id] else { throw CommandError(.unknownProduct, "there is no product \(id)") }
                guard p.active else { throw CommandError(.productUnavailable, "product \(id) (\(p.name)) is not on sale") }
                taken[id, default: 0] += qty
                if let stock = p.stock, stock < taken[id] ?? 0 {
                    throw CommandError(.productUnavailable, "product \(id) (\(p.name)) has \(stock) left; the sale asks for \(taken[id] ?? 0)")
                }
                let rate = counter.taxRates[p.category] ?? 0
                let (amount, tax) = CounterSettings.taxed(price: p.price * qty, rate: rate, included: counter.pricesIncludeTax)
                lines.append(SaleLine(
                    line: number, kind: .product, ref: id, name: p.name, category: p.category, quantity: qty, unitPrice: p.price,
                    amount: amount, tax: tax, taxRate: rate))
            case .time(let station, let time):
                let entry = try entry(station)
                guard !entry.station.maintenance else { throw CommandError(.maintenance, "station \(station) is in maintenance") }
                var startWall = now.wallMillis
                if let session = entry.session {
                    try requireDeskExtendable(session, station)
                    startWall += session.remainingMillis(at: now)
                }
                let price = try deskPrice(entry, item: time, member: discountMember, startWall: startWall, now: now)
                let rate = counter.taxRates["time"] ?? 0
                let (amount, tax) = CounterSettings.taxed(price: price.amount, rate: rate, included: true)
                let name: String
                if case .package(let pid) = time, let package = money.catalog?.package(id: pid) {
                    name = "\(package.name) · \(entry.station.name)"
                } else {
                    name = "\(seconds(price.grantedMillis) / 60) min · \(entry.station.name)"
                }
                lines.append(SaleLine(
                    line: number, kind: price.revenue == .package ? .package : .time, ref: station.value, name: name, category: "time",
                    zone: entry.station.zone, quantity: 1, unitPrice: amount, amount: amount, tax: tax, taxRate: rate,
                    seconds: seconds(price.grantedMillis)))
                timeSales.append(TimeSale(
                    line: lines.count - 1, station: station, grantedMillis: price.grantedMillis, starts: entry.session == nil, revenue: price.revenue))
            }
        }
        let total = lines.reduce(Int64(0)) { $0 + $1.amount }
        guard total <= MoneyLimits.maxAmount else {
            throw CommandError(.invalidAmount, "the sale's total \(money.formatted(total)) is more than one sale may be (\(money.formatted(MoneyLimits.maxAmount)))")
        }

        // The payments: they add up to the total; cash may be tendered with change given.
        var paid: [(payment: BasketPayment, amount: Int64)] = []
        for p in payments { paid.append((p, p.amount ?? total)) }
        let sum = paid.reduce(Int64(0)) { $0 + $1.amount }
        guard sum == total else {
            throw CommandError(.paymentMismatch, "the payments add up to \(money.formatted(sum)); the sale's total is \(money.formatted(total))")
        }
        var change: Int64 = 0
        for (p, amount) in paid {
            if let tendered = p.tendered {
                guard tendered >= amount else {
                    throw CommandError(.invalidPayment, "\(money.formatted(tendered)) in cash does not cover the \(money.formatted(amount)) paid in cash")
                }
                change += tendered - amount
            }
        }
        var fromAccounts: [String: Int64] = [:]
        for (p, amount) in paid { if case .account(let m) = p.method { fromAccounts[m, default: 0] += amount } }
        for (id, amount) in fromAccounts.sorted(by: { $0.key < $1.key }) { try requireAvailable(try usableMember(id), amount, now: now) }
        if paid.contains(where: { $0.payment.method == .tender(.cash) }) { try requireCashShift(actor) }

        // Everything checks out: start or extend the sessions, take the stock, post the sale.
        var actions: [HubAction] = []
        var sessions: [JSONValue] = []
        for (n, t) in timeSales.enumerated() {
            let result: (JSONValue, [HubAction])
            if t.starts {
                let sid = n == 0 ? newSessionID : "\(newSessionID)-\(n + 1)"
                let billing = SessionBilling(mode: .prepaid, plan: nil, discountPercent: 0, openRunStartWallMillis: nil)
                result = try startSession(t.station, millis: t.grantedMillis, sessionID: sid, now: now, billing: billing)
                lines[t.line].session = sid
            } else {
                result = try extendSession(t.station, millis: t.grantedMillis, now: now)
                lines[t.line].session = entries[t.station]?.session?.id
            }
            actions += result.1
            sessions.append(result.0)
        }
        for (id, qty) in taken.sorted(by: { $0.key < $1.key }) {
            guard var p = money[product: id] else { continue }
            if let stock = p.stock {
                p.stock = stock - qty
                money[product: id] = p
                actions.append(.saveProduct(p))
                if let low = p.lowStock, stock > low, stock - qty <= low {
                    actions.append(event(.productLowStock, station: nil, session: nil, data: [
                        "product": .string(id), "name": .string(p.name), "stock": .int(stock - qty), "low_stock": .int(low),
                    ], now: now))
                }
            }
        }
        let moves = Self.allocate(payments: paid.map { (source($0.payment.method), $0.amount) }, to: Self.buckets(lines, timeSales.map { ($0.line, $0.revenue) }))
        let timeLines = lines.filter { $0.kind != .product }
        var detail: [String: JSONValue] = [
            "lines": .array(lines.map(\.json)), "total": .int(total), "tax": .int(lines.reduce(0) { $0 + $1.tax }), "change": .int(change),
            "payments": .array(paid.map { p, amount in
                var o = p.method.json.objectValue ?? [:]
                o["amount"] = .int(amount)
                if let t = p.tendered { o["tendered"] = .int(t); o["change"] = .int(t - amount) }
                return .object(o)
            }),
        ]
        if let m = discountMember { detail["discount_percent"] = .int(discount(of: m)) }
        let (sale, saleActions) = sell(
            .basket, amount: total, method: paid.count == 1 ? paid[0].payment.method.method : "split", moves: moves,
            station: timeLines.count == 1 ? StationID(timeLines[0].ref) : nil, session: timeLines.count == 1 ? timeLines[0].session : nil,
            member: discountMember?.id ?? accountMembers.first, detail: .object(detail), event: .saleCompleted, now: now, actor: actor,
            lines: lines)
        actions += saleActions
        for m in fromAccounts.keys.sorted() { actions += regrant(member: m, now: now) }
        var data = saleJSON(sale).objectValue ?? [:]
        data["lines"] = .array(lines.map(\.json))
        data["change"] = .int(change)
        data["change_text"] = .string(money.formatted(change))
        data["tax"] = detail["tax"]
        data["payments"] = detail["payments"]
        data["sessions"] = .array(sessions)
        return (.object(data), actions)
    }

    /// Where a basket's money goes: the net of each kind of line to its revenue account, the taxes
    /// to `tax:collected`.
    static func buckets(_ lines: [SaleLine], _ timeRevenue: [(Int, LedgerAccount.RevenueKind)]) -> [(LedgerAccount, Int64)] {
        var products: Int64 = 0, time: Int64 = 0, package: Int64 = 0, tax: Int64 = 0
        let kinds = Dictionary(timeRevenue, uniquingKeysWith: { a, _ in a })
        for (i, line) in lines.enumerated() {
            tax += line.tax
            switch line.kind == .product ? .products : (kinds[i] ?? .time) {
            case .products: products += line.net
            case .package: package += line.net
            case .time: time += line.net
            }
        }
        return [(.revenue(.products), products), (.revenue(.time), time), (.revenue(.package), package), (.taxCollected, tax)]
            .filter { $0.1 > 0 }
    }

    /// Splits the payments over the buckets in order, so each ledger entry names one payer and one
    /// destination and the entries add up exactly to both sides.
    static func allocate(payments: [(LedgerAccount, Int64)], to buckets: [(LedgerAccount, Int64)]) -> [(from: LedgerAccount, to: LedgerAccount, amount: Int64)] {
        var moves: [(from: LedgerAccount, to: LedgerAccount, amount: Int64)] = []
        var left = buckets
        var b = 0
        for (source, amount) in payments {
            var due = amount
            while due > 0, b < left.count {
                let take = min(due, left[b].1)
                if take > 0 {
                    if let i = moves.firstIndex(where: { $0.from == source && $0.to == left[b].0 }) { moves[i].amount += take }
                    else { moves.append((source, left[b].0, take)) }
                }
                due -= take
                left[b].1 -= take
                if left[b].1 == 0 { b += 1 }
            }
        }
        return moves
    }
}
