import Foundation
import PlayclockContract
@testable import PlayclockCore
import Testing

/// Sebastiano Vigna's SplitMix64: a tiny seeded generator, so every failing case can be re-run
/// from the seed its message prints.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random plans and sessions in Europe/Berlin, priced by the engine and by a brute-force
/// reference that shares none of its code: it walks the billed time minute by minute, asks
/// Foundation's calendar for each minute's local weekday and clock time, finds the rate by
/// scanning the rules as spans of the week, and sums the exact cost as one rational number.
@Suite("Pricing properties")
struct PricingPropertyTests {
    static let baseSeed: UInt64 = 0x5EED_2026_0013
    static let zone = TimeZone(identifier: "Europe/Berlin")!
    let engine = PricingEngine(offsets: FoundationOffsets("Europe/Berlin"))

    static func utc(_ text: String) -> Int64 { ISO8601.millis(fromUTC: text)! }

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }()

    // MARK: generators

    static func randomPlan(_ g: inout SplitMix64) -> RatePlan {
        func rate() -> Int64 {
            switch Int.random(in: 0..<10, using: &g) {
            case 0: return 0
            case 1: return Int64.random(in: 0...PricingLimits.maxPerHour, using: &g)
            default: return Int64.random(in: 1...2000, using: &g)
            }
        }
        func clock(end: Bool) -> LocalTime {
            // Often whole hours, and the hours the clocks change at, so the DST nights get cut.
            let minute: Int
            switch Int.random(in: 0..<4, using: &g) {
            case 0: minute = [0, 120, 180, 150, 1440].randomElement(using: &g)!
            case 1: minute = Int.random(in: 0...24, using: &g) * 60
            default: minute = Int.random(in: 0...1440, using: &g)
            }
            return LocalTime(minuteOfDay: end ? minute : min(minute, 1439))!
        }
        var rules: [RateRule] = []
        for _ in 0..<Int.random(in: 0...4, using: &g) {
            var days = Set(Weekday.allCases.filter { _ in Bool.random(using: &g) })
            if days.isEmpty { days = [Weekday.allCases.randomElement(using: &g)!] }
            rules.append(RateRule(days: days, from: clock(end: false), to: clock(end: true), perHour: rate()))
        }
        let stepMinutes = [1, 1, 5, 15, 30, 60, Int64.random(in: 1...120, using: &g)].randomElement(using: &g)!
        let minimum: Int64 = Bool.random(using: &g) ? 0 : Int64.random(in: 0...5000, using: &g)
        return RatePlan(id: "p", name: "P", perHour: rate(), stepSeconds: stepMinutes * 60, minimum: minimum, rules: rules)
    }

    static func randomDiscount(_ g: inout SplitMix64) -> Int64 {
        [0, 0, 10, 25, 33, 50, 100, Int64.random(in: 0...100, using: &g)].randomElement(using: &g)!
    }

    /// A whole-minute instant: near one of the 2026 DST nights half of the time, else anywhere in 2026.
    static func randomStart(_ g: inout SplitMix64) -> Int64 {
        let minute: Int64 = 60_000
        switch Int.random(in: 0..<4, using: &g) {
        case 0: return Self.utc("2026-03-28T12:00:00Z") + Int64.random(in: 0...(30 * 60), using: &g) * minute
        case 1: return Self.utc("2026-10-24T12:00:00Z") + Int64.random(in: 0...(30 * 60), using: &g) * minute
        default: return Self.utc("2026-01-01T00:00:00Z") + Int64.random(in: 0...(364 * 1440), using: &g) * minute
        }
    }

    /// One to three runs on whole minutes, each after the previous with a pause of up to 4 h.
    static func randomRuns(_ g: inout SplitMix64) -> [PricedRun] {
        var runs: [PricedRun] = []
        var t = randomStart(&g)
        for _ in 0..<Int.random(in: 1...3, using: &g) {
            let duration = Int64.random(in: 0...(8 * 60), using: &g) * 60_000
            runs.append(PricedRun(startWallMillis: t, durationMillis: duration))
            t += duration + (Bool.random(using: &g) ? 0 : Int64.random(in: 1...240, using: &g) * 60_000)
        }
        return runs
    }

    // MARK: the reference

    struct ReferenceMinute {
        let start: Int64
        let perHour: Int64
    }

    /// The local minute of the week (Monday 00:00 = 0) of an instant, from Foundation's calendar.
    static func localMinuteOfWeek(_ millis: Int64) -> Int {
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: Date(timeIntervalSince1970: Double(millis) / 1000))
        let mondayBased = (parts.weekday! + 5) % 7  // Calendar: 1 = Sunday
        return mondayBased * 1440 + parts.hour! * 60 + parts.minute!
    }

    /// Whether a rule covers a minute of the week: each listed day opens a span at `from` that
    /// ends at `to` the same day, or the next day when `to` is not after `from`.
    static func referenceCovers(_ rule: RateRule, minuteOfWeek w: Int) -> Bool {
        for day in rule.days {
            let start = day.index * 1440 + rule.from.minuteOfDay
            let length = rule.from.minuteOfDay < rule.to.minuteOfDay
                ? rule.to.minuteOfDay - rule.from.minuteOfDay : 1440 - rule.from.minuteOfDay + rule.to.minuteOfDay
            if ((w - start) % 10080 + 10080) % 10080 < length { return true }
        }
        return false
    }

    /// The billed minutes in order, each with its rate: the runs, then the last run carried on.
    static func referenceMinutes(_ plan: RatePlan, _ runs: [PricedRun]) -> (used: Int64, billed: Int64, minutes: [ReferenceMinute]) {
        let used = runs.map(\.durationMillis).reduce(0, +)
        let step = plan.stepSeconds * 1000
        let billed = max(1, (used + step - 1) / step) * step
        var starts: [Int64] = []
        for run in runs {
            for i in 0..<(run.durationMillis / 60_000) { starts.append(run.startWallMillis + i * 60_000) }
        }
        let end = runs.last!.startWallMillis + runs.last!.durationMillis
        for i in 0..<((billed - used) / 60_000) { starts.append(end + i * 60_000) }
        let minutes = starts.map { start in
            let w = localMinuteOfWeek(start)
            return ReferenceMinute(start: start, perHour: plan.rules.first { referenceCovers($0, minuteOfWeek: w) }?.perHour ?? plan.perHour)
        }
        return (used, billed, minutes)
    }

    static func roundHalfUp(_ numerator: Int64) -> Int64 { (numerator + 180_000_000) / 360_000_000 }

    // MARK: properties

    @Test func theEngineAgreesWithAMinuteByMinuteReference() {
        let cases = 300
        var crossingDST = 0
        for i in 0..<cases {
            let seed = Self.baseSeed &+ UInt64(i)
            var g = SplitMix64(seed: seed)
            let plan = Self.randomPlan(&g)
            let runs = Self.randomRuns(&g)
            let discount = Self.randomDiscount(&g)
            let quote = engine.price(plan: plan, runs: runs, discountPercent: discount)
            let reference = Self.referenceMinutes(plan, runs)
            let context = "seed \(seed): plan \(plan), runs \(runs), discount \(discount)"
            if let first = reference.minutes.first, let last = reference.minutes.last,
                Self.zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(first.start) / 1000))
                    != Self.zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(last.start) / 1000))
            {
                crossingDST += 1
            }

            #expect(quote.usedMillis == reference.used, "\(context)")
            #expect(quote.billedMillis == reference.billed, "\(context)")
            #expect(Int64(reference.minutes.count) * 60_000 == reference.billed, "\(context)")

            // Walk the segments over the reference's minutes: same instants, same rates, and
            // amounts that are the differences of the rounded running exact total.
            var index = 0
            var exact: Int64 = 0
            var mismatch: String?
            for segment in quote.segments where mismatch == nil {
                guard segment.durationMillis > 0, segment.durationMillis % 60_000 == 0 else {
                    mismatch = "segment \(segment) is not whole minutes"
                    break
                }
                let before = Self.roundHalfUp(exact)
                for m in 0..<Int(segment.durationMillis / 60_000) {
                    guard index < reference.minutes.count else {
                        mismatch = "segments run past the billed time"
                        break
                    }
                    let expected = reference.minutes[index]
                    guard expected.start == segment.startWallMillis + Int64(m) * 60_000, expected.perHour == segment.perHour else {
                        mismatch = "minute \(index) at \(ISO8601.string(fromMillis: expected.start)): reference \(expected.perHour)/h, segment \(segment)"
                        break
                    }
                    exact += expected.perHour * 60_000 * (100 - discount)
                    index += 1
                }
                if mismatch == nil, segment.amount != Self.roundHalfUp(exact) - before {
                    mismatch = "segment \(segment) amount, reference \(Self.roundHalfUp(exact) - before)"
                }
            }
            #expect(mismatch == nil, "\(context): \(mismatch ?? "")")
            #expect(index == reference.minutes.count, "\(context): segments cover \(index) of \(reference.minutes.count) minutes")

            let timeAmount = Self.roundHalfUp(reference.minutes.reduce(0) { $0 + $1.perHour * 60_000 * (100 - discount) })
            #expect(quote.timeAmount == timeAmount, "\(context)")
            #expect(quote.segments.map(\.amount).reduce(0, +) == quote.timeAmount, "\(context)")
            #expect(quote.minimumExtra == max(0, plan.minimum - timeAmount), "\(context)")
            #expect(quote.amount == max(plan.minimum, timeAmount), "\(context)")
            // Neighbouring segments differ in rate or do not touch (maximal stretches).
            for (a, b) in zip(quote.segments, quote.segments.dropFirst()) {
                #expect(a.perHour != b.perHour || a.endWallMillis != b.startWallMillis, "\(context): \(a) and \(b) should be one")
            }
        }
        // The generator must keep putting sessions across the clock changes, or the DST part of
        // this property would pass without being tested.
        #expect(crossingDST >= 15, "only \(crossingDST) of \(cases) sessions crossed a DST change")
    }

    @Test func theInverseIsTheLargestAffordableStepByLinearScan() {
        let cases = 150
        for i in 0..<cases {
            let seed = Self.baseSeed &+ 1_000_000 &+ UInt64(i)
            var g = SplitMix64(seed: seed)
            let plan = Self.randomPlan(&g)
            let runs = Bool.random(using: &g) ? [] : Self.randomRuns(&g)
            let discount = Self.randomDiscount(&g)
            let step = plan.stepSeconds * 1000
            let used = runs.map(\.durationMillis).reduce(0, +)
            let from = (runs.last.map { $0.startWallMillis + $0.durationMillis } ?? Self.randomStart(&g))
                + Int64.random(in: 0...120, using: &g) * 60_000
            let lowest = max(1, (used + step - 1) / step)
            // A cap a few dozen steps past the least admissible time (sometimes below it).
            let highest = max(0, lowest + Int64.random(in: -2...40, using: &g))
            let cap = highest * step + Int64.random(in: 0..<step, using: &g)

            func cost(_ k: Int64) -> Int64 {
                let run = PricedRun(startWallMillis: from, durationMillis: k * step - used)
                return engine.price(plan: plan, runs: runs + [run], discountPercent: discount).amount
            }
            let costs = lowest <= highest ? (lowest...highest).map(cost) : []
            // Budgets around the prices the scan saw, so the answer lands anywhere in the range.
            let budget: Int64
            if !costs.isEmpty, Int.random(in: 0..<5, using: &g) > 0 {
                budget = costs.randomElement(using: &g)! + Int64.random(in: -1...1, using: &g)
            } else {
                budget = Int64.random(in: -5...100_000, using: &g)
            }
            let context = "seed \(seed): plan \(plan), runs \(runs), from \(from), discount \(discount), budget \(budget), cap \(cap)"

            for (a, b) in zip(costs, costs.dropFirst()) { #expect(a <= b, "\(context): the price fell as time grew") }
            var expected: Int64 = 0
            if let first = costs.first, first <= budget {
                let k = lowest + Int64(costs.lastIndex { $0 <= budget }!)
                expected = k * step
            }
            let answer = engine.maxBilledMillis(
                plan: plan, runsSoFar: runs, from: from, discountPercent: discount, budget: budget, capMillis: cap)
            #expect(answer == expected, "\(context)")
            if answer > 0 {
                #expect(answer % step == 0 && answer >= used && answer <= cap, "\(context)")
                #expect(cost(answer / step) <= budget, "\(context)")
                #expect(answer + step > cap || cost(answer / step + 1) > budget, "\(context): B + step is affordable")
            }
        }
    }

    /// The first whole minute after `sold` at which the Berlin clock shows `time`, or jumps over
    /// it, by walking minute by minute; then the one after that when the first is too close.
    static func referencePassEnd(until time: LocalTime, minMinutes: Int64, sold: Int64) -> Int64 {
        func localMinutes(_ millis: Int64) -> Int64 { (millis / 1000 + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(millis) / 1000)))) / 60 }
        var occurrences: [Int64] = []
        var u = sold + 60_000
        while occurrences.count < 2 {
            let previous = localMinutes(u - 60_000), current = localMinutes(u)
            let shows = ((current % 1440) + 1440) % 1440 == Int64(time.minuteOfDay)
            // Clocks going forward skip minutes: the skipped ones occur at the jump.
            let jumpedOver = current > previous + 1
                && ((previous + 1)...(current - 1)).contains { (($0 % 1440) + 1440) % 1440 == Int64(time.minuteOfDay) }
            if shows || jumpedOver { occurrences.append(u) }
            u += 60_000
        }
        return occurrences[0] - sold < minMinutes * 60_000 ? occurrences[1] : occurrences[0]
    }

    @Test func passesEndWhereAMinuteWalkOfTheLocalClockSays() {
        let cases = 150
        for i in 0..<cases {
            let seed = Self.baseSeed &+ 2_000_000 &+ UInt64(i)
            var g = SplitMix64(seed: seed)
            let minute = [0, 60, 120, 150, 180, 480, Int.random(in: 0...1439, using: &g)].randomElement(using: &g)!
            let time = LocalTime(minuteOfDay: minute)!
            let minMinutes = [0, 30, 30, Int64.random(in: 0...1439, using: &g)].randomElement(using: &g)!
            let sold = Self.randomStart(&g)
            let pass = PricePackage(id: "p", name: "P", price: 1, length: .until(time, minMinutes: minMinutes))
            let length = engine.packageLengthMillis(pass, soldAtWallMillis: sold)
            let expected = Self.referencePassEnd(until: time, minMinutes: minMinutes, sold: sold) - sold
            #expect(length == expected, "seed \(seed): until \(time) min \(minMinutes) sold \(ISO8601.string(fromMillis: sold))")
        }
    }
}
