// The venue's price list (issue 13 "Money"): rate plans with a weekly schedule of rules, packages
// and member tiers, as one JSON catalogue. Parsing is strict (unknown keys, fractions and numbers
// out of range are refused with the path of the field) because a mistyped key that silently fell
// back to a default would charge customers the wrong price.

/// Bounds that keep every price computation inside `Int64` and every catalogue sane.
public enum PricingLimits {
    /// Highest hourly rate, in minor units. With `maxBilledMillis` and a percent factor the exact
    /// cost numerator stays below 2^63 (1e7 * 6.048e8 ms * 100 = 6.048e17).
    public static let maxPerHour: Int64 = 10_000_000
    /// Longest billed time one price computation covers: 7 days.
    public static let maxBilledMillis: Int64 = 7 * 86_400_000
    /// Largest fixed amount (a plan's minimum, a package's price), in minor units.
    public static let maxAmount: Int64 = 1_000_000_000_000
    /// Billing step bounds in seconds: one second to one day.
    public static let stepSeconds: ClosedRange<Int64> = 1...86_400
    /// How long a pay-later session a plan may allow, in minutes.
    public static let postpaidLimitMinutes: ClosedRange<Int64> = 1...1440
    /// A fixed-length package lasts at most the longest billed time.
    public static let packageMinutes: ClosedRange<Int64> = 1...(7 * 1440)
    /// How close to its end a pass may be sold before it runs to the next day's occurrence instead.
    public static let passMinMinutes: ClosedRange<Int64> = 0...1439
    /// Rules per plan: each rule adds cut points to every priced day.
    public static let maxRules = 64
    /// Longest id and name.
    public static let maxNameLength = 64
}

// MARK: - Time of the week

/// A day of the local week. Monday is index 0, as in ISO 8601.
public enum Weekday: String, Sendable, Equatable, Hashable, CaseIterable, Comparable {
    case mon, tue, wed, thu, fri, sat, sun

    /// 0 for Monday ... 6 for Sunday.
    public var index: Int { Self.allCases.firstIndex(of: self)! }

    /// The weekday of `index` modulo 7 (negative indices count back from Monday).
    public init(index: Int) { self = Self.allCases[((index % 7) + 7) % 7] }

    /// The day before: a span that crosses midnight started then.
    public var previous: Weekday { Weekday(index: index - 1) }

    public static func < (lhs: Weekday, rhs: Weekday) -> Bool { lhs.index < rhs.index }
}

/// A local clock time `HH:MM`, 00:00 to 24:00 (24:00 is the end of a day, for the end of a span).
public struct LocalTime: Sendable, Equatable, Hashable, Comparable, CustomStringConvertible {
    /// Minutes since local midnight, 0...1440.
    public let minuteOfDay: Int

    /// Exactly `HH:MM` with two digits each, hours 00-24, minutes 00-59, and 24 only as 24:00.
    public init?(_ text: String) {
        let b = Array(text.utf8)
        guard b.count == 5, b[2] == UInt8(ascii: ":"),
            [0, 1, 3, 4].allSatisfy({ b[$0] >= UInt8(ascii: "0") && b[$0] <= UInt8(ascii: "9") })
        else { return nil }
        let hours = Int(b[0] - 48) * 10 + Int(b[1] - 48)
        let minutes = Int(b[3] - 48) * 10 + Int(b[4] - 48)
        guard minutes < 60, hours < 24 || (hours == 24 && minutes == 0) else { return nil }
        minuteOfDay = hours * 60 + minutes
    }

    public init?(minuteOfDay: Int) {
        guard (0...1440).contains(minuteOfDay) else { return nil }
        self.minuteOfDay = minuteOfDay
    }

    /// `HH:MM`, as parsed.
    public var text: String {
        let h = minuteOfDay / 60, m = minuteOfDay % 60
        return (h < 10 ? "0" : "") + String(h) + ":" + (m < 10 ? "0" : "") + String(m)
    }

