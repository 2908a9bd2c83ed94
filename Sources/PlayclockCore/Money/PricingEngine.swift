import PlayclockContract

/// The venue's UTC offset at an instant: local time = UTC + offset. The core has no time zone
/// database; the hub supplies one backed by Foundation's `TimeZone`, tests a fixed offset or
/// Foundation's "Europe/Berlin".
public protocol UTCOffsetProvider: Sendable {
    func offsetSeconds(atWallMillis: Int64) -> Int64
}

/// A zone without daylight saving time.
public struct FixedUTCOffset: UTCOffsetProvider {
    public let seconds: Int64
    public init(seconds: Int64) { self.seconds = seconds }
    public func offsetSeconds(atWallMillis: Int64) -> Int64 { seconds }
}

/// One stretch a session actually ran (a pause ends one run; resuming starts the next).
public struct PricedRun: Sendable, Equatable {
    public var startWallMillis: Int64
    public var durationMillis: Int64

    public init(startWallMillis: Int64, durationMillis: Int64) {
        self.startWallMillis = startWallMillis
        self.durationMillis = durationMillis
    }

    public var endWallMillis: Int64 { startWallMillis + durationMillis }
}

/// A maximal stretch of billed time at one rate, as a receipt line.
public struct PriceSegment: Sendable, Equatable {
    public var startWallMillis: Int64
    public var durationMillis: Int64
    /// The plan's hourly rate for this stretch, before the tier discount.
    public var perHour: Int64
    /// This stretch's share of the time charge, after the discount; the segments of a quote add
    /// up exactly to its `timeAmount`.
    public var amount: Int64

    public init(startWallMillis: Int64, durationMillis: Int64, perHour: Int64, amount: Int64) {
        self.startWallMillis = startWallMillis
        self.durationMillis = durationMillis
        self.perHour = perHour
        self.amount = amount
    }

    public var endWallMillis: Int64 { startWallMillis + durationMillis }

    /// `{"from","to","minutes","seconds","per_hour","amount"}`, minutes and seconds rounded up.
    public var json: JSONValue {
        [
            "from": .string(ISO8601.string(fromMillis: startWallMillis)),
            "to": .string(ISO8601.string(fromMillis: endWallMillis)),
            "minutes": .int(PricingEngine.ceilDiv(durationMillis, 60_000)),
            "seconds": .int(PricingEngine.ceilDiv(durationMillis, 1000)),
            "per_hour": .int(perHour), "amount": .int(amount),
        ]
    }
}

/// What a session costs and why.
public struct PriceQuote: Sendable, Equatable {
    /// The plan's id.
    public var plan: String
    /// What is charged: `timeAmount + minimumExtra`.
    public var amount: Int64
    /// The billed time at the plan's rates, discounted, rounded half up to a minor unit.
    public var timeAmount: Int64
    /// What the plan's minimum adds when the time charge is below it.
    public var minimumExtra: Int64
    public var discountPercent: Int64
    /// The time the session ran (the sum of its runs).
    public var usedMillis: Int64
    /// The time charged: whole billing steps, at least one.
    public var billedMillis: Int64
    public var segments: [PriceSegment]

    public init(
        plan: String, amount: Int64, timeAmount: Int64, minimumExtra: Int64, discountPercent: Int64, usedMillis: Int64,
        billedMillis: Int64, segments: [PriceSegment]
    ) {
        self.plan = plan
        self.amount = amount
        self.timeAmount = timeAmount
        self.minimumExtra = minimumExtra
        self.discountPercent = discountPercent
        self.usedMillis = usedMillis
        self.billedMillis = billedMillis
        self.segments = segments
    }

    public var json: JSONValue {
        [
            "plan": .string(plan), "amount": .int(amount), "time_amount": .int(timeAmount),
            "minimum_extra": .int(minimumExtra), "discount_percent": .int(discountPercent),
            "billed_s": .int(billedMillis / 1000), "segments": .array(segments.map(\.json)),
        ]
    }
}

/// Prices sessions and packages against a plan, in the venue's local time.
///
/// Cost is exact until the very end: each stretch contributes `per_hour * ms * (100 - discount)`
/// to a numerator over 3_600_000 * 100, the total is rounded half up once, and each segment's
/// amount is the difference of the rounded running totals, so the lines of a receipt always add
/// up to its total. The limits in `PricingLimits` keep that numerator inside `Int64`.
///
/// Offset changes (DST) are found by asking the provider at the ends of each stretch, and by
/// bisection when they differ; this assumes an offset changes at most once within a day, which
/// holds for every zone in use today.
public struct PricingEngine: Sendable {
    public let offsets: any UTCOffsetProvider

