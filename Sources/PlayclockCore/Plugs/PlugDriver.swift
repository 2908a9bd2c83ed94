import PlayclockContract

/// How the hub speaks to one vendor's plugs in their own MQTT topics. One type per vendor, in
/// its own file; `PlugBinding.driver` picks it. A new vendor is a new driver here, a new case
/// (its wire form) in the contract's `PlugBinding`, and one line in `driver`.
///
/// Drivers are pure: they build messages and read reports, and keep no state. What the hub
/// knows and wants of a plug is `PlugRuntime`; driving it toward that is `PlugControl.swift`.
protocol PlugDriver: Sendable {
    /// The plug's broker account (its client id): it may use only its own topics.
    var account: String { get }
    /// For people reading the generated ACL ("Tasmota", "Shelly Gen1", ...).
    var vendorName: String { get }
    /// Whether the plug can switch itself off after a time the hub sets (the fail-safe).
    var hasOffTimer: Bool { get }
    /// Every topic the hub must subscribe to. `rpcSource` is the hub's Shelly RPC `src`.
    func statusTopics(rpcSource: String) -> [String]
    /// The messages that switch the plug (never retained: a plug would re-execute a retained
    /// command every time it reconnects). `offTimer` only matters when switching on.
    func switchCommands(on: Bool, offTimer: PlugOffTimer, rpcSource: String, rpcID: Int64) -> [Outbound]
    /// Asks the plug for its state, where the protocol has a way to.
    func statusQuery(rpcSource: String, rpcID: Int64) -> Outbound?
    /// Reads a message on one of `statusTopics`. Unknown or malformed content yields nothing.
    /// `queryID` is the id of the last status query sent to this plug (replies that share one
    /// topic are told apart by it).
    func interpret(topic: String, payload: [UInt8], rpcSource: String, queryID: Int64?) -> [PlugReport]
    /// The broker ACL lines (`topic read ...`, `topic write ...`) the plug's account needs.
    func aclTopics(rpcSource: String) -> [String]
}

extension PlugBinding {
    /// The driver for this binding's vendor.
    var driver: any PlugDriver {
        switch self {
        case .tasmota(let topic, let relay): return TasmotaDriver(topic: topic, relay: relay)
        case .shelly1(let id, let relay): return ShellyGen1Driver(id: id, relay: relay)
        case .shelly2(let prefix, let switchID): return ShellyGen2Driver(prefix: prefix, switchID: switchID)
        }
    }

    /// The plug's broker account.
    public var account: String { driver.account }

    public var vendorName: String { driver.vendorName }

    /// Whether the plug can switch itself off after a time we set (the fail-safe).
    public var hasOffTimer: Bool { driver.hasOffTimer }

    public func statusTopics(rpcSource: String) -> [String] { driver.statusTopics(rpcSource: rpcSource) }

    public func switchCommands(on: Bool, offTimer: PlugOffTimer = .unchanged, rpcSource: String, rpcID: Int64) -> [Outbound] {
        driver.switchCommands(on: on, offTimer: offTimer, rpcSource: rpcSource, rpcID: rpcID)
    }

    public func statusQuery(rpcSource: String, rpcID: Int64) -> Outbound? { driver.statusQuery(rpcSource: rpcSource, rpcID: rpcID) }

    public func interpret(topic: String, payload: [UInt8], rpcSource: String, queryID: Int64? = nil) -> [PlugReport] {
        driver.interpret(topic: topic, payload: payload, rpcSource: rpcSource, queryID: queryID)
    }

    public func aclTopics(rpcSource: String) -> [String] { driver.aclTopics(rpcSource: rpcSource) }
}

/// What a switch on does to the plug's own off-timer (Tasmota PulseTime, Shelly Gen2 toggle_after).
public enum PlugOffTimer: Sendable, Equatable {
    /// Nothing is said about it (Tasmota keeps its PulseTime setting; Shelly Gen2 sets none).
    case unchanged
    /// The plug switches itself off after this many seconds.
    case after(seconds: Int64)
    /// The plug stays on until told otherwise (Tasmota: PulseTime 0).
    case disarmed
}

/// What a plug said, in the hub's terms.
public enum PlugReport: Sendable, Equatable {
    case online(Bool)
    case power(Bool)
    /// A finite, non-negative reading written as a plain decimal number.
    case watts(Double)
    /// A power field that was present but is no reading: not a plain decimal number
    /// (`inf`, `nan`, `0x10`, text), negative, or not finite. Ignored, and counted.
    case implausibleWatts
}

/// Reading the fields plugs of every vendor send.
enum PlugReading {
    /// A command message: QoS 1, never retained.
    static func command(_ topic: String, _ payload: String) -> Outbound {
        Outbound(topic: topic, payload: Array(payload.utf8), qos: .atLeastOnce, retain: false)
    }

    static func onOff(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "on", "1": return true
        case "off", "0": return false
        default: return nil
        }
    }

    /// A power reading: a JSON number, or a string holding a plain decimal number (`64.8`,
    /// `0`), finite and not negative. Swift's `Double("0x10")` and `Double("inf")` would accept
    /// hexadecimal and infinities, which no plug sends: they are implausible here.
    static func watts(_ value: JSONValue) -> PlugReport {
        let watts: Double?
        switch value {
        case .int(let i): watts = Double(i)
        case .double(let d): watts = d
        case .string(let s): watts = plainDecimal(s)
        default: watts = nil
        }
        guard let watts, watts.isFinite, watts >= 0 else { return .implausibleWatts }
        return .watts(watts)
    }

    /// `digits[.digits]`, at most 32 characters; nil for anything else.
    static func plainDecimal(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 32 else { return nil }
        var sawDot = false
        var digitsBefore = 0
        var digitsAfter = 0
        for b in bytes {
            if b == UInt8(ascii: ".") {
                guard !sawDot else { return nil }
                sawDot = true
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) {
                if sawDot { digitsAfter += 1 } else { digitsBefore += 1 }
            } else {
                return nil
            }
        }
        guard digitsBefore > 0, !sawDot || digitsAfter > 0 else { return nil }
        return Double(text)
    }
}
