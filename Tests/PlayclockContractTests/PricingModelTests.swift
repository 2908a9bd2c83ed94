import PlayclockContract
import Testing

@Suite("Pricing model")
struct PricingModelTests {
    /// A catalogue that uses every field at least once.
    static let fullText = """
        {
          "currency": "EUR",
          "timezone": "Europe/Berlin",
          "plans": [
            {"id": "pc-standard", "name": " PC standard ", "zones": ["PC floor", " VIP room "], "kinds": ["pc"],
             "per_hour": 400, "step_s": 900, "minimum": 200, "postpaid_limit_minutes": 180,
             "rules": [
               {"days": ["fri", "sat"], "from": "22:00", "to": "06:00", "per_hour": 300},
               {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "14:00", "to": "17:00", "per_hour": 250},
               {"days": ["sun"], "from": "00:00", "to": "24:00", "per_hour": 350}
             ]},
            {"id": "console", "name": "Consoles", "kinds": ["console", "vr"], "per_hour": 600, "step_s": 60},
            {"id": "catch_all", "name": "Everything else", "per_hour": 500, "step_s": 1, "minimum": 0, "rules": []}
          ],
          "packages": [
            {"id": "3h", "name": "Three hours", "price": 1000, "minutes": 180, "plans": ["pc-standard", "console"]},
            {"id": "night", "name": "Night pass", "price": 1500, "until": "08:00", "min_minutes": 45,
             "zones": ["PC floor"], "sale_hours": {"from": "20:00", "to": "02:00"}, "days": ["fri", "sat"],
             "available_until": "2027-01-31T23:00:00Z"},
            {"id": "morning", "name": "Morning", "price": 500, "until": "12:00"}
          ],
          "tiers": [
            {"id": "silver", "name": "Silver", "discount_percent": 10},
            {"id": "gold", "name": "Gold", "discount_percent": 25}
          ]
        }
        """

    static func decode(_ text: String) -> JSONValue {
        try! JSONCoding.decode(Array(text.utf8))
    }

    /// The refusal of `json`, or nil when it parses.
    static func refusal(_ json: JSONValue) -> CommandError? {
        do {
            _ = try PricingCatalog.parse(json)
            return nil
        } catch {
            return error
        }
    }

    /// The full catalogue with one object's field replaced (nil removes it).
    static func modified(_ list: String?, _ index: Int, _ key: String, _ value: JSONValue?) -> JSONValue {
        guard case .object(var root) = decode(fullText) else { fatalError("fixture") }
        guard let list else {
            root[key] = value
            return .object(root)
        }
        guard case .array(var items) = root[list], case .object(var item) = items[index] else { fatalError("fixture") }
        item[key] = value
        items[index] = .object(item)
        root[list] = .array(items)
        return .object(root)
    }

    // MARK: round trip

    @Test func theFullCatalogueParsesWithEveryField() throws {
        let catalog = try PricingCatalog.parse(Self.decode(Self.fullText))
        #expect(catalog.currency == Currency("EUR"))
        #expect(catalog.timezone == "Europe/Berlin")
        #expect(catalog.plans.map(\.id) == ["pc-standard", "console", "catch_all"])
        let pc = catalog.plans[0]
        #expect(pc.name == "PC standard")  // trimmed
        #expect(pc.zones == ["PC floor", "VIP room"])
        #expect(pc.kinds == [.pc])
        #expect(pc.perHour == 400 && pc.stepSeconds == 900 && pc.minimum == 200 && pc.postpaidLimitMinutes == 180)
        #expect(
            pc.rules[0]
                == RateRule(days: [.fri, .sat], from: LocalTime("22:00")!, to: LocalTime("06:00")!, perHour: 300))
        #expect(pc.rules[2].to.minuteOfDay == 1440)
        #expect(catalog.plans[1].kinds == [.console, StationKind("vr")!])
        #expect(catalog.plans[1].minimum == 0 && catalog.plans[1].rules.isEmpty && catalog.plans[1].zones == nil)
        #expect(catalog.plans[1].postpaidLimitMinutes == nil)