    public var description: String { text }

    public static func < (lhs: LocalTime, rhs: LocalTime) -> Bool { lhs.minuteOfDay < rhs.minuteOfDay }
}

/// Whether a weekly window `days` × `from`-`to` covers a local instant. `from < to` is a span
/// inside each listed day; `from >= to` starts on a listed day and runs past midnight into the
/// next (Fri 22:00-06:00 covers Fri 22:00 to Sat 06:00, 00:00-00:00 a whole day). Shared by rate
/// rules and package sale hours so both read the schedule the same way.
func weeklyWindowCovers(days: Set<Weekday>, from: Int, to: Int, weekday: Weekday, minute: Int) -> Bool {
    if from < to { return days.contains(weekday) && minute >= from && minute < to }
    return (days.contains(weekday) && minute >= from) || (days.contains(weekday.previous) && minute < to)
}

// MARK: - Rate plans

/// One line of a plan's weekly schedule: on `days`, from `from` to `to` local time, the hourly
/// rate is `perHour` instead of the plan's base rate.
public struct RateRule: Sendable, Equatable, Hashable {
    public var days: Set<Weekday>
    public var from: LocalTime
    public var to: LocalTime
    public var perHour: Int64

    public init(days: Set<Weekday>, from: LocalTime, to: LocalTime, perHour: Int64) {
        self.days = days
        self.from = from
        self.to = to
        self.perHour = perHour
    }

    /// Whether the rule covers local `minute` (0..<1440) of `weekday`; see `weeklyWindowCovers`.
    public func covers(weekday: Weekday, minute: Int) -> Bool {
        weeklyWindowCovers(days: days, from: from.minuteOfDay, to: to.minuteOfDay, weekday: weekday, minute: minute)
    }

    static let keys = ["days", "from", "to", "per_hour"]

    public static func parse(_ json: JSONValue, path: String = "rule") throws(CommandError) -> RateRule {
        let r = try PricingFields(json, path: path, known: keys)
        return RateRule(
            days: try r.days("days", required: true)!, from: try r.startTime("from"), to: try r.endTime("to"),
            perHour: try r.int("per_hour", 0...PricingLimits.maxPerHour))
    }

    public var json: JSONValue {
        [
            "days": .array(days.sorted().map { JSONValue($0) }), "from": .string(from.text), "to": .string(to.text),
            "per_hour": .int(perHour),
        ]
    }
}

/// How time at a station is charged: a base hourly rate, a billing step, a minimum, and a weekly
/// schedule of rules in local time that override the base rate.
public struct RatePlan: Sendable, Equatable, Hashable {
    public var id: String
    public var name: String
    /// The zones the plan applies to; nil for every zone.
    public var zones: [String]?
    /// The station kinds the plan applies to; nil for every kind.
    public var kinds: [StationKind]?
    public var perHour: Int64
    /// The billing step: time is charged in whole steps, and a started session pays at least one.
    public var stepSeconds: Int64
    /// The least a session on this plan costs, before discounts are irrelevant (it is not discounted).
    public var minimum: Int64
    /// In priority order: the first rule covering an instant sets its rate.
    public var rules: [RateRule]
    /// When set, the plan allows pay-later sessions up to this many minutes.
    public var postpaidLimitMinutes: Int64?

    public init(
        id: String, name: String, zones: [String]? = nil, kinds: [StationKind]? = nil, perHour: Int64, stepSeconds: Int64,
        minimum: Int64 = 0, rules: [RateRule] = [], postpaidLimitMinutes: Int64? = nil
    ) {
        self.id = id
        self.name = name
        self.zones = zones
        self.kinds = kinds
        self.perHour = perHour
        self.stepSeconds = stepSeconds
        self.minimum = minimum
        self.rules = rules
        self.postpaidLimitMinutes = postpaidLimitMinutes
    }

