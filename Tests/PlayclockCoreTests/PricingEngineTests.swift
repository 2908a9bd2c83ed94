import Foundation
import PlayclockContract
@testable import PlayclockCore
import Testing

/// The venue's offsets from Foundation's time zone database, as the hub supplies them.
struct FoundationOffsets: UTCOffsetProvider {
    let zone: TimeZone

    init(_ identifier: String) { zone = TimeZone(identifier: identifier)! }

    func offsetSeconds(atWallMillis millis: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(Self.floorDiv(millis, 1000)))))
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
}

/// Unix ms of a UTC time (`2026-03-02T15:00:00Z`).
private func utc(_ text: String) -> Int64 { ISO8601.millis(fromUTC: text)! }

/// Unix ms of a Berlin wall-clock time (`2026-03-28 22:00`), the first of two on a fall-back night.
private func berlin(_ text: String) -> Int64 {
    let parts = text.split(whereSeparator: { $0 == "-" || $0 == " " || $0 == ":" }).map { Int($0)! }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "Europe/Berlin")!
    let components = DateComponents(year: parts[0], month: parts[1], day: parts[2], hour: parts[3], minute: parts[4])
    return Int64((calendar.date(from: components)!.timeIntervalSince1970 * 1000).rounded())
}

private let minute: Int64 = 60_000
private let hour: Int64 = 3_600_000

private func plan(perHour: Int64, step: Int64 = 60, minimum: Int64 = 0, rules: [RateRule] = []) -> RatePlan {
    RatePlan(id: "test", name: "Test", perHour: perHour, stepSeconds: step, minimum: minimum, rules: rules)
}

private func rule(_ days: Set<Weekday>, _ from: String, _ to: String, _ perHour: Int64) -> RateRule {
    RateRule(days: days, from: LocalTime(from)!, to: LocalTime(to)!, perHour: perHour)
}

private func run(_ start: Int64, _ duration: Int64) -> PricedRun { PricedRun(startWallMillis: start, durationMillis: duration) }

@Suite("Pricing engine")
struct PricingEngineTests {
    let utcEngine = PricingEngine(offsets: FixedUTCOffset(seconds: 0))
    let berlinEngine = PricingEngine(offsets: FoundationOffsets("Europe/Berlin"))
    /// A Monday, 10:00 UTC.
    let monday = utc("2026-03-02T10:00:00Z")

    /// The segments as (rate, duration, amount), which is what the hand computations give.
    func lines(_ quote: PriceQuote) -> [[Int64]] { quote.segments.map { [$0.perHour, $0.durationMillis, $0.amount] } }

    @Test func aFlatRateChargesWholeMinutes() {
        let flat = plan(perHour: 600)
        let q = utcEngine.price(plan: flat, runs: [run(monday, 90 * minute)], discountPercent: 0)
        #expect(q.amount == 900 && q.timeAmount == 900 && q.minimumExtra == 0)
        #expect(q.usedMillis == 90 * minute && q.billedMillis == 90 * minute)
        #expect(lines(q) == [[600, 90 * minute, 900]])
        #expect(q.segments[0].startWallMillis == monday)
        // A started minute is a whole minute: 90 min 30 s is billed 91 min, 600 * 91 / 60 = 910.
        let started = utcEngine.price(plan: flat, runs: [run(monday, 90 * minute + 30_000)], discountPercent: 0)
        #expect(started.amount == 910 && started.billedMillis == 91 * minute && started.usedMillis == 90 * minute + 30_000)
    }

    @Test func aFifteenMinuteStepRoundsUpToTheQuarter() {
        let quarter = plan(perHour: 400, step: 900)
        #expect(utcEngine.price(plan: quarter, runs: [run(monday, 15 * minute)], discountPercent: 0).amount == 100)
        let q = utcEngine.price(plan: quarter, runs: [run(monday, 16 * minute)], discountPercent: 0)
        #expect(q.billedMillis == 30 * minute && q.amount == 200)
        // A session stopped at once still pays one step, priced from its start.
        let instant = utcEngine.price(plan: quarter, runs: [run(monday, 0)], discountPercent: 0)
        #expect(instant.billedMillis == 15 * minute && instant.amount == 100 && instant.usedMillis == 0)
        #expect(instant.segments == [PriceSegment(startWallMillis: monday, durationMillis: 15 * minute, perHour: 400, amount: 100)])
    }

