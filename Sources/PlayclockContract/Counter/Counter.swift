/// The counter: products sold over it, baskets, and the cash drawer's shifts.

/// A product on the counter's catalogue (a drink, a snack). `price` is in minor units, tax
/// included or not as the hub's `counter.prices_include_tax` says. `stock` nil: not counted.
public struct Product: Sendable, Equatable {
    public var id: String
    public var name: String
    /// An id-like category (`drinks`, `snacks`): reports group by it and taxes are set per category.
    public var category: String
    public var price: Int64
    public var stock: Int64?
    /// A `product.low_stock` event when a sale takes the stock to this or below.
    public var lowStock: Int64?
    public var active: Bool

    public init(id: String, name: String, category: String, price: Int64, stock: Int64? = nil, lowStock: Int64? = nil, active: Bool = true) {
        self.id = id
        self.name = name
        self.category = category
        self.price = price
        self.stock = stock
        self.lowStock = lowStock
        self.active = active
    }

    public static let maxStock: Int64 = 1_000_000

    public var json: JSONValue {
        ["product": .string(id), "name": .string(name), "category": .string(category), "price": .int(price),
         "stock": stock.map { .int($0) } ?? .null, "low_stock": lowStock.map { .int($0) } ?? .null, "active": .bool(active)]
    }

    /// Strict: unknown keys are refused and every error names its field.
    public static func parse(_ json: JSONValue, path: String = "product") throws(CommandError) -> Product {
        guard let o = json.objectValue else { throw CommandError(.invalidRequest, "\"\(path)\" must be an object") }
        try MoneyRequests.onlyKeys(o, ["product", "name", "category", "price", "stock", "low_stock", "active"], in: path)
        let id = try MoneyRequests.catalogID(o, "product")
        let name = try MoneyRequests.text(o, "name", maxLength: MoneyLimits.maxNameLength, required: true) ?? id
        let category = try MoneyRequests.catalogID(o, "category")
        let price = try MoneyRequests.amount(o, "price")
        func count(_ key: String) throws(CommandError) -> Int64? {
            guard let v = o[key], v != .null else { return nil }
            guard case .int(let n) = v, n >= 0, n <= maxStock else {
                throw CommandError(.invalidRequest, "\"\(path).\(key)\" must be a whole number from 0 to \(maxStock), or null")
            }
            return n
        }
        var active = true
        if let a = o["active"] {
            guard let b = a.boolValue else { throw CommandError(.invalidRequest, "\"\(path).active\" must be true or false") }
            active = b
        }
        return Product(id: id, name: name, category: category, price: price, stock: try count("stock"), lowStock: try count("low_stock"), active: active)
    }
}

/// One line of a basket: products, or time on a station (minutes/seconds or a package).
public enum BasketLine: Sendable, Equatable {
    case product(String, quantity: Int64)
    case time(StationID, TimeItem)

    public var json: JSONValue {
        switch self {
        case .product(let id, let q): return ["product": .string(id), "qty": .int(q)]
        case .time(let station, .seconds(let s)): return ["station": .string(station.value), "seconds": .int(s)]
        case .time(let station, .package(let p)): return ["station": .string(station.value), "package": .string(p)]
        }
    }
}

/// One payment of a basket. `amount` nil: the whole total (only when it is the one payment).
/// `tendered`: the cash handed over, for the change (cash only, at least `amount`).
public struct BasketPayment: Sendable, Equatable {
    public var method: SalePayment
    public var amount: Int64?
    public var tendered: Int64?

    public init(method: SalePayment, amount: Int64? = nil, tendered: Int64? = nil) {
        self.method = method
        self.amount = amount
        self.tendered = tendered
    }

    public var json: JSONValue {
        var o = method.json.objectValue ?? [:]
        if let amount { o["amount"] = .int(amount) }
        if let tendered { o["tendered"] = .int(tendered) }
        return .object(o)
    }
}

public enum CounterLimits {
    public static let maxBasketLines = 50
    public static let maxQuantity: Int64 = 999
    public static let maxPayments = 4
    public static let maxNoteLength = 200
}

