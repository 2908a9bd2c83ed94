/// Every request verb (`R/hub/request/<verb>` and `R/users/<account>/request/<verb>`), one per
/// `Command`. The hub, the CLI, the benchmark and the dashboard's role table all name verbs by it.
public enum Verb: String, Sendable, CaseIterable {
    case stationAdd = "station/add", stationUpdate = "station/update", stationRemove = "station/remove"
    case stationList = "station/list", stationGet = "station/get", stationMaintenance = "station/maintenance"
    case sessionStart = "session/start", sessionExtend = "session/extend", sessionPause = "session/pause"
    case sessionResume = "session/resume", sessionStop = "session/stop", sessionTransfer = "session/transfer"
    case plugPower = "plug/power"
}