    @Test func theMinimumTopsUpAShortSession() {
        let p = plan(perHour: 400, minimum: 250)
        // 10 min at 400/h is 66.67, rounded 67; the minimum adds 183.
        let q = utcEngine.price(plan: p, runs: [run(monday, 10 * minute)], discountPercent: 0)
        #expect(q.timeAmount == 67 && q.minimumExtra == 183 && q.amount == 250)
        #expect(q.segments.map(\.amount).reduce(0, +) == q.timeAmount)
        // The minimum is not discounted; above it nothing is added.
        #expect(utcEngine.price(plan: p, runs: [run(monday, 10 * minute)], discountPercent: 50).amount == 250)
        let long = utcEngine.price(plan: p, runs: [run(monday, 60 * minute)], discountPercent: 0)
        #expect(long.amount == 400 && long.minimumExtra == 0)
    }

    @Test func aHappyHourStartingMidSessionSplitsIt() {
        // Base 600; weekdays 14:00-17:00 at 300. Monday 16:00-18:00 UTC: 1 h at 300, 1 h at 600.
        let p = plan(perHour: 600, rules: [rule([.mon, .tue, .wed, .thu, .fri], "14:00", "17:00", 300)])
        let q = utcEngine.price(plan: p, runs: [run(utc("2026-03-02T16:00:00Z"), 2 * hour)], discountPercent: 0)
        #expect(q.amount == 900)
        #expect(lines(q) == [[300, hour, 300], [600, hour, 600]])
        #expect(q.segments[1].startWallMillis == utc("2026-03-02T17:00:00Z"))
        // Local time, not UTC: at UTC+1 the same instants are 17:00-19:00, all at the base rate.
        let plusOne = PricingEngine(offsets: FixedUTCOffset(seconds: 3600))
        #expect(plusOne.price(plan: p, runs: [run(utc("2026-03-02T16:00:00Z"), 2 * hour)], discountPercent: 0).amount == 1200)
        // Saturday is not listed.
        #expect(utcEngine.price(plan: p, runs: [run(utc("2026-03-07T16:00:00Z"), 2 * hour)], discountPercent: 0).amount == 1200)
    }

    @Test func aRuleCrossingMidnightCoversTheNextMorning() {
        // Friday 22:00 to Saturday 06:00 at 300; base 600. 2026-03-06 is a Friday.
        let p = plan(perHour: 600, rules: [rule([.fri], "22:00", "06:00", 300)])
        let friEvening = utcEngine.price(plan: p, runs: [run(utc("2026-03-06T21:00:00Z"), 4 * hour)], discountPercent: 0)
        #expect(friEvening.amount == 600 + 3 * 300)
        #expect(lines(friEvening) == [[600, hour, 600], [300, 3 * hour, 900]])  // across midnight: one line
        let satMorning = utcEngine.price(plan: p, runs: [run(utc("2026-03-07T05:00:00Z"), 2 * hour)], discountPercent: 0)
        #expect(lines(satMorning) == [[300, hour, 300], [600, hour, 600]])
        // Thursday night is not Friday's rule.
        let thuNight = utcEngine.price(plan: p, runs: [run(utc("2026-03-05T23:00:00Z"), 2 * hour)], discountPercent: 0)
        #expect(thuNight.amount == 1200)
        // The first covering rule wins: a later all-Saturday rule does not override the night.
        let both = plan(perHour: 600, rules: [rule([.fri], "22:00", "06:00", 300), rule([.sat], "00:00", "00:00", 100)])
        let sat = utcEngine.price(plan: both, runs: [run(utc("2026-03-07T05:00:00Z"), 2 * hour)], discountPercent: 0)
        #expect(lines(sat) == [[300, hour, 300], [100, hour, 100]])
    }

    @Test func aTierDiscountLowersTheRateAndRoundsHalfUp() {
        let p = plan(perHour: 600)
        // 90 min at 600/h less 25 %: 675.
        #expect(utcEngine.price(plan: p, runs: [run(monday, 90 * minute)], discountPercent: 25).amount == 675)
        // 7 min at 100/h less 10 % is exactly 10.5: half up gives 11.
        let half = utcEngine.price(plan: plan(perHour: 100), runs: [run(monday, 7 * minute)], discountPercent: 10)
        #expect(half.timeAmount == 11 && half.discountPercent == 10)
        #expect(half.segments[0].perHour == 100)  // the plan's rate, before the discount
        #expect(utcEngine.price(plan: p, runs: [run(monday, 90 * minute)], discountPercent: 100).amount == 0)
    }

