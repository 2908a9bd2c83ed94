import PlayclockContract
@testable import PlayclockCore
import Testing

/// The counter in the core, with the manual clock and a fake store: tax rounding, how payments
/// are spread over revenue and tax, and a basket refused half-way leaving nothing behind.
@Suite struct CounterCoreTests {
    func counterHub(requireShift: Bool = true) -> TestHub {
        let catalog = try! PricingCatalog.parse(moneyCatalogJSON)
        var hub = TestHub(money: MoneyState(
            catalog: catalog, products: [Product(id: "cola", name: "Cola", category: "drinks", price: 250, stock: 3)],
            counter: CounterSettings(pricesIncludeTax: false, taxRates: ["drinks": 1900], cashRequiresShift: requireShift)))
        hub.actor = "till1"
        return hub
    }

    @Test func taxIncludedAndAddedRoundHalfUpOncePerLine() {
        #expect(CounterSettings.taxed(price: 500, rate: 1900, included: true) == (500, 80))   // 79.83
        #expect(CounterSettings.taxed(price: 119, rate: 1900, included: true) == (119, 19))   // 19.00
        #expect(CounterSettings.taxed(price: 250, rate: 1900, included: false) == (298, 48))  // 47.5 -> 48
        #expect(CounterSettings.taxed(price: 250, rate: 0, included: false) == (250, 0))
        #expect(CounterSettings.taxed(price: 100_000_000, rate: 10_000, included: true) == (100_000_000, 50_000_000))
    }

    @Test func paymentsSpreadOverBucketsAddUpToBothSides() {
        var rng = SplitMix64(seed: 0xC0FFEE)
        for _ in 0..<500 {
            let buckets: [(LedgerAccount, Int64)] = [
                (.revenue(.products), Int64(rng.next() % 5000)), (.revenue(.time), Int64(rng.next() % 5000)), (.taxCollected, Int64(rng.next() % 900)),
            ].filter { $0.1 > 0 }
            let total = buckets.reduce(0) { $0 + $1.1 }
            guard total > 1 else { continue }
            let first = Int64(rng.next() % UInt64(total - 1)) + 1
            let payments: [(LedgerAccount, Int64)] = [(.tender(.cash), first), (.member("m-1"), total - first)]
            let moves = HubCore.allocate(payments: payments, to: buckets)
            for (account, amount) in payments {
                #expect(moves.filter { $0.from == account }.reduce(0) { $0 + $1.amount } == amount)
            }
            for (account, amount) in buckets {
                #expect(moves.filter { $0.to == account }.reduce(0) { $0 + $1.amount } == amount)
            }
            #expect(moves.allSatisfy { $0.amount > 0 })
        }
    }

    @Test func aBasketRefusedHalfWayChangesNothing() {
        var hub = counterHub(requireShift: false)
        hub.ok("station/maintenance", ["station": "PC-02", "enabled": true])
        let before = hub.store.sales.count
        // PC-01 would start, cola is fine, but PC-02 is in maintenance: nothing happens at all.
        #expect(hub.refused("sale/create", [
            "items": [["station": "PC-01", "minutes": 30], ["product": "cola"], ["station": "PC-02", "minutes": 30]],
            "payment": ["method": "card"],
        ]) == .maintenance)
        #expect(hub.core.entries[StationID("PC-01")!]?.session == nil)
        #expect(hub.core.money[product: "cola"]?.stock == 3)
        #expect(hub.store.sales.count == before)
        #expect(hub.core.money.lastSaleID == 0)
    }

    @Test func cashNeedsTheActorsOpenShiftAndCountsIntoIt() {
        var hub = counterHub()
        #expect(hub.refused("sale/create", ["items": [["product": "cola"]], "payment": ["method": "cash"]]) == .noShift)
        hub.ok("shift/open", ["float": 1000])
        let sale = hub.ok("sale/create", ["items": [["product": "cola", "qty": 2]], "payment": ["method": "cash", "tendered": 1000]])
        // Tax added on top: 500 + 95 = 595; change 405.
        #expect(sale["amount"] == 595)
        #expect(sale["change"] == 405)
        #expect(hub.core.money[shiftOf: "till1"]?.cashIn == 595)
        #expect(hub.store.shifts[1]?.cashIn == 595)
        #expect(hub.refused("sale/create", ["items": [["product": "cola", "qty": 2]], "payment": ["method": "card"]]) == .productUnavailable)
        hub.ok("shift/close", ["counted": 1595])
        #expect(hub.core.money[shiftOf: "till1"] == nil)
        #expect(hub.store.shifts[1]?.difference == 0)
        hub.checkLedger()
    }
}
