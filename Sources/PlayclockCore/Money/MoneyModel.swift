import PlayclockContract

/// A member account: who they are, their tier, their PIN for signing in at a station, and their
/// prepaid balance.
///
/// `balance` is a cache of the ledger: the sum of every entry into `member:<id>` minus every
/// entry out of it. The store rebuilds and checks it (`playclock db check`); the core keeps it in
/// step by moving money only through `LedgerEntry`s (`MoneyBook.post`).
public struct MemberAccount: Sendable, Equatable {
    public var id: String
    public var name: String
    public var contact: String?
    public var tier: String?
    /// The PIN's bcrypt hash; nil: the member cannot sign in at a station.
    public var pinHash: String?
    public var disabled: Bool
    public var createdAtWallMillis: Int64
    public var lastSeenWallMillis: Int64?
    public var balance: Int64
    /// Wrong PINs in a row since the last right one (or the end of a lock-out).
    public var failedPINs: Int
    /// Sign-in at stations is refused until then (wall ms), after too many wrong PINs.
    public var lockedUntilWallMillis: Int64?
    /// The session billed to this member's balance that is running now, if any.
    public var activeSession: String?

    public init(
        id: String, name: String, contact: String? = nil, tier: String? = nil, pinHash: String? = nil, disabled: Bool = false,
        createdAtWallMillis: Int64, lastSeenWallMillis: Int64? = nil, balance: Int64 = 0, failedPINs: Int = 0,
        lockedUntilWallMillis: Int64? = nil, activeSession: String? = nil
    ) {
        self.id = id
        self.name = name
        self.contact = contact
        self.tier = tier
        self.pinHash = pinHash
        self.disabled = disabled
        self.createdAtWallMillis = createdAtWallMillis
        self.lastSeenWallMillis = lastSeenWallMillis
        self.balance = balance
        self.failedPINs = failedPINs
        self.lockedUntilWallMillis = lockedUntilWallMillis
        self.activeSession = activeSession
    }

    public var ledgerAccount: LedgerAccount { .member(id) }
}

/// The accounts money moves between. Double entry: every entry takes `amount` out of one
/// account and puts it into another, so the sum of all balances is always zero.
///
/// - `tender:cash`, `tender:card`: money that came in (or went back) over the counter. Their
///   balances are negative: minus what the venue took that way.
/// - `member:<id>`: what the venue owes the member (their prepaid balance).
/// - `revenue:time`, `revenue:package`: what the venue earned.
/// - `due:postpaid`: what customers of pay-later sessions owe at the counter.
/// - `revenue:products`: products sold at the counter (by category in `sale_lines`).
/// - `tax:collected`: the taxes in counter sales, owed to the tax office.
/// - `drawer:adjustments`: cash paid into (`pay_in`) or out of (`pay_out`) the drawer outside a sale.
public enum LedgerAccount: Sendable, Hashable, CustomStringConvertible {
    case tender(PaymentTender)
    case member(String)
    case revenue(RevenueKind)
    case duePostpaid
    case taxCollected
    case drawerAdjustments

    public enum RevenueKind: String, Sendable, CaseIterable { case time, package, products }

    public var description: String {
        switch self {
        case .tender(let t): return "tender:\(t.rawValue)"
        case .member(let id): return "member:\(id)"
        case .revenue(let k): return "revenue:\(k.rawValue)"
        case .duePostpaid: return "due:postpaid"
        case .taxCollected: return "tax:collected"
        case .drawerAdjustments: return "drawer:adjustments"
        }
    }

    public init?(_ text: String) {
        if text == "due:postpaid" { self = .duePostpaid; return }
        if text == "tax:collected" { self = .taxCollected; return }
        if text == "drawer:adjustments" { self = .drawerAdjustments; return }
        if text.hasPrefix("tender:"), let t = PaymentTender(rawValue: String(text.dropFirst(7))) { self = .tender(t); return }
        if text.hasPrefix("revenue:"), let k = RevenueKind(rawValue: String(text.dropFirst(8))) { self = .revenue(k); return }
        if text.hasPrefix("member:"), MemberID.isValid(String(text.dropFirst(7))) { self = .member(String(text.dropFirst(7))); return }
        return nil
    }

    public var memberID: String? {
        if case .member(let id) = self { return id }
        return nil
    }
}

/// One movement of money: append-only, never changed or deleted.
public struct LedgerEntry: Sendable, Equatable {
    public var id: Int64
    public var atWallMillis: Int64
    public var from: LedgerAccount
    public var to: LedgerAccount
    /// Minor units, > 0.
    public var amount: Int64
    public var currency: String
    /// What the entry pays for.
    public var kind: SaleKind
    public var sale: Int64
    public var session: String?
    /// The staff account that moved it (nil: the hub itself, e.g. a balance session that expired,
    /// or a member signing in at a station).
    public var by: String?
    /// The cash shift it belongs to: the open shift of `by` when it was made (nil: none was open).
    public var shift: Int64?

