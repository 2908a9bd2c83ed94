import PlayclockContract
import Testing

/// A command's request body decodes back to the same command, for every verb.
@Suite("Command encoding")
struct CommandEncodingTests {
    static let a = StationID("PC-01")!
    static let b = StationID("PC-02")!

    static let commands: [Command] = [
        .stationList, .stationGet(a), .stationRemove(a),
        .stationAdd(id: a, name: "PC 01", kind: .pc, plug: nil),
        .stationAdd(id: b, name: "PS5", kind: .console, plug: .tasmota(topic: "ps5-01", relay: 2), zone: "Console lounge"),
        .stationUpdate(a, name: "Front PC", kind: nil, plug: .keep),
        .stationUpdate(a, name: nil, kind: .console, plug: .remove, zone: .remove),
        .stationUpdate(a, name: nil, kind: nil, plug: .set(.shelly2(prefix: "lounge/ps5", switchID: 1)), zone: .set("VIP room")),
        .stationMaintenance(a, enabled: true), .stationMaintenance(a, enabled: false),
        .sessionStart(a, seconds: 3600), .sessionExtend(a, seconds: 90),
        .sessionPause(a), .sessionResume(a), .sessionStop(a), .sessionTransfer(from: a, to: b),
        .plugPower(b, on: true), .plugPower(b, on: false),
        .stationOrder(a, action: .logout), .stationOrder(a, action: .shutdown), .stationOrder(a, action: .restart),
        .stationOrder(a, action: .message, text: "Your pizza is ready\nat the counter"),
        .sessionStartPaid(a, .desk(.seconds(3600), .tender(.cash))), .sessionStartPaid(a, .desk(.package("3h"), .tender(.card))),
        .sessionStartPaid(a, .desk(.seconds(1800), .account(member: "m-1"))), .sessionStartPaid(a, .balance(member: "m-1")),
        .sessionStartPaid(a, .later),
        .sessionExtendPaid(a, .seconds(900), .tender(.cash)), .sessionExtendPaid(a, .package("1h"), .account(member: "m-1")),
        .pricingGet, .priceQuote(a, .seconds(3600), member: nil), .priceQuote(a, .package("3h"), member: "m-1"),
        .rateSet(RatePlan(id: "std", name: "Standard", zones: ["PC floor"], kinds: nil, perHour: 300, stepSeconds: 60, minimum: 100,
                          rules: [RateRule(days: [.sat, .sun], from: LocalTime("00:00")!, to: LocalTime("00:00")!, perHour: 400)],
                          postpaidLimitMinutes: 240)),
        .rateRemove("std"),
        .packageSet(PricePackage(id: "3h", name: "3 hours", price: 800, length: .minutes(180), plans: ["std"], zones: nil,
                                 saleFrom: nil, saleTo: nil, days: nil, availableUntilMillis: nil)),
        .packageRemove("3h"), .tierSet(MemberTier(id: "gold", name: "Gold", discountPercent: 10)), .tierRemove("gold"),
        .memberAdd(NewMember(id: "m-1", name: "Ann", contact: "ann@example.com", tier: "gold", pin: .plain("1234"))),
        .memberAdd(NewMember(id: "m-2", name: "Bo")),
        .memberGet("m-1"), .memberFind(query: "an", limit: 5),
        .memberUpdate("m-1", name: "Anne", contact: .remove, tier: .set("gold")), .memberUpdate("m-1", name: nil, contact: .set("x"), tier: .remove),
        .memberTopup("m-1", amount: 2000, tender: .card), .memberSetPIN("m-1", pin: .plain("987654")),
        .memberDisable("m-1", disabled: true), .memberDisable("m-1", disabled: false),
        .saleRefund(sale: 3, amount: 250, reason: "left early"), .saleRefund(sale: 3, amount: nil, reason: "wrong station"),
        .saleVoid(sale: 4, reason: "typed 30 instead of 3"),
        .productList,
        .productSet(Product(id: "cola", name: "Cola 0.5 l", category: "drinks", price: 250, stock: 24, lowStock: 6)),
        .productSet(Product(id: "chips", name: "Chips", category: "snacks", price: 150, active: false)),
        .productRemove("cola"),
        .saleCreate(items: [.product("cola", quantity: 2), .time(StationID("PC-01")!, .package("3h"))],
                    payments: [BasketPayment(method: .tender(.cash), amount: 500, tendered: 1000),
                               BasketPayment(method: .account(member: "m-1"), amount: 1500)], member: "m-1"),
        .saleCreate(items: [.time(StationID("PC-02")!, .seconds(1800))], payments: [BasketPayment(method: .tender(.card))], member: nil),
        .shiftOpen(float: 10_000, note: "till 1"),
        .shiftClose(counted: 0, note: nil),
        .shiftPayIn(amount: 5000, reason: "change from the bank"),
        .shiftPayOut(amount: 1200, reason: "milk"),
        .shiftGet(nil),
        .shiftGet(3),
    ]

    @Test(arguments: commands)
    func bodyDecodesToTheSameCommand(_ command: Command) throws {
        #expect(try Request.parse(verb: command.verb.rawValue, body: command.body, limits: RequestLimits()) == command)
    }

    @Test func everyVerbIsCovered() {
        #expect(Set(Self.commands.map(\.verb)) == Set(Verb.allCases))
    }
}
