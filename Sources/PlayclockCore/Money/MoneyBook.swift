import PlayclockContract

/// The money side of the core: the prices, the members and their balances, and the counters
/// that number sales and ledger entries.
///
/// Like `StationTable`, members are journaled while a change is open: the first write to each
/// member records what it replaced, so `rollBack` restores exactly what the change touched.
/// The catalogue and the counters are small and saved whole by the core's checkpoint.
struct MoneyBook: Sendable {
    var catalog: PricingCatalog?
    private(set) var members: [String: MemberAccount] = [:]
    var lastSaleID: Int64 = 0
    var lastLedgerID: Int64 = 0
    /// The counter's products, and the open cash shifts by staff account (journaled like members).
    private(set) var products: [String: Product] = [:]
    private(set) var openShifts: [String: ShiftRecord] = [:]
    var lastShiftID: Int64 = 0
    var counter: CounterSettings
    private var journal: [String: MemberAccount?]?
    private var productJournal: [String: Product?]?
    private var shiftJournal: [String: ShiftRecord?]?

    init(
        catalog: PricingCatalog?, members: [MemberAccount], lastSaleID: Int64, lastLedgerID: Int64, products: [Product] = [],
        openShifts: [ShiftRecord] = [], lastShiftID: Int64 = 0, counter: CounterSettings = CounterSettings()
    ) {
        self.catalog = catalog
        for m in members { self.members[m.id] = m }
        self.lastSaleID = lastSaleID
        self.lastLedgerID = lastLedgerID
        for p in products { self.products[p.id] = p }
        for s in openShifts where s.isOpen { self.openShifts[s.staff] = s }
        self.lastShiftID = lastShiftID
        self.counter = counter
    }

    subscript(product id: String) -> Product? {
        get { products[id] }
        set {
            if productJournal != nil, productJournal?.index(forKey: id) == nil { productJournal?.updateValue(products[id], forKey: id) }
            products[id] = newValue
        }
    }

    /// The open shift of a staff account.
    subscript(shiftOf staff: String) -> ShiftRecord? {
        get { openShifts[staff] }
        set {
            if shiftJournal != nil, shiftJournal?.index(forKey: staff) == nil { shiftJournal?.updateValue(openShifts[staff], forKey: staff) }
            openShifts[staff] = newValue
        }
    }

    subscript(member id: String) -> MemberAccount? {
        get { members[id] }
        set {
            if journal != nil, journal?.index(forKey: id) == nil { journal?.updateValue(members[id], forKey: id) }
            members[id] = newValue
        }
    }

    mutating func beginJournal() {
        journal = [:]
        productJournal = [:]
        shiftJournal = [:]
    }

    mutating func endJournal() {
        journal = nil
        productJournal = nil
        shiftJournal = nil
    }

    mutating func rollBackJournal() {
        for (id, old) in journal ?? [:] { members[id] = old }
        for (id, old) in productJournal ?? [:] { products[id] = old }
        for (staff, old) in shiftJournal ?? [:] { openShifts[staff] = old }
        endJournal()
    }

    var currency: String { catalog?.currency.code ?? "XXX" }

    /// `12.50 EUR`.
    func formatted(_ amount: Int64) -> String {
        catalog?.currency.formatted(amount) ?? "\(amount)"
    }

    /// A new sale's number: one more than the last, gapless (a refused change gives it back).
    mutating func nextSaleID() -> Int64 {
        lastSaleID += 1
        return lastSaleID
    }

    /// Makes the ledger entries of one sale and applies them to the members' cached balances.
    /// Every movement of money in the core goes through here.
    mutating func post(
        sale: Int64, kind: SaleKind, moves: [(from: LedgerAccount, to: LedgerAccount, amount: Int64)], session: String?, by: String?,
        atWallMillis: Int64, shift: Int64? = nil
    ) -> [LedgerEntry] {
        var entries: [LedgerEntry] = []
        for move in moves where move.amount > 0 {
            precondition(move.from != move.to, "a ledger entry moves money between two different accounts")
            lastLedgerID += 1
            entries.append(LedgerEntry(
                id: lastLedgerID, atWallMillis: atWallMillis, from: move.from, to: move.to, amount: move.amount, currency: currency,
                kind: kind, sale: sale, session: session, by: by, shift: shift))
            if let m = move.from.memberID { self[member: m]?.balance -= move.amount }
            if let m = move.to.memberID { self[member: m]?.balance += move.amount }
        }
        return entries
    }

    /// Members whose id or name contains `query` (case-insensitive), best matches first: an exact
    /// id, then ids and names that start with it, then the rest; at most `limit`.
    func find(_ query: String, limit: Int) -> [MemberAccount] {
        let q = query.lowercased()
        func rank(_ m: MemberAccount) -> Int? {
            let id = m.id.lowercased(), name = m.name.lowercased()
            if id == q { return 0 }
            if id.hasPrefix(q) || name.hasPrefix(q) { return 1 }
            if id.contains(q) || name.contains(q) { return 2 }
            return nil
        }
        return members.values.compactMap { m in rank(m).map { (m, $0) } }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0.id < $1.0.id }
            .prefix(limit).map(\.0)
    }

    var allMembers: [MemberAccount] { Array(members.values) }
}