    @Test func segmentAmountsAddUpToTheRoundedTotal() {
        // Three lines of exactly 1.5 each: rounded alone they would be 2 + 2 + 2 = 6, but the total
        // 4.5 rounds to 5, and the lines are the differences of the rounded running totals: 2, 1, 2.
        let p = plan(perHour: 90, rules: [rule([.mon], "10:01", "10:03", 45), rule([.mon], "10:03", "10:06", 30)])
        let q = utcEngine.price(plan: p, runs: [run(monday, 6 * minute)], discountPercent: 0)
        #expect(q.timeAmount == 5)
        #expect(lines(q) == [[90, minute, 2], [45, 2 * minute, 1], [30, 3 * minute, 2]])
    }

    @Test func pausesMakeRunsAndTheExtraTimeFollowsTheLastRun() {
        // 15-min steps at 400/h; 10 min, a pause, 10 min ending at 14:00 when 200/h starts. 20 min
        // used, 30 min billed: the last 10 min are priced after the second run, at 200/h.
        let p = plan(perHour: 400, step: 900, rules: [rule([.mon], "14:00", "17:00", 200)])
        let first = run(utc("2026-03-02T13:00:00Z"), 10 * minute)
        let second = run(utc("2026-03-02T13:50:00Z"), 10 * minute)
        let q = utcEngine.price(plan: p, runs: [first, second], discountPercent: 0)
        #expect(q.usedMillis == 20 * minute && q.billedMillis == 30 * minute)
        // Exact: 66.67 + 66.67 + 33.33 = 166.67; running totals rounded 67, 133, 167.
        #expect(q.amount == 167)
        #expect(lines(q) == [[400, 10 * minute, 67], [400, 10 * minute, 66], [200, 10 * minute, 34]])
        #expect(q.segments.map(\.startWallMillis) == [first.startWallMillis, second.startWallMillis, utc("2026-03-02T14:00:00Z")])
        // Runs that touch merge into one line; the pause is not priced.
        let touching = utcEngine.price(
            plan: plan(perHour: 600), runs: [run(monday, 30 * minute), run(monday + 30 * minute, 30 * minute)], discountPercent: 0)
        #expect(lines(touching) == [[600, hour, 600]])
        // No runs: not started, nothing to pay (and no minimum).
        let none = utcEngine.price(plan: plan(perHour: 600, minimum: 100), runs: [], discountPercent: 0)
        #expect(none.amount == 0 && none.billedMillis == 0 && none.segments.isEmpty)
    }

    // MARK: daylight saving time, Europe/Berlin

    @Test func aLocalDayCosts23HoursInSpringAnd25InAutumn() {
        let flat = plan(perHour: 600)
        let spring = berlin("2026-03-30 00:00") - berlin("2026-03-29 00:00")
        #expect(spring == 23 * hour)
        let springQuote = berlinEngine.price(plan: flat, runs: [run(berlin("2026-03-29 00:00"), spring)], discountPercent: 0)
        #expect(springQuote.amount == 23 * 600 && springQuote.billedMillis == 23 * hour)
        #expect(springQuote.segments.map(\.durationMillis).reduce(0, +) == 23 * hour)

        let autumn = berlin("2026-10-26 00:00") - berlin("2026-10-25 00:00")
        #expect(autumn == 25 * hour)
        let autumnQuote = berlinEngine.price(plan: flat, runs: [run(berlin("2026-10-25 00:00"), autumn)], discountPercent: 0)
        #expect(autumnQuote.amount == 25 * 600)
        #expect(lines(autumnQuote) == [[600, 25 * hour, 15_000]])
    }