    /// Whether the plan prices a station in `zone` of `kind`: each list the plan gives must
    /// contain the station's value (a station without a zone matches only plans without `zones`).
    public func applies(zone: String?, kind: StationKind) -> Bool {
        if let zones {
            guard let zone, zones.contains(zone) else { return false }
        }
        if let kinds, !kinds.contains(kind) { return false }
        return true
    }

    /// The hourly rate at a local instant: the first covering rule's, else the base rate.
    public func perHour(weekday: Weekday, minute: Int) -> Int64 {
        for rule in rules where rule.covers(weekday: weekday, minute: minute) { return rule.perHour }
        return perHour
    }

    static let keys = ["id", "name", "zones", "kinds", "per_hour", "step_s", "minimum", "rules", "postpaid_limit_minutes"]

    public static func parse(_ json: JSONValue, path: String = "plan") throws(CommandError) -> RatePlan {
        let r = try PricingFields(json, path: path, known: keys)
        var rules: [RateRule] = []
        if let items = try r.optionalArray("rules", nonEmpty: false) {
            guard items.count <= PricingLimits.maxRules else {
                throw PricingFields.invalid(r.sub("rules"), "must have at most \(PricingLimits.maxRules) rules")
            }
            for (i, item) in items.enumerated() { rules.append(try RateRule.parse(item, path: r.sub("rules") + "[\(i)]")) }
        }
        var kinds: [StationKind]?
        if let items = try r.optionalArray("kinds", nonEmpty: true) {
            var parsed: [StationKind] = []
            for (i, item) in items.enumerated() {
                guard let text = item.stringValue, let kind = StationKind(text) else {
                    throw PricingFields.invalid(
                        r.sub("kinds") + "[\(i)]", "must be a station kind: a lower-case word of 1-16 letters, digits or '-'")
                }
                parsed.append(kind)
            }
            kinds = parsed
        }
        return RatePlan(
            id: try r.id("id"), name: try r.name("name"), zones: try r.zones("zones"), kinds: kinds,
            perHour: try r.int("per_hour", 0...PricingLimits.maxPerHour),
            stepSeconds: try r.int("step_s", PricingLimits.stepSeconds),
            minimum: try r.optionalInt("minimum", 0...PricingLimits.maxAmount) ?? 0, rules: rules,
            postpaidLimitMinutes: try r.optionalInt("postpaid_limit_minutes", PricingLimits.postpaidLimitMinutes))
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(id), "name": .string(name), "per_hour": .int(perHour), "step_s": .int(stepSeconds),
            "minimum": .int(minimum), "rules": .array(rules.map(\.json)),
        ]
        if let zones { fields["zones"] = .array(zones.map { .string($0) }) }
        if let kinds { fields["kinds"] = .array(kinds.map { .string($0.value) }) }
        if let postpaidLimitMinutes { fields["postpaid_limit_minutes"] = .int(postpaidLimitMinutes) }
        return .object(fields)
    }
}

// MARK: - Packages

/// A prepaid offer sold at a fixed price: a number of minutes, or a pass until a local clock time.
public struct PricePackage: Sendable, Equatable, Hashable {
    public enum Length: Sendable, Equatable, Hashable {
        /// A fixed duration.
        case minutes(Int64)
        /// Until the next local occurrence of the time after the sale; when that is less than
        /// `minMinutes` away, the occurrence after it.
        case until(LocalTime, minMinutes: Int64)
    }

    public var id: String
    public var name: String
    public var price: Int64
    public var length: Length
    /// The plans the package may be used on; nil for every plan.
    public var plans: [String]?
    /// The zones the package may be used in; nil for every zone.
    public var zones: [String]?
    /// Local sale hours (both or neither); `saleFrom >= saleTo` crosses midnight like a rule.
    public var saleFrom: LocalTime?
    public var saleTo: LocalTime?
    /// The local days it is sold on (the day a sale window starts); nil for every day.
    public var days: Set<Weekday>?
    /// Unix ms after which the package is no longer sold (it is still sold at this very instant).
    public var availableUntilMillis: Int64?

