import PlayclockContract

/// Shelly Gen1 (`shellies/<id>/...`); relay 0-3. It has no off-timer the hub can set, and no
/// status query: it reports its retained relay state on subscription.
struct ShellyGen1Driver: PlugDriver {
    let id: String
    let relay: Int

    var account: String { id }
    var vendorName: String { "Shelly Gen1" }
    var hasOffTimer: Bool { false }

    func statusTopics(rpcSource: String) -> [String] {
        ["shellies/\(id)/online", "shellies/\(id)/relay/\(relay)", "shellies/\(id)/relay/\(relay)/power"]
    }

    func switchCommands(on: Bool, offTimer: PlugOffTimer, rpcSource: String, rpcID: Int64) -> [Outbound] {
        [PlugReading.command("shellies/\(id)/relay/\(relay)/command", on ? "on" : "off")]
    }

    func statusQuery(rpcSource: String, rpcID: Int64) -> Outbound? { nil }

    func interpret(topic: String, payload: [UInt8], rpcSource: String, queryID: Int64?) -> [PlugReport] {
        let text = String(decoding: payload, as: UTF8.self)
        switch topic {
        case "shellies/\(id)/online":
            return text == "true" ? [.online(true)] : text == "false" ? [.online(false)] : []
        case "shellies/\(id)/relay/\(relay)":
            return PlugReading.onOff(text).map { [.power($0)] } ?? []
        case "shellies/\(id)/relay/\(relay)/power":
            return [PlugReading.watts(.string(text))]
        default:
            return []
        }
    }

    func aclTopics(rpcSource: String) -> [String] {
        ["topic read shellies/\(id)/relay/+/command", "topic read shellies/\(id)/command",
         "topic write shellies/\(id)/online", "topic write shellies/\(id)/relay/#",
         "topic write shellies/\(id)/info", "topic write shellies/announce"]
    }
}
