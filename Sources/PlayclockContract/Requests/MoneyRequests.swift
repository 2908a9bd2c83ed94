/// Money handed over the counter.
public enum PaymentTender: String, Sendable, CaseIterable { case cash, card }

/// How a desk sale is paid: cash, card, or from a member's balance (`account`).
public enum SalePayment: Sendable, Equatable {
    case tender(PaymentTender)
    case account(member: String)

    public var method: String {
        switch self {
        case .tender(let t): return t.rawValue
        case .account: return "account"
        }
    }

    public var json: JSONValue {
        switch self {
        case .tender(let t): return ["method": .string(t.rawValue)]
        case .account(let m): return ["method": "account", "member": .string(m)]
        }
    }
}

/// What a session is started with when money is involved.
public enum SessionPayment: Sendable, Equatable {
    /// Sold at the desk: `minutes`/`seconds` or a `package`, paid by `payment`.
    case desk(TimeItem, SalePayment)
    /// Runs on the member's balance while it lasts (`{"station","member"}`).
    case balance(member: String)
    /// Pay later: open-ended up to the plan's limit, charged when it ends (`"payment":{"method":"later"}`).
    case later
}

/// Time sold at the desk: a number of seconds at the station's rate, or a package.
public enum TimeItem: Sendable, Equatable {
    case seconds(Int64)
    case package(String)
}

/// A member's PIN in a request. The hub hashes a `plain` PIN (bcrypt) before the core sees the
/// command, so only `hashed` is ever stored; neither is ever logged or put in an event.
public enum MemberPIN: Sendable, Equatable, CustomStringConvertible {
    case plain(String)
    case hashed(String)

    public var description: String { "<pin>" }
}

/// What `member/add` creates.
public struct NewMember: Sendable, Equatable {
    public var id: String
    public var name: String
    public var contact: String?
    public var tier: String?
    public var pin: MemberPIN?

    public init(id: String, name: String, contact: String? = nil, tier: String? = nil, pin: MemberPIN? = nil) {
        self.id = id
        self.name = name
        self.contact = contact
        self.tier = tier
        self.pin = pin
    }
}

/// Bounds on money in requests.
public enum MoneyLimits {
    /// The largest amount (minor units) one request may move: 1,000,000.00 in a 2-digit currency.
    /// Anything larger is a typo or an attack, refused with `invalid_amount`.
    public static let maxAmount: Int64 = 100_000_000
    public static let maxNameLength = 64
    public static let maxContactLength = 120
    public static let maxReasonLength = 200
    /// The most members `member/find` answers with.
    public static let maxFindResults = 50
}

/// Decoding of the money verbs' bodies (called from `Request.parse`).
enum MoneyRequests {
    static func memberID(_ body: [String: JSONValue], _ key: String = "member") throws(CommandError) -> String {
        guard let value = body[key] else { throw CommandError(.invalidRequest, "\"\(key)\" is required") }
        guard let text = value.stringValue else { throw CommandError(.invalidRequest, "\"\(key)\" must be a string") }
        guard MemberID.isValid(text) else {
            throw CommandError(.invalidRequest, "\"\(key)\" must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-' (no '+', '#' or '/')")
        }
        return text
    }