    public init(
        id: String, name: String, price: Int64, length: Length, plans: [String]? = nil, zones: [String]? = nil,
        saleFrom: LocalTime? = nil, saleTo: LocalTime? = nil, days: Set<Weekday>? = nil, availableUntilMillis: Int64? = nil
    ) {
        self.id = id
        self.name = name
        self.price = price
        self.length = length
        self.plans = plans
        self.zones = zones
        self.saleFrom = saleFrom
        self.saleTo = saleTo
        self.days = days
        self.availableUntilMillis = availableUntilMillis
    }

    /// Whether a local instant is inside the package's sale hours and days (not its
    /// `available_until`, which is an instant): the sale hours cross midnight like a rule's span,
    /// with `days` naming the day a window starts; days alone mean whole days.
    public func isInSaleWindow(weekday: Weekday, minute: Int) -> Bool {
        if let saleFrom, let saleTo {
            return weeklyWindowCovers(
                days: days ?? Set(Weekday.allCases), from: saleFrom.minuteOfDay, to: saleTo.minuteOfDay, weekday: weekday,
                minute: minute)
        }
        if let days { return days.contains(weekday) }
        return true
    }

    /// A pass's end when no `min_minutes` is given: one is not sold for less than half an hour.
    public static let defaultMinMinutes: Int64 = 30

    static let keys = [
        "id", "name", "price", "minutes", "until", "min_minutes", "plans", "zones", "sale_hours", "days", "available_until",
    ]

    public static func parse(_ json: JSONValue, path: String = "package") throws(CommandError) -> PricePackage {
        let r = try PricingFields(json, path: path, known: keys)
        let length: Length
        switch (r.value("minutes"), r.value("until")) {
        case (.some, .some):
            throw PricingFields.invalid(path, "must give either minutes or until, not both")
        case (nil, nil):
            throw PricingFields.invalid(path, "must give minutes or until")
        case (.some, nil):
            guard r.value("min_minutes") == nil else {
                throw PricingFields.invalid(r.sub("min_minutes"), "is only for a package with until")
            }
            length = .minutes(try r.int("minutes", PricingLimits.packageMinutes))
        case (nil, .some):
            length = .until(
                try r.startTime("until"),
                minMinutes: try r.optionalInt("min_minutes", PricingLimits.passMinMinutes) ?? defaultMinMinutes)
        }
        var plans: [String]?
        if let items = try r.optionalArray("plans", nonEmpty: true) {
            var ids: [String] = []
            for (i, item) in items.enumerated() {
                guard let text = item.stringValue, StationID.isValid(text) else {
                    throw PricingFields.invalid(
                        r.sub("plans") + "[\(i)]", "must be a plan id: 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
                }
                ids.append(text)
            }
            plans = ids
        }
        var saleFrom: LocalTime?, saleTo: LocalTime?
        if let hours = r.value("sale_hours") {
            let h = try PricingFields(hours, path: r.sub("sale_hours"), known: ["from", "to"])
            saleFrom = try h.startTime("from")
            saleTo = try h.endTime("to")
        }
        var availableUntil: Int64?
        if let value = r.value("available_until") {
            guard let text = value.stringValue, let millis = ISO8601.millis(fromUTC: text) else {
                throw PricingFields.invalid(
                    r.sub("available_until"), "must be an ISO 8601 UTC time like 2027-01-31T23:00:00Z")
            }
            availableUntil = millis
        }
        return PricePackage(
            id: try r.id("id"), name: try r.name("name"), price: try r.int("price", 0...PricingLimits.maxAmount),
            length: length, plans: plans, zones: try r.zones("zones"), saleFrom: saleFrom, saleTo: saleTo,
            days: try r.days("days", required: false), availableUntilMillis: availableUntil)
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = ["id": .string(id), "name": .string(name), "price": .int(price)]
        switch length {
        case .minutes(let minutes): fields["minutes"] = .int(minutes)
        case .until(let time, let minMinutes):
            fields["until"] = .string(time.text)
            fields["min_minutes"] = .int(minMinutes)
        }
        if let plans { fields["plans"] = .array(plans.map { .string($0) }) }
        if let zones { fields["zones"] = .array(zones.map { .string($0) }) }
        if let saleFrom, let saleTo { fields["sale_hours"] = ["from": .string(saleFrom.text), "to": .string(saleTo.text)] }
        if let days { fields["days"] = .array(days.sorted().map { JSONValue($0) }) }
        if let availableUntilMillis { fields["available_until"] = .string(ISO8601.string(fromMillis: availableUntilMillis)) }
        return .object(fields)
    }
}

// MARK: - Tiers

/// A membership level: its members pay `discountPercent` less for time and packages.
public struct MemberTier: Sendable, Equatable, Hashable {
    public var id: String
    public var name: String
    /// Whole percent, 0...100.
    public var discountPercent: Int64