    public init(offsets: any UTCOffsetProvider) { self.offsets = offsets }

    static let millisPerDay: Int64 = 86_400_000
    static let millisPerMinute: Int64 = 60_000
    /// The exact cost numerator's denominator: ms per hour times 100 percent.
    static let costDenominator: Int64 = 3_600_000 * 100

    // MARK: Sessions

    /// The price of a session that ran `runs` (in order; the last is the one the extra time up to
    /// a whole step is priced on). A session with no runs has not started and costs nothing.
    /// Out-of-range inputs are clamped rather than trapped: negative durations count as 0, the
    /// discount to 0...100, rates to `PricingLimits.maxPerHour`, and the billed time to
    /// `PricingLimits.maxBilledMillis` (whole steps), with the runs cut off at that time.
    public func price(plan: RatePlan, runs: [PricedRun], discountPercent: Int64) -> PriceQuote {
        let discount = min(max(discountPercent, 0), 100)
        guard let last = runs.last else {
            return PriceQuote(
                plan: plan.id, amount: 0, timeAmount: 0, minimumExtra: 0, discountPercent: discount, usedMillis: 0,
                billedMillis: 0, segments: [])
        }
        let step = Self.stepMillis(plan)
        let cap = PricingLimits.maxBilledMillis / step * step
        var used: Int64 = 0
        for run in runs { used = min(used + min(max(run.durationMillis, 0), cap), cap) }
        let billed = min(max(1, Self.ceilDiv(used, step)) * step, cap)

        // The stretches to price: the runs up to the billed time, then the last run carried on.
        var intervals: [(start: Int64, duration: Int64)] = []
        var remaining = billed
        for run in runs where remaining > 0 {
            let duration = min(max(run.durationMillis, 0), remaining)
            if duration > 0 { intervals.append((run.startWallMillis, duration)) }
            remaining -= duration
        }
        if remaining > 0 { intervals.append((last.startWallMillis + max(last.durationMillis, 0), remaining)) }

        let schedule = Schedule(plan)
        var pieces: [(start: Int64, duration: Int64, perHour: Int64)] = []
        for interval in intervals {
            schedule.cut(start: interval.start, end: interval.start + interval.duration, offsets: offsets) { start, end, rate in
                if let previous = pieces.last, previous.perHour == rate, previous.start + previous.duration == start {
                    pieces[pieces.count - 1].duration += end - start
                } else {
                    pieces.append((start, end - start, rate))
                }
            }
        }

        var exact: Int64 = 0  // numerator over costDenominator
        var roundedSoFar: Int64 = 0
        var segments: [PriceSegment] = []
        segments.reserveCapacity(pieces.count)
        for piece in pieces {
            exact += piece.perHour * piece.duration * (100 - discount)
            let rounded = Self.roundHalfUp(exact, Self.costDenominator)
            segments.append(
                PriceSegment(
                    startWallMillis: piece.start, durationMillis: piece.duration, perHour: piece.perHour,
                    amount: rounded - roundedSoFar))
            roundedSoFar = rounded
        }
        let minimum = min(max(plan.minimum, 0), PricingLimits.maxAmount)
        let minimumExtra = max(0, minimum - roundedSoFar)
        return PriceQuote(
            plan: plan.id, amount: roundedSoFar + minimumExtra, timeAmount: roundedSoFar, minimumExtra: minimumExtra,
            discountPercent: discount, usedMillis: used, billedMillis: billed, segments: segments)
    }

