import PlayclockContract

/// What the core is given about money when it is made: loaded from the store by the runtime.
public struct MoneyState: Sendable {
    public var catalog: PricingCatalog?
    public var members: [MemberAccount]
    public var lastSaleID: Int64
    public var lastLedgerID: Int64
    /// The venue's timezone (its UTC offsets), for prices by local time.
    public var offsets: any UTCOffsetProvider
    public var products: [Product]
    /// The shifts open when the hub stopped.
    public var openShifts: [ShiftRecord]
    public var lastShiftID: Int64
    public var counter: CounterSettings

    public init(
        catalog: PricingCatalog? = nil, members: [MemberAccount] = [], lastSaleID: Int64 = 0, lastLedgerID: Int64 = 0,
        offsets: any UTCOffsetProvider = FixedUTCOffset(seconds: 0), products: [Product] = [], openShifts: [ShiftRecord] = [],
        lastShiftID: Int64 = 0, counter: CounterSettings = CounterSettings()
    ) {
        self.products = products
        self.openShifts = openShifts
        self.lastShiftID = lastShiftID
        self.counter = counter
        self.catalog = catalog
        self.members = members
        self.lastSaleID = lastSaleID
        self.lastLedgerID = lastLedgerID
        self.offsets = offsets
    }
}

/// What the runtime looked up in the store for a command that needs it (the core holds no sales
/// history): the sale a refund or void names, and what was refunded of it already.
public struct CommandContext: Sendable {
    public var sale: SaleRecord?
    /// Refunds and voids already recorded against `sale`.
    public var refundedAmount: Int64
    public var voided: Bool
    /// The shift `shift/get` names, when it is not open (the core keeps only open shifts).
    public var shift: ShiftRecord?

    public init(sale: SaleRecord? = nil, refundedAmount: Int64 = 0, voided: Bool = false, shift: ShiftRecord? = nil) {
        self.shift = shift
        self.sale = sale
        self.refundedAmount = refundedAmount
        self.voided = voided
    }
}

extension PricingCatalog {
    /// Adds the plan, or replaces the one with its id (in place: the order decides which plan a
    /// station gets).
    mutating func set(_ plan: RatePlan) throws(CommandError) {
        if let i = plans.firstIndex(where: { $0.id == plan.id }) { plans[i] = plan } else { plans.append(plan) }
    }

    mutating func removePlan(_ id: String) throws(CommandError) {
        guard plans.contains(where: { $0.id == id }) else { throw CommandError(.unknownPlan, "there is no rate plan \(id)") }
        if let p = packages.first(where: { $0.plans?.contains(id) == true }) {
            throw CommandError(.invalidPricing, "package \(p.id) is valid for plan \(id): change or remove the package first")
        }
        plans.removeAll { $0.id == id }
    }

    mutating func set(_ package: PricePackage) throws(CommandError) {
        if let missing = package.plans?.first(where: { id in !plans.contains { $0.id == id } }) {
            throw CommandError(.unknownPlan, "package \(package.id) names plan \(missing), which does not exist")
        }
        if let i = packages.firstIndex(where: { $0.id == package.id }) { packages[i] = package } else { packages.append(package) }
    }

    mutating func removePackage(_ id: String) throws(CommandError) {
        guard packages.contains(where: { $0.id == id }) else { throw CommandError(.unknownPackage, "there is no package \(id)") }
        packages.removeAll { $0.id == id }
    }

    mutating func set(_ tier: MemberTier) throws(CommandError) {
        if let i = tiers.firstIndex(where: { $0.id == tier.id }) { tiers[i] = tier } else { tiers.append(tier) }
    }

    mutating func removeTier(_ id: String) throws(CommandError) {
        guard tiers.contains(where: { $0.id == id }) else { throw CommandError(.unknownTier, "there is no tier \(id)") }
        tiers.removeAll { $0.id == id }
    }
}