    public init(id: String, name: String, discountPercent: Int64) {
        self.id = id
        self.name = name
        self.discountPercent = discountPercent
    }

    static let keys = ["id", "name", "discount_percent"]

    public static func parse(_ json: JSONValue, path: String = "tier") throws(CommandError) -> MemberTier {
        let r = try PricingFields(json, path: path, known: keys)
        return MemberTier(id: try r.id("id"), name: try r.name("name"), discountPercent: try r.int("discount_percent", 0...100))
    }

    public var json: JSONValue { ["id": .string(id), "name": .string(name), "discount_percent": .int(discountPercent)] }
}

// MARK: - Catalogue

/// The venue's whole price list: one currency, one IANA time zone, and the plans, packages and
/// tiers. Ids are unique within each list and every package names only plans that exist.
public struct PricingCatalog: Sendable, Equatable, Hashable {
    public var currency: Currency
    /// An IANA zone name (`Europe/Berlin`); the hub checks that it exists.
    public var timezone: String
    /// In priority order: the first plan that applies to a station prices it.
    public var plans: [RatePlan]
    public var packages: [PricePackage]
    public var tiers: [MemberTier]

    public init(currency: Currency, timezone: String, plans: [RatePlan] = [], packages: [PricePackage] = [], tiers: [MemberTier] = []) {
        self.currency = currency
        self.timezone = timezone
        self.plans = plans
        self.packages = packages
        self.tiers = tiers
    }

    static let keys = ["currency", "timezone", "plans", "packages", "tiers"]