    /// A whole, positive number of minor units, at most `MoneyLimits.maxAmount`. Fractions
    /// (`12.5`), strings, negatives and zero are refused: money is never a float. (`1250.0` and
    /// `1.25e3` are the same JSON number as `1250`: the decoder reads them as that whole number.)
    static func amount(_ body: [String: JSONValue], _ key: String = "amount") throws(CommandError) -> Int64 {
        guard let value = body[key] else { throw CommandError(.invalidAmount, "\"\(key)\" is required (a whole number of minor units, e.g. 1250 for 12.50)") }
        guard case .int(let n) = value else {
            throw CommandError(.invalidAmount, "\"\(key)\" must be a whole number of minor units (e.g. 1250 for 12.50), not \(describe(value))")
        }
        guard n > 0, n <= MoneyLimits.maxAmount else {
            throw CommandError(.invalidAmount, "\"\(key)\" must be between 1 and \(MoneyLimits.maxAmount) minor units")
        }
        return n
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .double: return "a fraction"
        case .string: return "a string"
        case .bool: return "true/false"
        case .null: return "null"
        case .array: return "a list"
        case .object: return "an object"
        case .int: return "a whole number"
        }
    }

    static func tender(_ value: JSONValue?, key: String = "method") throws(CommandError) -> PaymentTender {
        guard let text = value?.stringValue, let t = PaymentTender(rawValue: text) else {
            throw CommandError(.invalidPayment, "\"\(key)\" must be \"cash\" or \"card\"")
        }
        return t
    }

    /// `{"method": "cash" | "card"}` or `{"method": "account", "member": "<id>"}`.
    static func salePayment(_ value: JSONValue?) throws(CommandError) -> SalePayment {
        guard let object = value?.objectValue else {
            throw CommandError(.invalidPayment, "\"payment\" must be an object: {\"method\": \"cash\" | \"card\"} or {\"method\": \"account\", \"member\": \"<id>\"}")
        }
        try onlyKeys(object, ["method", "member"], in: "payment")
        switch object["method"]?.stringValue {
        case "cash"?, "card"?:
            guard object["member"] == nil else { throw CommandError(.invalidPayment, "\"payment.member\" goes only with \"method\": \"account\"") }
            return .tender(try tender(object["method"]))
        case "account"?:
            return .account(member: try memberID(object, "member"))
        default:
            throw CommandError(.invalidPayment, "\"payment.method\" must be \"cash\", \"card\" or \"account\" (\"later\" only for session/start)")
        }
    }

    /// `minutes`/`seconds` (exactly one) or `package`.
    static func timeItem(_ body: [String: JSONValue], limits: RequestLimits, duration: () throws(CommandError) -> Int64) throws(CommandError) -> TimeItem {
        if let package = body["package"] {
            guard body["minutes"] == nil, body["seconds"] == nil else {
                throw CommandError(.invalidRequest, "give either a \"package\" or \"minutes\"/\"seconds\", not both")
            }
            guard let id = package.stringValue, StationID.isValid(id) else {
                throw CommandError(.invalidRequest, "\"package\" must be a package id (1-64 characters of A-Z, a-z, 0-9, '_' or '-')")
            }
            return .package(id)
        }
        return .seconds(try duration())
    }

    static func text(_ body: [String: JSONValue], _ key: String, maxLength: Int, required: Bool) throws(CommandError) -> String? {
        guard let value = body[key], value != .null else {
            if required { throw CommandError(.invalidRequest, "\"\(key)\" is required") }
            return nil
        }
        guard let raw = value.stringValue, let text = DisplayText.normalized(raw, maxLength: maxLength) else {
            throw CommandError(.invalidRequest,
                "\"\(key)\" must be a string of 1-\(maxLength) characters (leading and trailing spaces are trimmed) without control characters")
        }
        return text
    }

    static func pin(_ value: JSONValue) throws(CommandError) -> MemberPIN {
        guard let text = value.stringValue, SignInRequest.isWellFormedPIN(text) else {
            throw CommandError(.invalidRequest, "\"pin\" must be a string of 4-12 digits")
        }
        return .plain(text)
    }

    static func saleID(_ body: [String: JSONValue]) throws(CommandError) -> Int64 {
        guard case .int(let n)? = body["sale"], n >= 1 else { throw CommandError(.invalidRequest, "\"sale\" must be a sale number (a whole number from 1)") }
        return n
    }

    static func onlyKeys(_ object: [String: JSONValue], _ allowed: Set<String>, in what: String) throws(CommandError) {
        if let extra = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw CommandError(.invalidRequest, "\(what) has an unknown key \"\(extra)\"; allowed: \(allowed.sorted().joined(separator: ", "))")
        }
    }

    /// A catalogue id given on its own (`{"plan": "standard"}` for `rate/remove`).
    static func catalogID(_ body: [String: JSONValue], _ key: String) throws(CommandError) -> String {
        guard let text = body[key]?.stringValue, StationID.isValid(text) else {
            throw CommandError(.invalidRequest, "\"\(key)\" must be an id: 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
        }
        return text
    }

    static func object(_ body: [String: JSONValue], _ key: String) throws(CommandError) -> JSONValue {
        guard let value = body[key], value.objectValue != nil else { throw CommandError(.invalidRequest, "\"\(key)\" must be an object") }
        return value
    }
}
