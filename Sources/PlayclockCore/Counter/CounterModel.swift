import PlayclockContract

/// A cashier's shift at the counter: the cash drawer from the float counted in at the start to
/// the cash counted out at the close. The running `cashIn`/`cashOut` are what the ledger moved
/// into and out of `tender:cash` under this shift (sales, top-ups, refunds, pay-ins, pay-outs),
/// so the drawer should hold `expected`; `playclock db check` recomputes them from the ledger.
public struct ShiftRecord: Sendable, Equatable {
    public var id: Int64
    /// The staff account whose shift it is (one open shift per account).
    public var staff: String
    public var openedAtWallMillis: Int64
    public var float: Int64
    public var cashIn: Int64
    public var cashOut: Int64
    public var openNote: String?
    public var closedAtWallMillis: Int64?
    public var counted: Int64?
    public var closeNote: String?

    public init(
        id: Int64, staff: String, openedAtWallMillis: Int64, float: Int64, cashIn: Int64 = 0, cashOut: Int64 = 0, openNote: String? = nil,
        closedAtWallMillis: Int64? = nil, counted: Int64? = nil, closeNote: String? = nil
    ) {
        self.id = id
        self.staff = staff
        self.openedAtWallMillis = openedAtWallMillis
        self.float = float
        self.cashIn = cashIn
        self.cashOut = cashOut
        self.openNote = openNote
        self.closedAtWallMillis = closedAtWallMillis
        self.counted = counted
        self.closeNote = closeNote
    }

    /// What the drawer should hold: the float plus the cash taken minus the cash given out.
    public var expected: Int64 { float + cashIn - cashOut }
    /// Counted minus expected (negative: cash is missing). nil while the shift is open.
    public var difference: Int64? { counted.map { $0 - expected } }
    public var isOpen: Bool { closedAtWallMillis == nil }
}

/// One line of a sale as it was sold, kept with the sale (and in `sale_lines` for reports):
/// the name and price of the moment, so a later catalogue change never touches it.
public struct SaleLine: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case product, time, package }

    public var line: Int
    public var kind: Kind
    /// The product id, or the station id for time.
    public var ref: String
    public var name: String
    /// The product's category, or `time` for time and packages (taxes and reports use it).
    public var category: String
    public var zone: String?
    public var quantity: Int64
    public var unitPrice: Int64
    /// What the customer pays for the line, tax included.
    public var amount: Int64
    /// The tax in `amount`.
    public var tax: Int64
    /// The tax rate in basis points (1900 = 19 %), 0 when none is set for the category.
    public var taxRate: Int64
    /// Time granted (time and packages).
    public var seconds: Int64?
    public var session: String?

    public init(
        line: Int, kind: Kind, ref: String, name: String, category: String, zone: String? = nil, quantity: Int64, unitPrice: Int64,
        amount: Int64, tax: Int64, taxRate: Int64, seconds: Int64? = nil, session: String? = nil
    ) {
        self.line = line
        self.kind = kind
        self.ref = ref
        self.name = name
        self.category = category
        self.zone = zone
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.amount = amount
        self.tax = tax
        self.taxRate = taxRate
        self.seconds = seconds
        self.session = session
    }

    public var net: Int64 { amount - tax }

    public var json: JSONValue {
        ["line": .int(Int64(line)), "kind": .string(kind.rawValue), "ref": .string(ref), "name": .string(name), "category": .string(category),
         "zone": JSONValue(zone), "qty": .int(quantity), "unit_price": .int(unitPrice), "amount": .int(amount), "tax": .int(tax),
         "tax_rate_bp": .int(taxRate), "seconds": seconds.map { .int($0) } ?? .null, "session": JSONValue(session)]
    }

    public init?(json: JSONValue) {
        guard let o = json.objectValue, case .int(let line)? = o["line"], let kind = o["kind"]?.stringValue.flatMap(Kind.init(rawValue:)),
            let ref = o["ref"]?.stringValue, let name = o["name"]?.stringValue, let category = o["category"]?.stringValue,
            case .int(let qty)? = o["qty"], case .int(let unit)? = o["unit_price"], case .int(let amount)? = o["amount"],
            case .int(let tax)? = o["tax"], case .int(let rate)? = o["tax_rate_bp"]
        else { return nil }
        var seconds: Int64?
        if case .int(let s)? = o["seconds"] { seconds = s }
        self.init(
            line: Int(line), kind: kind, ref: ref, name: name, category: category, zone: o["zone"]?.stringValue, quantity: qty, unitPrice: unit,
            amount: amount, tax: tax, taxRate: rate, seconds: seconds, session: o["session"]?.stringValue)
    }
}

/// How the counter taxes and guards cash, from the hub's config (`counter` section).
public struct CounterSettings: Sendable, Equatable {
    /// Product prices include their category's tax (true), or the tax is added on top (false).
    /// Time (rate plans, packages) is always priced tax included: it is the price on the board.
    public var pricesIncludeTax: Bool
    /// Basis points per category (`drinks`: 1900 is 19 %); the category `time` taxes time and packages.
    public var taxRates: [String: Int64]
    /// Cash movements are refused without an open shift of the account that makes them.
    public var cashRequiresShift: Bool

    public init(pricesIncludeTax: Bool = true, taxRates: [String: Int64] = [:], cashRequiresShift: Bool = false) {
        self.pricesIncludeTax = pricesIncludeTax
        self.taxRates = taxRates
        self.cashRequiresShift = cashRequiresShift
    }

    /// The most a rate may be: 100 %.
    public static let maxRate: Int64 = 10_000

    /// The tax of a line of `price` (tax included or not) at `rate`, rounded half up once per line.
    /// Returns what the customer pays and the tax in it.
    public static func taxed(price: Int64, rate: Int64, included: Bool) -> (amount: Int64, tax: Int64) {
        guard rate > 0 else { return (price, 0) }
        if included {
            // tax = price * r / (10000 + r), rounded half up.
            let tax = (price * rate * 2 + (10_000 + rate)) / ((10_000 + rate) * 2)
            return (price, tax)
        }
        let tax = (price * rate * 2 + 10_000) / 20_000
        return (price + tax, tax)
    }
}