    /// Whether `name` looks like an IANA zone name: 1-64 characters of A-Z, a-z, 0-9, `_+/-`.
    public static func isValidTimezoneName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2B
                || b == 0x2F || b == 0x2D
        }
    }

    public static func parse(_ json: JSONValue) throws(CommandError) -> PricingCatalog {
        let r = try PricingFields(json, path: "", known: keys)
        guard let code = r.value("currency")?.stringValue, let currency = Currency(code) else {
            throw PricingFields.invalid("currency", "must be an ISO 4217 code of 3 upper-case letters (EUR, USD, JPY)")
        }
        guard let timezone = r.value("timezone")?.stringValue, isValidTimezoneName(timezone) else {
            throw PricingFields.invalid(
                "timezone", "must be an IANA time zone name (Europe/Berlin) of 1-64 characters of A-Z, a-z, 0-9, '_', '+', '/' or '-'")
        }
        var plans: [RatePlan] = []
        for (i, item) in (try r.optionalArray("plans", nonEmpty: false) ?? []).enumerated() {
            let plan = try RatePlan.parse(item, path: "plans[\(i)]")
            guard !plans.contains(where: { $0.id == plan.id }) else {
                throw PricingFields.invalid("plans[\(i)].id", "repeats the id \"\(plan.id)\" of an earlier plan")
            }
            plans.append(plan)
        }
        var packages: [PricePackage] = []
        for (i, item) in (try r.optionalArray("packages", nonEmpty: false) ?? []).enumerated() {
            let package = try PricePackage.parse(item, path: "packages[\(i)]")
            guard !packages.contains(where: { $0.id == package.id }) else {
                throw PricingFields.invalid("packages[\(i)].id", "repeats the id \"\(package.id)\" of an earlier package")
            }
            for (j, planID) in (package.plans ?? []).enumerated() where !plans.contains(where: { $0.id == planID }) {
                throw PricingFields.invalid("packages[\(i)].plans[\(j)]", "names the plan \"\(planID)\", which does not exist")
            }
            packages.append(package)
        }
        var tiers: [MemberTier] = []
        for (i, item) in (try r.optionalArray("tiers", nonEmpty: false) ?? []).enumerated() {
            let tier = try MemberTier.parse(item, path: "tiers[\(i)]")
            guard !tiers.contains(where: { $0.id == tier.id }) else {
                throw PricingFields.invalid("tiers[\(i)].id", "repeats the id \"\(tier.id)\" of an earlier tier")
            }
            tiers.append(tier)
        }
        return PricingCatalog(currency: currency, timezone: timezone, plans: plans, packages: packages, tiers: tiers)
    }

    public var json: JSONValue {
        [
            "currency": .string(currency.code), "timezone": .string(timezone), "plans": .array(plans.map(\.json)),
            "packages": .array(packages.map(\.json)), "tiers": .array(tiers.map(\.json)),
        ]
    }

    /// The plan that prices a station: the first in list order that applies to it.
    public func plan(forZone zone: String?, kind: StationKind) -> RatePlan? {
        plans.first { $0.applies(zone: zone, kind: kind) }
    }

    public func plan(id: String) -> RatePlan? { plans.first { $0.id == id } }
    public func package(id: String) -> PricePackage? { packages.first { $0.id == id } }
    public func tier(id: String) -> MemberTier? { tiers.first { $0.id == id } }
}

// MARK: - ISO 8601 input

extension ISO8601 {
    /// Unix ms of a UTC time written `YYYY-MM-DDTHH:MM:SSZ` with optional fractional seconds of
    /// 1-9 digits (`.5`, `.123`, `.123456789`; digits past milliseconds are dropped). Only `Z` is
    /// accepted as the zone, so a price list cannot mean two instants depending on who reads it.
    public static func millis(fromUTC text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20, b.last == UInt8(ascii: "Z") else { return nil }
        var fraction: [UInt8] = []
        if b.count > 20 {
            guard b[19] == UInt8(ascii: "."), b.count <= 30 else { return nil }
            fraction = Array(b[20..<(b.count - 1)])
            guard !fraction.isEmpty, fraction.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                return nil
            }
        }
        var millisDigits = Array(fraction.prefix(3))
        while millisDigits.count < 3 { millisDigits.append(UInt8(ascii: "0")) }
        let canonical = String(decoding: b[0..<19] + [UInt8(ascii: ".")] + millisDigits + [UInt8(ascii: "Z")], as: UTF8.self)
        return millis(from: canonical)
    }
}

// MARK: - Field reading

/// One JSON object of the catalogue being read: every key must be known, and every refusal names
/// the field's path (`plans[1].rules[0].from must be HH:MM ...`) so staff can find it.
struct PricingFields {
    let path: String
    let fields: [String: JSONValue]

    init(_ json: JSONValue, path: String, known: [String]) throws(CommandError) {
        self.path = path
        guard let fields = json.objectValue else {
            throw Self.invalid(path.isEmpty ? "the pricing catalogue" : path, "must be a JSON object")
        }
        for key in fields.keys.sorted() where !known.contains(key) {
            throw Self.invalid(
                path.isEmpty ? key : "\(path).\(key)", "is not a known field (known: \(known.joined(separator: ", ")))")
        }
        self.fields = fields
    }

    static func invalid(_ path: String, _ text: String) -> CommandError { CommandError(.invalidRequest, "\(path) \(text)") }