    /// The most billed time a budget buys: the largest B = k * step (k >= 1, usedSoFar <= B <=
    /// capMillis, capMillis itself at most `PricingLimits.maxBilledMillis`) such that the session
    /// `runsSoFar` plus one new run from `startWallMillis` lasting B - usedSoFar costs at most
    /// `budget`. 0 when even the smallest such B costs more (or none fits under the cap). The
    /// price only grows with B, so the search is a bisection over k, and it is exact: B + step
    /// costs more than the budget or exceeds the cap.
    public func maxBilledMillis(
        plan: RatePlan, runsSoFar: [PricedRun], from startWallMillis: Int64, discountPercent: Int64, budget: Int64,
        capMillis: Int64
    ) -> Int64 {
        let step = Self.stepMillis(plan)
        let cap = min(max(capMillis, 0), PricingLimits.maxBilledMillis)
        // Past the longest billed time nothing fits; saturating there keeps the sum from overflowing.
        let saturated = PricingLimits.maxBilledMillis + 1
        var usedSoFar: Int64 = 0
        for run in runsSoFar { usedSoFar = min(usedSoFar + min(max(run.durationMillis, 0), saturated), saturated) }
        let lowest = max(1, Self.ceilDiv(usedSoFar, step))
        let highest = cap / step
        guard budget >= 0, lowest <= highest else { return 0 }
        func costs(_ k: Int64) -> Int64 {
            let run = PricedRun(startWallMillis: startWallMillis, durationMillis: k * step - usedSoFar)
            return price(plan: plan, runs: runsSoFar + [run], discountPercent: discountPercent).amount
        }
        guard costs(lowest) <= budget else { return 0 }
        var fits = lowest, tooMuch = highest + 1  // costs(fits) <= budget; tooMuch is over budget or over the cap
        while tooMuch - fits > 1 {
            let mid = fits + (tooMuch - fits) / 2
            if costs(mid) <= budget { fits = mid } else { tooMuch = mid }
        }
        return fits * step
    }

    // MARK: Packages

    /// How long a package bought at `soldAtWallMillis` lasts. A pass ends at the next instant the
    /// local clock shows its `until` time (or jumps over it, on a spring-forward night) after the
    /// sale; when that is less than `minMinutes` away, at the occurrence after that. Real time, so
    /// a pass over a fall-back night is an hour longer.
    public func packageLengthMillis(_ package: PricePackage, soldAtWallMillis: Int64) -> Int64 {
        switch package.length {
        case .minutes(let minutes):
            return min(max(minutes, 0), PricingLimits.maxBilledMillis / Self.millisPerMinute) * Self.millisPerMinute
        case .until(let time, let minMinutes):
            let saleDay = Self.floorDiv(soldAtWallMillis + offsetMillis(soldAtWallMillis), Self.millisPerDay)
            var occurrences: [Int64] = []
            for day in (saleDay - 1)...(saleDay + 3) {
                let local = day * Self.millisPerDay + Int64(time.minuteOfDay % 1440) * Self.millisPerMinute
                occurrences += instants(showingLocal: local).filter { $0 > soldAtWallMillis }
            }
            occurrences.sort()
            guard let first = occurrences.first else { return 0 }  // unreachable: a day always has one
            if first - soldAtWallMillis < max(minMinutes, 0) * Self.millisPerMinute, occurrences.count > 1 {
                return occurrences[1] - soldAtWallMillis
            }
            return first - soldAtWallMillis
        }
    }

    /// Whether the package is sold at this instant: before or at `available_until`, within the
    /// sale hours (which cross midnight like rules, `days` naming the day a window starts), and
    /// on one of `days` when only days are given.
    public func isOnSale(_ package: PricePackage, atWallMillis: Int64) -> Bool {
        if let until = package.availableUntilMillis, atWallMillis > until { return false }
        let (weekday, minute) = localWeekdayAndMinute(atWallMillis: atWallMillis)
        return package.isInSaleWindow(weekday: weekday, minute: minute)
    }

    /// The package's price for a member: `price * (100 - discount) / 100`, rounded half up.
    public func packagePrice(_ package: PricePackage, discountPercent: Int64) -> Int64 {
        let discount = min(max(discountPercent, 0), 100)
        let price = min(max(package.price, 0), PricingLimits.maxAmount)
        return Self.roundHalfUp(price * (100 - discount), 100)
    }

    // MARK: Local time

    /// The local weekday and minute of the day (0..<1440) at an instant.
    public func localWeekdayAndMinute(atWallMillis: Int64) -> (Weekday, Int) {
        let local = atWallMillis + offsetMillis(atWallMillis)
        let day = Self.floorDiv(local, Self.millisPerDay)
        return (Self.weekday(ofDay: day), Int((local - day * Self.millisPerDay) / Self.millisPerMinute))
    }

