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