    @Test func anHourRuleCoversTwoRealHoursWhenTheClocksGoBackAndNoneWhenTheyGoForward() {
        // 2026-10-25 and 2026-03-29 are Sundays. Base 600, Sunday 02:00-03:00 at 100.
        let p = plan(perHour: 600, rules: [rule([.sun], "02:00", "03:00", 100)])
        // Autumn: local 00:00-06:00 is 7 real hours; 02:00 CEST to 03:00 CET is two of them.
        let autumnStart = berlin("2026-10-25 00:00")
        #expect(autumnStart == utc("2026-10-24T22:00:00Z"))
        let autumn = berlinEngine.price(plan: p, runs: [run(autumnStart, 7 * hour)], discountPercent: 0)
        #expect(autumn.amount == 5 * 600 + 2 * 100)
        #expect(lines(autumn) == [[600, 2 * hour, 1200], [100, 2 * hour, 200], [600, 3 * hour, 1800]])
        #expect(autumn.segments[1].startWallMillis == utc("2026-10-25T00:00:00Z"))
        #expect(autumn.segments[2].startWallMillis == utc("2026-10-25T02:00:00Z"))
        // Spring: 02:00-03:00 does not happen; local 00:00-06:00 is 5 real hours at the base rate.
        let springStart = berlin("2026-03-29 00:00")
        let spring = berlinEngine.price(plan: p, runs: [run(springStart, 5 * hour)], discountPercent: 0)
        #expect(spring.amount == 5 * 600)
        #expect(lines(spring) == [[600, 5 * hour, 3000]])
        // A rule boundary inside the skipped hour (02:30) still cuts at the jump, not later.
        let gap = plan(perHour: 600, rules: [rule([.sun], "01:30", "02:30", 300)])
        let jump = berlinEngine.price(plan: gap, runs: [run(springStart, 3 * hour)], discountPercent: 0)
        // 00:00-01:30 CET at 600, 01:30-02:00 CET at 300, then 03:00 CEST onwards at 600.
        #expect(lines(jump) == [[600, 90 * minute, 900], [300, 30 * minute, 150], [600, hour, 600]])
    }

    @Test func aNightPassLastsTheRealTimeUntilLocalEightOClock() {
        let pass = PricePackage(id: "night", name: "Night", price: 1500, length: .until(LocalTime("08:00")!, minMinutes: 30))
        // From 22:00: 9 h when the clocks go forward, 11 h when they go back, 10 h on other nights.
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-03-28 22:00")) == 9 * hour)
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-10-24 22:00")) == 11 * hour)
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-11-06 22:00")) == 10 * hour)
        // From 23:00: 8 h and 10 h.
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-03-28 23:00")) == 8 * hour)
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-10-24 23:00")) == 10 * hour)
        // Sold after midnight the same morning's 08:00 is next.
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-10-25 01:00")) == 8 * hour)
    }

    @Test func aPassEndingSoonRunsToTheNextDay() {
        let pass = PricePackage(id: "p", name: "P", price: 1, length: .until(LocalTime("08:00")!, minMinutes: 30))
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-11-06 07:20")) == 40 * minute)
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-11-06 07:30")) == 30 * minute)
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-11-06 07:45")) == 24 * hour + 15 * minute)
        // Exactly at 08:00 the next occurrence is tomorrow's.
        #expect(berlinEngine.packageLengthMillis(pass, soldAtWallMillis: berlin("2026-11-06 08:00")) == 24 * hour)
        let fixed = PricePackage(id: "3h", name: "3 h", price: 1, length: .minutes(180))
        #expect(berlinEngine.packageLengthMillis(fixed, soldAtWallMillis: berlin("2026-10-24 23:00")) == 3 * hour)
    }

    @Test func aPassToATimeTheClocksSkipOrRepeat() {
        // Until 02:30 on the spring-forward night: the clock jumps from 02:00 CET to 03:00 CEST,
        // so the pass ends at that jump (01:00 UTC).
        let skipped = PricePackage(id: "p", name: "P", price: 1, length: .until(LocalTime("02:30")!, minMinutes: 30))
        let soldSpring = berlin("2026-03-28 22:00")
        #expect(soldSpring + berlinEngine.packageLengthMillis(skipped, soldAtWallMillis: soldSpring) == utc("2026-03-29T01:00:00Z"))
        // On the fall-back night 02:30 happens twice: the first (CEST) is next, an hour before the second.
        let soldAutumn = berlin("2026-10-24 22:00")
        #expect(berlinEngine.packageLengthMillis(skipped, soldAtWallMillis: soldAutumn) == 4 * hour + 30 * minute)
        // Sold between the two, the second is next.
        let between = utc("2026-10-25T00:45:00Z")  // 02:45 CEST
        #expect(between + berlinEngine.packageLengthMillis(skipped, soldAtWallMillis: between) == utc("2026-10-25T01:30:00Z"))
    }

    // MARK: packages

