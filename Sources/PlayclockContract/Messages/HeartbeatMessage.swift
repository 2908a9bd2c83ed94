/// `R/stations/<id>/heartbeat` (agent -> hub, QoS 0, never retained): `{"seq": n, ...}` every
/// `heartbeat_interval_s`. Every other field (`agent`, `version`, `locked`, ...) is kept as the
/// station's `agent` info; `locked` is compared with what the hub wants.
public struct HeartbeatMessage: ContractMessage {
    public var seq: Int64
    /// The fields other than `seq`.
    public var info: [String: JSONValue]

    public init(seq: Int64, info: [String: JSONValue] = [:]) {
        self.seq = seq
        self.info = info
    }

    /// What the agent says about its lock screen, when it says so.
    public var locked: Bool? { info["locked"]?.boolValue }

    public var json: JSONValue {
        var body = info
        body["seq"] = .int(seq)
        return .object(body)
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "a heartbeat")
        guard let seq = f.object["seq"]?.intValue else { throw MessageDecodingError("a heartbeat needs an integer \"seq\"") }
        var info = f.object
        info["seq"] = nil
        self.init(seq: seq, info: info)
    }
}