    func sub(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The field, with `null` read as absent.
    func value(_ key: String) -> JSONValue? {
        guard let value = fields[key], value != .null else { return nil }
        return value
    }

    /// A JSON integer: the decoder turns whole numbers (`3`, `3.0`, `3e0`) into `.int`, so only
    /// fractions and numbers beyond Int64 arrive as `.double` and are refused here.
    static func integer(_ value: JSONValue, path: String, _ range: ClosedRange<Int64>) throws(CommandError) -> Int64 {
        guard case .int(let n) = value, range.contains(n) else {
            throw invalid(path, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    func int(_ key: String, _ range: ClosedRange<Int64>) throws(CommandError) -> Int64 {
        guard let value = value(key) else { throw Self.invalid(sub(key), "is required") }
        return try Self.integer(value, path: sub(key), range)
    }

    func optionalInt(_ key: String, _ range: ClosedRange<Int64>) throws(CommandError) -> Int64? {
        guard let value = value(key) else { return nil }
        return try Self.integer(value, path: sub(key), range)
    }

    func optionalArray(_ key: String, nonEmpty: Bool) throws(CommandError) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard let items = value.arrayValue, !(nonEmpty && items.isEmpty) else {
            throw Self.invalid(sub(key), nonEmpty ? "must be a non-empty list (leave it out to mean all)" : "must be a list")
        }
        return items
    }

    func id(_ key: String) throws(CommandError) -> String {
        guard let text = value(key)?.stringValue, StationID.isValid(text) else {
            throw Self.invalid(sub(key), "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
        }
        return text
    }

    func name(_ key: String) throws(CommandError) -> String {
        guard let text = value(key)?.stringValue, let name = DisplayText.normalized(text, maxLength: PricingLimits.maxNameLength)
        else {
            throw Self.invalid(
                sub(key),
                "must be a string of 1-\(PricingLimits.maxNameLength) characters (leading and trailing spaces are trimmed) without control characters")
        }
        return name
    }

    func zones(_ key: String) throws(CommandError) -> [String]? {
        guard let items = try optionalArray(key, nonEmpty: true) else { return nil }
        var zones: [String] = []
        for (i, item) in items.enumerated() {
            guard let text = item.stringValue, let zone = StationZone.normalized(text) else {
                throw Self.invalid(
                    sub(key) + "[\(i)]",
                    "must be a zone: 1-\(StationZone.maxLength) characters (leading and trailing spaces are trimmed) without control characters")
            }
            zones.append(zone)
        }
        return zones
    }

    func days(_ key: String, required: Bool) throws(CommandError) -> Set<Weekday>? {
        guard value(key) != nil else {
            if required { throw Self.invalid(sub(key), "is required") }
            return nil
        }
        var days: Set<Weekday> = []
        for (i, item) in try optionalArray(key, nonEmpty: true)!.enumerated() {
            guard let text = item.stringValue, let day = Weekday(rawValue: text) else {
                throw Self.invalid(sub(key) + "[\(i)]", "must be one of mon, tue, wed, thu, fri, sat, sun")
            }
            guard days.insert(day).inserted else { throw Self.invalid(sub(key) + "[\(i)]", "repeats \(text)") }
        }
        return days
    }

    /// The start of a span (or a pass's end): 00:00 to 23:59.
    func startTime(_ key: String) throws(CommandError) -> LocalTime {
        guard let text = value(key)?.stringValue, let time = LocalTime(text), time.minuteOfDay < 1440 else {
            throw Self.invalid(sub(key), "must be HH:MM from 00:00 to 23:59")
        }
        return time
    }

    /// The end of a span: 00:00 to 24:00.
    func endTime(_ key: String) throws(CommandError) -> LocalTime {
        guard let text = value(key)?.stringValue, let time = LocalTime(text) else {
            throw Self.invalid(sub(key), "must be HH:MM from 00:00 to 24:00")
        }
        return time
    }
}
