import PlayclockContract

/// Shelly Gen2/Gen3/Plus with MQTT RPC under its `topic_prefix`; switch 0-3. Commands are
/// `Switch.Set` on `<prefix>/rpc`; every plug answers on the hub's one reply topic
/// `<rpcSource>/rpc`, so a reply counts only when it carries the id of this plug's last query.
struct ShellyGen2Driver: PlugDriver {
    let prefix: String
    let switchID: Int

    var account: String { prefix }
    var vendorName: String { "Shelly Gen2" }
    var hasOffTimer: Bool { true }

    func statusTopics(rpcSource: String) -> [String] {
        ["\(prefix)/online", "\(prefix)/events/rpc", "\(rpcSource)/rpc"]
    }

    func switchCommands(on: Bool, offTimer: PlugOffTimer, rpcSource: String, rpcID: Int64) -> [Outbound] {
        var params: [String: JSONValue] = ["id": .int(Int64(switchID)), "on": .bool(on)]
        // Gen2 keeps no timer setting: it only runs one when a Switch.Set asks for it.
        if on, case .after(let seconds) = offTimer { params["toggle_after"] = .int(seconds) }
        return [rpc(["id": .int(rpcID), "src": .string(rpcSource), "method": "Switch.Set", "params": .object(params)])]
    }

    func statusQuery(rpcSource: String, rpcID: Int64) -> Outbound? {
        rpc(["id": .int(rpcID), "src": .string(rpcSource), "method": "Switch.GetStatus", "params": ["id": .int(Int64(switchID))]])
    }

    func interpret(topic: String, payload: [UInt8], rpcSource: String, queryID: Int64?) -> [PlugReport] {
        switch topic {
        case "\(prefix)/online":
            let text = String(decoding: payload, as: UTF8.self)
            return text == "true" ? [.online(true)] : text == "false" ? [.online(false)] : []
        case "\(prefix)/events/rpc":
            guard let json = try? JSONCoding.decode(payload), json["method"] == "NotifyStatus",
                let status = json["params"]?["switch:\(switchID)"]
            else { return [] }
            return [.online(true)] + Self.switchStatus(status)
        case "\(rpcSource)/rpc":
            guard let queryID, let json = try? JSONCoding.decode(payload), json["id"]?.intValue == queryID,
                let result = json["result"], result["id"]?.intValue == Int64(switchID)
            else { return [] }
            return [.online(true)] + Self.switchStatus(result)
        default:
            return []
        }
    }

    func aclTopics(rpcSource: String) -> [String] {
        ["topic read \(prefix)/rpc", "topic write \(prefix)/online", "topic write \(prefix)/events/rpc",
         "topic write \(prefix)/status/#", "topic write \(rpcSource)/rpc"]
    }

    private func rpc(_ body: JSONValue) -> Outbound {
        Outbound(topic: "\(prefix)/rpc", payload: JSONCoding.encode(body), qos: .atLeastOnce, retain: false)
    }

    private static func switchStatus(_ status: JSONValue) -> [PlugReport] {
        var reports: [PlugReport] = []
        if let output = status["output"]?.boolValue { reports.append(.power(output)) }
        if let watts = status["apower"] { reports.append(PlugReading.watts(watts)) }
        return reports
    }
}