/// Decoding of the counter verbs' bodies (called from `Request.parse`).
enum CounterRequests {
    static func basket(_ body: [String: JSONValue], limits: RequestLimits) throws(CommandError) -> (lines: [BasketLine], payments: [BasketPayment], member: String?) {
        try MoneyRequests.onlyKeys(body, ["items", "payments", "payment", "member", "transaction"], in: "the sale")
        guard case .array(let items)? = body["items"], !items.isEmpty else {
            throw CommandError(.invalidRequest, "\"items\" must be a list of 1-\(CounterLimits.maxBasketLines) lines: {\"product\", \"qty\"} or {\"station\", \"minutes\" | \"package\"}")
        }
        guard items.count <= CounterLimits.maxBasketLines else {
            throw CommandError(.invalidRequest, "a sale has at most \(CounterLimits.maxBasketLines) lines; this one has \(items.count)")
        }
        var lines: [BasketLine] = []
        for (i, item) in items.enumerated() {
            guard let o = item.objectValue else { throw CommandError(.invalidRequest, "\"items[\(i)]\" must be an object") }
            if o["product"] != nil {
                try MoneyRequests.onlyKeys(o, ["product", "qty"], in: "items[\(i)]")
                let id = try MoneyRequests.catalogID(o, "product")
                var qty: Int64 = 1
                if let q = o["qty"] {
                    guard case .int(let n) = q, n >= 1, n <= CounterLimits.maxQuantity else {
                        throw CommandError(.invalidRequest, "\"items[\(i)].qty\" must be a whole number from 1 to \(CounterLimits.maxQuantity)")
                    }
                    qty = n
                }
                lines.append(.product(id, quantity: qty))
            } else if o["station"] != nil {
                try MoneyRequests.onlyKeys(o, ["station", "minutes", "seconds", "package"], in: "items[\(i)]")
                guard let text = o["station"]?.stringValue, let station = StationID(text) else {
                    throw CommandError(.invalidStationID, "\"items[\(i)].station\" must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-' (no '+', '#' or '/')")
                }
                if lines.contains(where: { if case .time(station, _) = $0 { return true } else { return false } }) {
                    throw CommandError(.invalidRequest, "station \(station) is in the sale twice: sell its time in one line")
                }
                let item = try MoneyRequests.timeItem(o, limits: limits) { () throws(CommandError) in try Request.duration(o, limits) }
                lines.append(.time(station, item))
            } else {
                throw CommandError(.invalidRequest, "\"items[\(i)]\" must name a \"product\" or a \"station\"")
            }
        }
        var payments: [BasketPayment] = []
        if let single = body["payment"] {
            guard body["payments"] == nil else { throw CommandError(.invalidPayment, "give \"payment\" or \"payments\", not both") }
            payments = [try payment(single, path: "payment")]
        } else if case .array(let list)? = body["payments"], !list.isEmpty, list.count <= CounterLimits.maxPayments {
            for (i, p) in list.enumerated() { payments.append(try payment(p, path: "payments[\(i)]")) }
            if payments.count > 1, let i = payments.firstIndex(where: { $0.amount == nil }) {
                throw CommandError(.invalidPayment, "\"payments[\(i)].amount\" is required when a sale is split")
            }
        } else {
            throw CommandError(.invalidPayment, "\"payment\" (an object) or \"payments\" (a list of 1-\(CounterLimits.maxPayments)) is required")
        }
        let member = body["member"].flatMap { $0 == .null ? nil : $0 } == nil ? nil : try MoneyRequests.memberID(body)
        return (lines, payments, member)
    }

    static func payment(_ value: JSONValue, path: String) throws(CommandError) -> BasketPayment {
        guard var o = value.objectValue else { throw CommandError(.invalidPayment, "\"\(path)\" must be an object") }
        try MoneyRequests.onlyKeys(o, ["method", "member", "amount", "tendered"], in: path)
        let amount = o["amount"] == nil ? nil : try MoneyRequests.amount(o, "amount")
        let tendered = o["tendered"] == nil ? nil : try MoneyRequests.amount(o, "tendered")
        o["amount"] = nil
        o["tendered"] = nil
        let method = try MoneyRequests.salePayment(.object(o))
        if tendered != nil, method != .tender(.cash) {
            throw CommandError(.invalidPayment, "\"\(path).tendered\" is the cash handed over: it goes only with \"method\": \"cash\"")
        }
        return BasketPayment(method: method, amount: amount, tendered: tendered)
    }

    static func note(_ body: [String: JSONValue]) throws(CommandError) -> String? {
        try MoneyRequests.text(body, "note", maxLength: CounterLimits.maxNoteLength, required: false)
    }

    static func shiftID(_ body: [String: JSONValue]) throws(CommandError) -> Int64? {
        guard let v = body["shift"], v != .null else { return nil }
        guard case .int(let n) = v, n >= 1 else { throw CommandError(.invalidRequest, "\"shift\" must be a shift number (a whole number from 1)") }
        return n
    }

    /// A counted amount of cash: 0 is allowed (an empty drawer), fractions and negatives are not.
    static func counted(_ body: [String: JSONValue], _ key: String) throws(CommandError) -> Int64 {
        guard let value = body[key] else { throw CommandError(.invalidAmount, "\"\(key)\" is required (the cash counted, in minor units)") }
        guard case .int(let n) = value, n >= 0, n <= MoneyLimits.maxAmount else {
            throw CommandError(.invalidAmount, "\"\(key)\" must be a whole number of minor units from 0 to \(MoneyLimits.maxAmount)")
        }
        return n
    }
}
