/// Every request verb (`R/hub/request/<verb>` and `R/users/<account>/request/<verb>`), one per
/// `Command`. The hub, the CLI, the benchmark and the dashboard's role table all name verbs by it.
public enum Verb: String, Sendable, CaseIterable {
    case stationAdd = "station/add", stationUpdate = "station/update", stationRemove = "station/remove"
    case stationList = "station/list", stationGet = "station/get", stationMaintenance = "station/maintenance"
    case sessionStart = "session/start", sessionExtend = "session/extend", sessionPause = "session/pause"
    case sessionResume = "session/resume", sessionStop = "session/stop", sessionTransfer = "session/transfer"
    case plugPower = "plug/power"
    /// One-off orders to a PC's agent (`ControlMessage.order`).
    case stationLogout = "station/logout", stationShutdown = "station/shutdown", stationRestart = "station/restart"
    case stationMessage = "station/message"
    /// Prices: read them, quote a price, and (managers) edit plans, packages and tiers.
    case pricingGet = "pricing/get", priceQuote = "price/quote"
    case rateSet = "rate/set", rateRemove = "rate/remove", packageSet = "package/set", packageRemove = "package/remove"
    case tierSet = "tier/set", tierRemove = "tier/remove"
    /// Members and their balances.
    case memberAdd = "member/add", memberGet = "member/get", memberFind = "member/find", memberUpdate = "member/update"
    case memberTopup = "member/topup", memberSetPIN = "member/set-pin", memberDisable = "member/disable"
    /// Money given back: part of a sale (`sale/refund`), or a sale made by mistake, whole (`sale/void`).
    case saleRefund = "sale/refund", saleVoid = "sale/void"
    /// The counter: products, baskets (`sale/create`), and the cash drawer's shifts (X report: `shift/get`).
    case productList = "product/list", productSet = "product/set", productRemove = "product/remove"
    case saleCreate = "sale/create"
    case shiftOpen = "shift/open", shiftClose = "shift/close", shiftPayIn = "shift/payin", shiftPayOut = "shift/payout"
    case shiftGet = "shift/get"
}

extension Verb {
    /// The verb that sends an order.
    public init(order: OrderAction) {
        switch order {
        case .logout: self = .stationLogout
        case .shutdown: self = .stationShutdown
        case .restart: self = .stationRestart
        case .message: self = .stationMessage
        }
    }
}