    @Test func packagesAreOnSaleInTheirHoursDaysAndUntilTheyExpire() throws {
        let night = PricePackage(
            id: "night", name: "Night", price: 1500, length: .until(LocalTime("08:00")!, minMinutes: 30), saleFrom: LocalTime("20:00"),
            saleTo: LocalTime("02:00"), days: [.fri, .sat], availableUntilMillis: utc("2026-11-07T23:00:00Z"))
        // 2026-11-06 is a Friday; Berlin is UTC+1 in November.
        #expect(!berlinEngine.isOnSale(night, atWallMillis: berlin("2026-11-06 19:59")))
        #expect(berlinEngine.isOnSale(night, atWallMillis: berlin("2026-11-06 20:00")))
        #expect(berlinEngine.isOnSale(night, atWallMillis: berlin("2026-11-07 01:59")))  // Friday's window, past midnight
        #expect(!berlinEngine.isOnSale(night, atWallMillis: berlin("2026-11-07 02:00")))
        #expect(!berlinEngine.isOnSale(night, atWallMillis: berlin("2026-11-06 01:00")))  // Thursday night
        #expect(berlinEngine.isOnSale(night, atWallMillis: berlin("2026-11-07 21:00")))
        // Available until 23:00 UTC (midnight in Berlin): sold at that instant, not after.
        #expect(berlinEngine.isOnSale(night, atWallMillis: utc("2026-11-07T23:00:00Z")))
        #expect(!berlinEngine.isOnSale(night, atWallMillis: utc("2026-11-07T23:00:00Z") + 1))
        var weekend = PricePackage(id: "w", name: "W", price: 1, length: .minutes(60), days: [.sat, .sun])
        #expect(berlinEngine.isOnSale(weekend, atWallMillis: berlin("2026-11-07 00:00")))
        #expect(!berlinEngine.isOnSale(weekend, atWallMillis: berlin("2026-11-06 23:59")))
        weekend.days = nil
        #expect(berlinEngine.isOnSale(weekend, atWallMillis: berlin("2026-11-06 23:59")))
    }

    @Test func aTierDiscountOnAPackageRoundsHalfUp() {
        let p = PricePackage(id: "p", name: "P", price: 1500, length: .minutes(60))
        #expect(utcEngine.packagePrice(p, discountPercent: 0) == 1500)
        #expect(utcEngine.packagePrice(p, discountPercent: 25) == 1125)
        #expect(utcEngine.packagePrice(PricePackage(id: "p", name: "P", price: 999, length: .minutes(60)), discountPercent: 15) == 849)
        #expect(utcEngine.packagePrice(PricePackage(id: "p", name: "P", price: 10, length: .minutes(60)), discountPercent: 5) == 10)
        #expect(utcEngine.packagePrice(p, discountPercent: 100) == 0)
    }

    // MARK: the inverse

    @Test func theLargestBilledTimeABudgetBuys() {
        let flat = plan(perHour: 600)
        func most(_ p: RatePlan, _ runs: [PricedRun] = [], budget: Int64, discount: Int64 = 0, cap: Int64 = 24 * hour) -> Int64 {
            utcEngine.maxBilledMillis(
                plan: p, runsSoFar: runs, from: monday + 2 * hour, discountPercent: discount, budget: budget, capMillis: cap)
        }
        #expect(most(flat, budget: 1000) == 100 * minute)  // 100 min cost exactly 1000
        #expect(most(flat, budget: 999) == 99 * minute)  // 99 min cost 990, 100 min 1000
        #expect(most(flat, budget: 9) == 0)  // one minute costs 10
        #expect(most(flat, budget: 10) == minute)
        #expect(most(flat, budget: 750, discount: 25) == 100 * minute)
        #expect(most(flat, budget: 1_000_000, cap: 2 * hour) == 2 * hour)
        #expect(most(flat, budget: 1_000_000, cap: 30_000) == 0)  // not even one step fits under the cap
        #expect(most(flat, budget: -1) == 0)
        // The minimum is the first price: below it nothing is bought.
        #expect(most(plan(perHour: 600, minimum: 500), budget: 400) == 0)
        #expect(most(plan(perHour: 600, minimum: 500), budget: 500) == 50 * minute)
        // Time already used counts: 30 min used (300) leaves 700 for 70 more minutes.
        let used = [run(monday, 30 * minute)]
        #expect(most(flat, used, budget: 1000) == 100 * minute)
        // ... and the answer is never less than it: with 7 min used and 15-min steps, 15 min is the least.
        let quarter = plan(perHour: 400, step: 900)
        #expect(most(quarter, [run(monday, 7 * minute)], budget: 100) == 15 * minute)
        #expect(most(quarter, [run(monday, 7 * minute)], budget: 99) == 0)
        #expect(most(quarter, [run(monday, 3 * hour)], budget: 10_000, cap: 2 * hour) == 0)  // already past the cap
    }