    public init(
        id: Int64, atWallMillis: Int64, from: LedgerAccount, to: LedgerAccount, amount: Int64, currency: String, kind: SaleKind,
        sale: Int64, session: String?, by: String?, shift: Int64? = nil
    ) {
        self.shift = shift
        self.id = id
        self.atWallMillis = atWallMillis
        self.from = from
        self.to = to
        self.amount = amount
        self.currency = currency
        self.kind = kind
        self.sale = sale
        self.session = session
        self.by = by
    }
}

/// What a sale is (a row of `sales`, with its ledger entries).
public enum SaleKind: String, Sendable, CaseIterable {
    /// Minutes on a station, paid at the desk (cash, card or from an account).
    case time
    /// A package (a fixed time for a fixed price, or a pass until a clock time).
    case package
    /// Money put on a member's balance.
    case topup
    /// What a session billed to a balance (or paid later) cost, taken when it ended.
    case sessionCharge = "session_charge"
    /// Money given back for unused time or a wrong sale.
    case refund
    /// A sale made by mistake, reversed whole.
    case void
    /// A basket at the counter: products and/or time, paid in one or more payments.
    case basket
    /// Cash put into the drawer, or taken out of it, outside a sale (with a reason).
    case payIn = "pay_in"
    case payOut = "pay_out"
}

/// A sale and everything it moved, as stored. `detail` keeps what was sold at the price it was
/// sold for (the package or minutes, the plan's segments), so later price changes never touch it.
public struct SaleRecord: Sendable, Equatable {
    public var id: Int64
    public var kind: SaleKind
    public var atWallMillis: Int64
    public var amount: Int64
    public var currency: String
    /// `cash`, `card`, `account`, `balance` (a session charge), `later` (pay-later charge).
    public var method: String
    public var station: StationID?
    public var session: String?
    public var member: String?
    public var by: String?
    /// The sale a refund or void refers to.
    public var refersTo: Int64?
    public var reason: String?
    public var detail: JSONValue
    public var entries: [LedgerEntry]
    /// The cash shift of `by` that was open when it was made.
    public var shift: Int64?
    /// A basket's lines (empty for other sales).
    public var lines: [SaleLine]

    public init(
        id: Int64, kind: SaleKind, atWallMillis: Int64, amount: Int64, currency: String, method: String, station: StationID?,
        session: String?, member: String?, by: String?, refersTo: Int64? = nil, reason: String? = nil, detail: JSONValue,
        entries: [LedgerEntry], shift: Int64? = nil, lines: [SaleLine] = []
    ) {
        self.shift = shift
        self.lines = lines
        self.id = id
        self.kind = kind
        self.atWallMillis = atWallMillis
        self.amount = amount
        self.currency = currency
        self.method = method
        self.station = station
        self.session = session
        self.member = member
        self.by = by
        self.refersTo = refersTo
        self.reason = reason
        self.detail = detail
        self.entries = entries
    }
}

/// How a session is paid for, kept with it.
public struct SessionBilling: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        /// Paid at the desk when it was sold (the sales name it); nothing is charged at the end.
        case prepaid
        /// Runs on the member's balance: charged at the end by the plan, for the time used.
        case balance(member: String)
        /// Runs open-ended up to the plan's limit, charged at the end to `due:postpaid`.
        case postpaid
    }

    public var mode: Mode
    /// The plan as it was when the session started: a later price change does not touch it.
    public var plan: RatePlan?
    public var discountPercent: Int64
    /// The runs that ended (a pause ends one).
    public var closedRuns: [PricedRun]
    /// The run going on now: where it started (wall ms) and the session's used time then. nil while paused.
    public var openRunStartWallMillis: Int64?
    public var openRunUsedAtStart: Int64

    public init(
        mode: Mode, plan: RatePlan?, discountPercent: Int64, closedRuns: [PricedRun] = [], openRunStartWallMillis: Int64?,
        openRunUsedAtStart: Int64 = 0
    ) {
        self.mode = mode
        self.plan = plan
        self.discountPercent = discountPercent
        self.closedRuns = closedRuns
        self.openRunStartWallMillis = openRunStartWallMillis
        self.openRunUsedAtStart = openRunUsedAtStart
    }

    public var member: String? {
        if case .balance(let m) = mode { return m }
        return nil
    }

    /// `prepaid`, `balance` or `later`, as in the station state and events.
    public var modeName: String {
        switch mode {
        case .prepaid: return "prepaid"
        case .balance: return "balance"
        case .postpaid: return "later"
        }
    }

    /// Every run so far, the open one up to `used` (the session's used time now).
    public func runs(used: Int64) -> [PricedRun] {
        guard let start = openRunStartWallMillis else { return closedRuns }
        let length = max(0, used - openRunUsedAtStart)
        return closedRuns + (length > 0 ? [PricedRun(startWallMillis: start, durationMillis: length)] : [])
    }

    /// Ends the open run (a pause, or the end of the session).
    public mutating func closeRun(used: Int64) {
        closedRuns = runs(used: used)
        openRunStartWallMillis = nil
    }

    /// Starts a run (a resume).
    public mutating func openRun(atWallMillis wall: Int64, used: Int64) {
        closedRuns = runs(used: used)
        openRunStartWallMillis = wall
        openRunUsedAtStart = used
    }
}