    /// The provider's offset in ms, bounded to a day so arithmetic on it cannot overflow.
    func offsetMillis(_ wallMillis: Int64) -> Int64 {
        min(max(offsets.offsetSeconds(atWallMillis: wallMillis), -86_400), 86_400) * 1000
    }

    /// The UTC instants at which the local clock reads `local` (ms since the local epoch): one on
    /// an ordinary day, two when the clocks go back over it, and on a spring-forward night the
    /// instant the clock jumps over it.
    func instants(showingLocal local: Int64) -> [Int64] {
        let before = offsetMillis(local - Self.millisPerDay), after = offsetMillis(local + Self.millisPerDay)
        guard before != after else { return [local - before] }
        let change = firstInstant(after: local - Self.millisPerDay, notOffset: before, upTo: local + Self.millisPerDay)
        var found: [Int64] = []
        if local - before < change { found.append(local - before) }
        if local - after >= change { found.append(local - after) }
        return found.isEmpty ? [change] : found
    }

    /// The first instant in (`lo`, `hi`] whose offset is not `offset`, given that `hi`'s is not.
    func firstInstant(after lo: Int64, notOffset offset: Int64, upTo hi: Int64) -> Int64 {
        var lo = lo, hi = hi
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if offsetMillis(mid) == offset { lo = mid } else { hi = mid }
        }
        return hi
    }

    // MARK: Arithmetic

    static func stepMillis(_ plan: RatePlan) -> Int64 {
        min(max(plan.stepSeconds, PricingLimits.stepSeconds.lowerBound), PricingLimits.stepSeconds.upperBound) * 1000
    }

    /// 1970-01-01 was a Thursday.
    static func weekday(ofDay day: Int64) -> Weekday { Weekday(index: Int((day + 3) % 7)) }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// For a >= 0, b > 0.
    static func ceilDiv(_ a: Int64, _ b: Int64) -> Int64 { a <= 0 ? 0 : (a - 1) / b + 1 }

    /// a / b rounded half up, for a >= 0, b > 0.
    static func roundHalfUp(_ a: Int64, _ b: Int64) -> Int64 { (a + b / 2) / b }
}

/// A plan's weekly schedule as cut points: the local minutes of the day at which the rate may
/// change (every rule's ends and midnight).
private struct Schedule {
    let plan: RatePlan
    /// Sorted, distinct, in 1...1440: the next cut after any minute of the day exists.
    let cutMinutes: [Int64]

    init(_ plan: RatePlan) {
        var rules = plan.rules
        for i in rules.indices { rules[i].perHour = min(max(rules[i].perHour, 0), PricingLimits.maxPerHour) }
        var clamped = plan
        clamped.rules = rules
        clamped.perHour = min(max(plan.perHour, 0), PricingLimits.maxPerHour)
        self.plan = clamped
        var cuts: Set<Int64> = [1440]
        for rule in rules {
            for minute in [rule.from.minuteOfDay, rule.to.minuteOfDay] where minute > 0 && minute < 1440 { cuts.insert(Int64(minute)) }
        }
        cutMinutes = cuts.sorted()
    }

    /// Calls `emit(start, end, perHour)` for consecutive pieces covering [start, end), each at
    /// one rate and one UTC offset.
    func cut(start: Int64, end: Int64, offsets: any UTCOffsetProvider, emit: (Int64, Int64, Int64) -> Void) {
        let engine = PricingEngine(offsets: offsets)
        var t = start
        while t < end {
            let offset = engine.offsetMillis(t)
            let local = t + offset
            let day = PricingEngine.floorDiv(local, PricingEngine.millisPerDay)
            let msOfDay = local - day * PricingEngine.millisPerDay
            let minute = msOfDay / PricingEngine.millisPerMinute
            let rate = plan.perHour(weekday: PricingEngine.weekday(ofDay: day), minute: Int(minute))
            let nextCut = cutMinutes.first { $0 * PricingEngine.millisPerMinute > msOfDay }!
            var pieceEnd = min(end, t + (nextCut * PricingEngine.millisPerMinute - msOfDay))
            if pieceEnd - 1 > t, engine.offsetMillis(pieceEnd - 1) != offset {
                pieceEnd = engine.firstInstant(after: t, notOffset: offset, upTo: pieceEnd - 1)
            }
            emit(t, pieceEnd, rate)
            t = pieceEnd
        }
    }
}