    @Test func theInverseBracketsTheBudgetAcrossARateChange() {
        // From 13:00 at 600/h, from 14:00 at 300/h: 925 buys 1 h (600) and 65 min (325).
        let p = plan(perHour: 600, step: 300, rules: [rule([.mon], "14:00", "17:00", 300)])
        let start = utc("2026-03-02T13:00:00Z")
        let b = utcEngine.maxBilledMillis(plan: p, runsSoFar: [], from: start, discountPercent: 0, budget: 925, capMillis: 24 * hour)
        #expect(b == 2 * hour + 5 * minute)
        func cost(_ billed: Int64) -> Int64 { utcEngine.price(plan: p, runs: [run(start, billed)], discountPercent: 0).amount }
        #expect(cost(b) <= 925 && cost(b + 5 * minute) > 925)
    }

    // MARK: limits and encoding

    @Test func billedTimeIsCappedAtSevenDays() {
        let flat = plan(perHour: PricingLimits.maxPerHour)
        let q = utcEngine.price(plan: flat, runs: [run(monday, 8 * 24 * hour), run(monday + 9 * 24 * hour, hour)], discountPercent: 0)
        #expect(q.billedMillis == PricingLimits.maxBilledMillis && q.usedMillis == PricingLimits.maxBilledMillis)
        #expect(q.amount == 168 * PricingLimits.maxPerHour)
        #expect(q.segments.count == 1)  // the second run is past the cap
        // Out-of-range inputs are clamped, not trapped.
        var wild = plan(perHour: Int64.max, step: 0, minimum: -5)
        wild.rules = [rule([.mon], "00:00", "00:00", -100)]
        let clamped = utcEngine.price(plan: wild, runs: [run(monday, -5)], discountPercent: 300)
        #expect(clamped.billedMillis == 1000 && clamped.amount == 0 && clamped.discountPercent == 100)
    }

    @Test func aQuoteEncodesForTheReceipt() {
        let p = plan(perHour: 600, step: 900, minimum: 1000, rules: [rule([.mon], "10:10", "11:00", 300)])
        let q = utcEngine.price(plan: p, runs: [run(monday, 20 * minute + 1)], discountPercent: 10)
        // Billed 30 min: 10 min at 600 less 10 % = 90, 20 min at 300 less 10 % = 90.
        #expect(q.json == [
            "plan": "test", "amount": 1000, "time_amount": 180, "minimum_extra": 820, "discount_percent": 10, "billed_s": 1800,
            "segments": [
                ["from": "2026-03-02T10:00:00.000Z", "to": "2026-03-02T10:10:00.000Z", "minutes": 10, "seconds": 600,
                 "per_hour": 600, "amount": 90],
                ["from": "2026-03-02T10:10:00.000Z", "to": "2026-03-02T10:30:00.000Z", "minutes": 20, "seconds": 1200,
                 "per_hour": 300, "amount": 90],
            ],
        ])
        let odd = PriceSegment(startWallMillis: 0, durationMillis: 61_001, perHour: 1, amount: 0)
        #expect(odd.json["minutes"] == 2 && odd.json["seconds"] == 62)
    }

    @Test func theLocalWeekdayAndMinuteFollowTheOffset() {
        #expect(utcEngine.localWeekdayAndMinute(atWallMillis: 0) == (.thu, 0))  // 1970-01-01
        #expect(utcEngine.localWeekdayAndMinute(atWallMillis: -1) == (.wed, 1439))
        #expect(utcEngine.localWeekdayAndMinute(atWallMillis: monday) == (.mon, 600))
        #expect(berlinEngine.localWeekdayAndMinute(atWallMillis: utc("2026-03-29T00:59:00Z")) == (.sun, 119))
        #expect(berlinEngine.localWeekdayAndMinute(atWallMillis: utc("2026-03-29T01:00:00Z")) == (.sun, 180))
        #expect(berlinEngine.localWeekdayAndMinute(atWallMillis: utc("2026-10-24T22:00:00Z")) == (.sun, 0))
        #expect(PricingEngine(offsets: FixedUTCOffset(seconds: -5 * 3600)).localWeekdayAndMinute(atWallMillis: monday) == (.mon, 300))
    }
}