        #expect(catalog.packages[0].length == .minutes(180))
        #expect(catalog.packages[0].plans == ["pc-standard", "console"])
        let night = catalog.packages[1]
        #expect(night.length == .until(LocalTime("08:00")!, minMinutes: 45))
        #expect(night.zones == ["PC floor"])
        #expect(night.saleFrom == LocalTime("20:00") && night.saleTo == LocalTime("02:00"))
        #expect(night.days == [.fri, .sat])
        #expect(night.availableUntilMillis == 1_801_436_400_000)  // 2027-01-31T23:00:00Z
        #expect(catalog.packages[2].length == .until(LocalTime("12:00")!, minMinutes: PricePackage.defaultMinMinutes))
        #expect(catalog.packages[2].saleFrom == nil && catalog.packages[2].days == nil)

        #expect(catalog.tiers == [MemberTier(id: "silver", name: "Silver", discountPercent: 10),
                                  MemberTier(id: "gold", name: "Gold", discountPercent: 25)])
    }

    @Test func encodingAndParsingAgainGivesTheSameCatalogue() throws {
        let catalog = try PricingCatalog.parse(Self.decode(Self.fullText))
        let bytes = JSONCoding.encode(catalog.json)
        let again = try PricingCatalog.parse(try JSONCoding.decode(bytes))
        #expect(again == catalog)
        #expect(JSONCoding.encode(again.json) == bytes)
        // The encoding is canonical: defaults written out, days in week order, times as HH:MM.
        let night = catalog.json["packages"]?.arrayValue?[1]
        #expect(night?["days"] == ["fri", "sat"])
        #expect(night?["sale_hours"] == ["from": "20:00", "to": "02:00"])
        #expect(night?["available_until"] == "2027-01-31T23:00:00.000Z")
        #expect(catalog.json["packages"]?.arrayValue?[2]["min_minutes"] == 30)
        #expect(catalog.json["plans"]?.arrayValue?[1]["minimum"] == 0)
    }

    @Test func lookupsFindTheFirstApplyingPlanAndEachId() throws {
        let catalog = try PricingCatalog.parse(Self.decode(Self.fullText))
        #expect(catalog.plan(forZone: "VIP room", kind: .pc)?.id == "pc-standard")
        #expect(catalog.plan(forZone: "Lounge", kind: .pc)?.id == "catch_all")
        #expect(catalog.plan(forZone: nil, kind: .pc)?.id == "catch_all")  // zones given: a station without one misses
        #expect(catalog.plan(forZone: "VIP room", kind: .console)?.id == "console")
        #expect(catalog.plan(forZone: nil, kind: StationKind("vr")!)?.id == "console")
        #expect(catalog.plan(id: "console")?.perHour == 600)
        #expect(catalog.plan(id: "nope") == nil)
        #expect(catalog.package(id: "night")?.price == 1500)
        #expect(catalog.tier(id: "gold")?.discountPercent == 25)
        #expect(catalog.tier(id: "bronze") == nil)

        let none = try PricingCatalog.parse(["currency": "EUR", "timezone": "UTC"])
        #expect(none.plans.isEmpty && none.packages.isEmpty && none.tiers.isEmpty)
        #expect(none.plan(forZone: nil, kind: .pc) == nil)
    }

    @Test func aStandalonePlanUsesItsOwnPath() {
        #expect(throws: CommandError(.invalidRequest, "plan.step_s is required")) {
            try RatePlan.parse(["id": "a", "name": "A", "per_hour": 1])
        }
        #expect(throws: CommandError(.invalidRequest, "tier.discount_percent must be a whole number from 0 to 100")) {
            try MemberTier.parse(["id": "a", "name": "A", "discount_percent": 101])
        }
    }

    // MARK: refusals

    struct Refusal: Sendable, CustomTestStringConvertible {
        let json: JSONValue
        let message: String
        let testDescription: String

        init(_ label: String, _ json: JSONValue, _ message: String) {
            self.json = json
            self.message = message
            testDescription = label
        }
    }

    static let refusals: [Refusal] = [
        Refusal("unknown key in a plan", modified("plans", 1, "perhour", 600),
            "plans[1].perhour is not a known field (known: id, name, zones, kinds, per_hour, step_s, minimum, rules, postpaid_limit_minutes)"),
        Refusal("unknown key at the top", modified(nil, 0, "zone", "Europe/Berlin"),
            "zone is not a known field (known: currency, timezone, plans, packages, tiers)"),
        Refusal("unknown key in a rule", {
            guard case .object(var root) = decode(fullText), case .array(var plans) = root["plans"],
                case .object(var plan) = plans[0], case .array(var rules) = plan["rules"], case .object(var rule) = rules[1]
            else { fatalError("fixture") }
            rule["price"] = 1
            rules[1] = .object(rule)
            plan["rules"] = .array(rules)
            plans[0] = .object(plan)
            root["plans"] = .array(plans)
            return .object(root)
        }(), "plans[0].rules[1].price is not a known field (known: days, from, to, per_hour)"),
        Refusal("unknown key in sale hours", modified("packages", 1, "sale_hours", ["from": "20:00", "until": "02:00"]),
            "packages[1].sale_hours.until is not a known field (known: from, to)"),
        Refusal("missing per_hour", modified("plans", 1, "per_hour", nil), "plans[1].per_hour is required"),
        Refusal("fraction", decode(fullText.replacingFirst("\"per_hour\": 600", with: "\"per_hour\": 1.5")),
            "plans[1].per_hour must be a whole number from 0 to 10000000"),
        Refusal("number beyond Int64", decode(fullText.replacingFirst("\"price\": 500", with: "\"price\": 1e30")),
            "packages[2].price must be a whole number from 0 to 1000000000000"),
        Refusal("string for a number", modified("plans", 0, "minimum", "200"),
            "plans[0].minimum must be a whole number from 0 to 1000000000000"),
        Refusal("negative minimum", modified("plans", 0, "minimum", -1),
            "plans[0].minimum must be a whole number from 0 to 1000000000000"),
        Refusal("negative price", modified("packages", 0, "price", -100),
            "packages[0].price must be a whole number from 0 to 1000000000000"),
        Refusal("zero step", modified("plans", 2, "step_s", 0), "plans[2].step_s must be a whole number from 1 to 86400"),
        Refusal("step over a day", modified("plans", 2, "step_s", 86_401), "plans[2].step_s must be a whole number from 1 to 86400"),
        Refusal("per_hour too big", modified("plans", 2, "per_hour", 10_000_001),
            "plans[2].per_hour must be a whole number from 0 to 10000000"),
        Refusal("postpaid limit zero", modified("plans", 0, "postpaid_limit_minutes", 0),
            "plans[0].postpaid_limit_minutes must be a whole number from 1 to 1440"),
        Refusal("discount over 100", {
            guard case .object(var root) = decode(fullText) else { fatalError("fixture") }
            root["tiers"] = [["id": "vip", "name": "VIP", "discount_percent": 150]]
            return .object(root)
        }(), "tiers[0].discount_percent must be a whole number from 0 to 100"),
        Refusal("bad HH:MM", decode(fullText.replacingFirst("\"from\": \"22:00\"", with: "\"from\": \"22h00\"")),
            "plans[0].rules[0].from must be HH:MM from 00:00 to 23:59"),
        Refusal("one-digit hour", decode(fullText.replacingFirst("\"from\": \"22:00\"", with: "\"from\": \"9:00\"")),
            "plans[0].rules[0].from must be HH:MM from 00:00 to 23:59"),
        Refusal("24:00 as a start", decode(fullText.replacingFirst("\"from\": \"22:00\"", with: "\"from\": \"24:00\"")),
            "plans[0].rules[0].from must be HH:MM from 00:00 to 23:59"),
        Refusal("24:30 as an end", decode(fullText.replacingFirst("\"to\": \"06:00\"", with: "\"to\": \"24:30\"")),
            "plans[0].rules[0].to must be HH:MM from 00:00 to 24:00"),
        Refusal("minute 60", decode(fullText.replacingFirst("\"until\": \"08:00\"", with: "\"until\": \"08:60\"")),
            "packages[1].until must be HH:MM from 00:00 to 23:59"),
        Refusal("unknown weekday", decode(fullText.replacingFirst("[\"fri\", \"sat\"]", with: "[\"fri\", \"sa\"]")),
            "plans[0].rules[0].days[1] must be one of mon, tue, wed, thu, fri, sat, sun"),
        Refusal("capitalised weekday", decode(fullText.replacingFirst("[\"sun\"]", with: "[\"Sun\"]")),
            "plans[0].rules[2].days[0] must be one of mon, tue, wed, thu, fri, sat, sun"),
        Refusal("repeated weekday", decode(fullText.replacingFirst("[\"sun\"]", with: "[\"sun\", \"sun\"]")),
            "plans[0].rules[2].days[1] repeats sun"),
        Refusal("no days", decode(fullText.replacingFirst("[\"sun\"]", with: "[]")),
            "plans[0].rules[2].days must be a non-empty list (leave it out to mean all)"),
        Refusal("duplicate plan id", modified("plans", 2, "id", "console"),
            "plans[2].id repeats the id \"console\" of an earlier plan"),
        Refusal("duplicate package id", modified("packages", 2, "id", "3h"),
            "packages[2].id repeats the id \"3h\" of an earlier package"),
        Refusal("package naming an unknown plan", modified("packages", 0, "plans", ["pc-standard", "vr-room"]),
            "packages[0].plans[1] names the plan \"vr-room\", which does not exist"),
        Refusal("bad currency", modified(nil, 0, "currency", "eur"),
            "currency must be an ISO 4217 code of 3 upper-case letters (EUR, USD, JPY)"),
        Refusal("four-letter currency", modified(nil, 0, "currency", "EURO"),
            "currency must be an ISO 4217 code of 3 upper-case letters (EUR, USD, JPY)"),
        Refusal("missing currency", modified(nil, 0, "currency", nil),
            "currency must be an ISO 4217 code of 3 upper-case letters (EUR, USD, JPY)"),
        Refusal("bad timezone", modified(nil, 0, "timezone", "Europe/Berlin; rm"),
            "timezone must be an IANA time zone name (Europe/Berlin) of 1-64 characters of A-Z, a-z, 0-9, '_', '+', '/' or '-'"),
        Refusal("bad id", modified("plans", 0, "id", "pc standard"),
            "plans[0].id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"),
        Refusal("blank name", modified("tiers", 1, "name", "   "),
            "tiers[1].name must be a string of 1-64 characters (leading and trailing spaces are trimmed) without control characters"),
        Refusal("control character in a name", modified("packages", 0, "name", "Three\u{7}hours"),
            "packages[0].name must be a string of 1-64 characters (leading and trailing spaces are trimmed) without control characters"),
        Refusal("empty zones", modified("plans", 0, "zones", []),
            "plans[0].zones must be a non-empty list (leave it out to mean all)"),
        Refusal("bad kind", modified("plans", 1, "kinds", ["console", "VR"]),
            "plans[1].kinds[1] must be a station kind: a lower-case word of 1-16 letters, digits or '-'"),
        Refusal("minutes and until", modified("packages", 0, "until", "08:00"),
            "packages[0] must give either minutes or until, not both"),
        Refusal("neither minutes nor until", modified("packages", 0, "minutes", nil), "packages[0] must give minutes or until"),
        Refusal("min_minutes without until", modified("packages", 0, "min_minutes", 10),
            "packages[0].min_minutes is only for a package with until"),
        Refusal("package longer than a week", modified("packages", 0, "minutes", 10_081),
            "packages[0].minutes must be a whole number from 1 to 10080"),
        Refusal("available_until with an offset", modified("packages", 1, "available_until", "2027-01-31T23:00:00+01:00"),
            "packages[1].available_until must be an ISO 8601 UTC time like 2027-01-31T23:00:00Z"),
        Refusal("available_until on a day that does not exist", modified("packages", 1, "available_until", "2027-02-30T23:00:00Z"),
            "packages[1].available_until must be an ISO 8601 UTC time like 2027-01-31T23:00:00Z"),
        Refusal("a plan that is not an object", {
            guard case .object(var root) = decode(fullText) else { fatalError("fixture") }
            root["plans"] = ["pc-standard"]
            return .object(root)
        }(), "plans[0] must be a JSON object"),
        Refusal("a catalogue that is not an object", ["EUR"], "the pricing catalogue must be a JSON object"),
    ]

    @Test(arguments: refusals)
    func everyRefusalNamesItsPath(_ refusal: Refusal) {
        #expect(Self.refusal(refusal.json) == CommandError(.invalidRequest, refusal.message))
    }

    @Test func wholeNumbersWrittenWithAnExponentAreWholeNumbers() throws {
        // The JSON decoder turns every whole number into .int however it is written, so `6e2` is
        // the integer 600 by the time the catalogue sees it; only fractions arrive as doubles.
        #expect(Self.decode("6e2") == .int(600))
        let catalog = try PricingCatalog.parse(Self.decode(Self.fullText.replacingFirst("\"per_hour\": 600", with: "\"per_hour\": 6e2")))
        #expect(catalog.plans[1].perHour == 600)
        // A double that JSONValue.intValue would accept (1.0 built in code) is still refused.
        #expect(Self.refusal(Self.modified("plans", 1, "per_hour", .double(600))) != nil)
    }

    // MARK: pieces

    @Test func localTimesAreExactlyTwoDigitsEach() {
        #expect(LocalTime("00:00")?.minuteOfDay == 0)
        #expect(LocalTime("23:59")?.minuteOfDay == 1439)
        #expect(LocalTime("24:00")?.minuteOfDay == 1440)
        #expect(LocalTime("07:05")?.text == "07:05")
        #expect(LocalTime(minuteOfDay: 1440)?.text == "24:00")
        for bad in ["24:01", "25:00", "7:05", "07:5", "07-05", "0705", " 07:05", "07:05 ", "-1:00", "aa:bb", "", "٠٧:٠٥"] {
            #expect(LocalTime(bad) == nil, "\(bad)")
        }
        #expect(LocalTime(minuteOfDay: 1441) == nil && LocalTime(minuteOfDay: -1) == nil)
    }

    @Test func weekdaysStartOnMonday() {
        #expect(Weekday.mon.index == 0 && Weekday.sun.index == 6)
        #expect(Weekday(index: 7) == .mon && Weekday(index: -1) == .sun)
        #expect(Weekday.mon.previous == .sun)
    }

    @Test func ruleSpansCrossMidnightWhenFromIsNotBeforeTo() {
        let night = RateRule(days: [.fri], from: LocalTime("22:00")!, to: LocalTime("06:00")!, perHour: 1)
        #expect(night.covers(weekday: .fri, minute: 22 * 60))
        #expect(night.covers(weekday: .fri, minute: 1439))
        #expect(night.covers(weekday: .sat, minute: 0))
        #expect(night.covers(weekday: .sat, minute: 6 * 60 - 1))
        #expect(!night.covers(weekday: .sat, minute: 6 * 60))
        #expect(!night.covers(weekday: .fri, minute: 3 * 60))  // Thursday night is not listed
        #expect(!night.covers(weekday: .sat, minute: 22 * 60))
        let day = RateRule(days: [.sun], from: LocalTime("00:00")!, to: LocalTime("00:00")!, perHour: 1)
        #expect(day.covers(weekday: .sun, minute: 0) && day.covers(weekday: .sun, minute: 1439))
        #expect(!day.covers(weekday: .mon, minute: 0) && !day.covers(weekday: .sat, minute: 1439))
        let afternoon = RateRule(days: [.mon], from: LocalTime("14:00")!, to: LocalTime("24:00")!, perHour: 1)
        #expect(afternoon.covers(weekday: .mon, minute: 1439) && !afternoon.covers(weekday: .tue, minute: 0))
        #expect(!afternoon.covers(weekday: .mon, minute: 14 * 60 - 1))
    }

    @Test func aPlanMatchesAStationWhenEachGivenListHasIt() {
        var plan = RatePlan(id: "p", name: "P", perHour: 1, stepSeconds: 60)
        #expect(plan.applies(zone: nil, kind: .console))
        plan.kinds = [.pc]
        #expect(plan.applies(zone: "Any", kind: .pc) && !plan.applies(zone: "Any", kind: .console))
        plan.zones = ["VIP room"]
        #expect(plan.applies(zone: "VIP room", kind: .pc))
        #expect(!plan.applies(zone: "PC floor", kind: .pc) && !plan.applies(zone: nil, kind: .pc))
        #expect(!plan.applies(zone: "VIP room", kind: .console))
    }

    @Test func saleWindowsReadLikeRules() {
        var package = PricePackage(id: "n", name: "N", price: 1, length: .minutes(60))
        #expect(package.isInSaleWindow(weekday: .wed, minute: 0))
        package.days = [.fri]
        #expect(package.isInSaleWindow(weekday: .fri, minute: 1439) && !package.isInSaleWindow(weekday: .sat, minute: 0))
        package.saleFrom = LocalTime("20:00")
        package.saleTo = LocalTime("02:00")
        #expect(package.isInSaleWindow(weekday: .fri, minute: 20 * 60))
        #expect(package.isInSaleWindow(weekday: .sat, minute: 119))  // Friday night, after midnight
        #expect(!package.isInSaleWindow(weekday: .sat, minute: 120))
        #expect(!package.isInSaleWindow(weekday: .fri, minute: 60))  // Thursday night
        #expect(!package.isInSaleWindow(weekday: .fri, minute: 19 * 60 + 59))
    }

    @Test func utcTimesAcceptZOnlyAndOptionalFractions() {
        #expect(ISO8601.millis(fromUTC: "1970-01-01T00:00:00Z") == 0)
        #expect(ISO8601.millis(fromUTC: "2027-01-31T23:00:00Z") == 1_801_436_400_000)
        #expect(ISO8601.millis(fromUTC: "2027-01-31T23:00:00.5Z") == 1_801_436_400_500)
        #expect(ISO8601.millis(fromUTC: "2027-01-31T23:00:00.123Z") == 1_801_436_400_123)
        #expect(ISO8601.millis(fromUTC: "2027-01-31T23:00:00.123456789Z") == 1_801_436_400_123)
        for bad in [
            "2027-01-31T23:00:00", "2027-01-31T23:00:00z", "2027-01-31 23:00:00Z", "2027-01-31T23:00:00.Z",
            "2027-01-31T23:00:00.1234567890Z", "2027-01-31T24:00:00Z", "2027-13-01T00:00:00Z", "2027-01-31T23:00Z",
            "2027-01-31T23:00:00+00:00", "2027-01-31T23:00:00.12aZ",
        ] {
            #expect(ISO8601.millis(fromUTC: bad) == nil, "\(bad)")
        }
    }

    // MARK: currency

    @Test func currenciesKnowTheirMinorDigitsAndFormatForPeople() {
        #expect(Currency("EUR")?.formatted(1250) == "12.50 EUR")
        #expect(Currency("EUR")?.formatted(5) == "0.05 EUR")
        #expect(Currency("EUR")?.formatted(0) == "0.00 EUR")
        #expect(Currency("EUR")?.formatted(-1250) == "-12.50 EUR")
        #expect(Currency("EUR")?.formatted(-5) == "-0.05 EUR")
        #expect(Currency("USD")?.minorDigits == 2)
        #expect(Currency("XYZ")?.minorDigits == 2)  // unknown codes get the usual two
        for code in ["JPY", "KRW", "VND", "CLP", "ISK"] { #expect(Currency(code)?.minorDigits == 0, "\(code)") }
        for code in ["BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"] { #expect(Currency(code)?.minorDigits == 3, "\(code)") }
        #expect(Currency("JPY")?.formatted(1250) == "1250 JPY")
        #expect(Currency("JPY")?.formatted(-7) == "-7 JPY")
        #expect(Currency("BHD")?.formatted(1250) == "1.250 BHD")
        #expect(Currency("BHD")?.formatted(-5) == "-0.005 BHD")
        #expect(Currency("EUR")?.formatted(Int64.min) == "-92233720368547758.08 EUR")
        #expect(Currency("EUR")?.formatted(Int64.max) == "92233720368547758.07 EUR")
        for bad in ["eur", "EU", "EURO", "E1R", "", "ÉUR"] { #expect(Currency(bad) == nil, "\(bad)") }
    }
}

fileprivate extension String {
    /// The text with its first occurrence of `target` replaced; traps when there is none, so a
    /// fixture edit that no longer applies fails loudly instead of testing the unmodified text.
    func replacingFirst(_ target: String, with replacement: String) -> String {
        let source = Array(self), pattern = Array(target)
        guard !pattern.isEmpty, source.count >= pattern.count else { fatalError("\(target) not in fixture") }
        for i in 0...(source.count - pattern.count) where Array(source[i..<(i + pattern.count)]) == pattern {
            return String(source[..<i]) + replacement + String(source[(i + pattern.count)...])
        }
        fatalError("\(target) not in fixture")
    }
}
