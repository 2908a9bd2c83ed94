import ArgumentParser
import Foundation
import Logging
import PlayclockContract
import PlayclockMQTT

/// The smart plugs to simulate, from the command line.
struct PlugOptions: ParsableArguments {
    @Option(name: .long, help: "Tasmota plugs by Topic (FullTopic %prefix%/%topic%/, relay 1); repeatable or comma-separated.")
    var tasmota: [String] = []
    @Option(name: .long, help: "Shelly Gen1 plugs by device id, e.g. shellyplug-s-AB12 (relay 0); repeatable or comma-separated.")
    var shelly1: [String] = []
    @Option(name: .long, help: "Shelly Gen2/Plus plugs by MQTT topic_prefix (switch 0); repeatable or comma-separated.")
    var shelly2: [String] = []
    @Option(name: .long, help: "Watts a plug reports while on and its console is idle.")
    var plugIdleWatts: Double = 2.0
    @Option(name: .long, help: "Watts a plug reports while on and its console plays.")
    var plugActiveWatts: Double = 65.0
    @Option(name: .long, help: "Seconds between telemetry messages of each plug.")
    var plugTelemetryInterval: Double = 10

    var specs: [PlugSpec] {
        func specs(_ values: [String], _ model: PlugModel) -> [PlugSpec] {
            values.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
                .map { PlugSpec(model: model, name: $0.trimmingCharacters(in: .whitespaces)) }
        }
        return specs(tasmota, .tasmota) + specs(shelly1, .shelly1) + specs(shelly2, .shelly2)
    }

    func validate() throws {
        var names = Set<String>()
        for spec in specs {
            guard PlugSpec.isValidName(spec.name) else {
                throw ValidationError("invalid --\(spec.model.rawValue) name \"\(spec.name)\": use 1-64 of A-Z a-z 0-9 _ -")
            }
            guard names.insert(spec.name).inserted else {
                throw ValidationError("plug name \"\(spec.name)\" is given twice (it is the plug's MQTT client id)")
            }
        }
        for watts in [plugIdleWatts, plugActiveWatts] where !(watts.isFinite && watts >= 0 && watts <= 100_000) {
            throw ValidationError("--plug-idle-watts and --plug-active-watts must be in [0, 100000]")
        }
        guard plugTelemetryInterval > 0, plugTelemetryInterval <= 3600 else {
            throw ValidationError("--plug-telemetry-interval must be in (0, 3600]")
        }
    }
}

enum PlugModel: String, Sendable {
    case tasmota, shelly1, shelly2
}

struct PlugSpec: Sendable {
    let model: PlugModel
    /// The Tasmota topic, Shelly Gen1 id or Shelly Gen2 topic prefix; also the MQTT client id.
    let name: String

    /// One MQTT topic level: 1-64 of A-Z a-z 0-9 _ -.
    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.unicodeScalars.allSatisfy { ($0.isASCII && CharacterSet.alphanumerics.contains($0)) || $0 == "_" || $0 == "-" }
    }
}

struct PlugSettings: Sendable {
    var broker: String
    var username: String?
    var password: String?
    var idleWatts: Double
    var activeWatts: Double
    var telemetryInterval: Double
}

/// Why the relay switched.
enum SwitchSource: String {
    case powerOn = "power-on", command, button, timer
}

/// What a test can do to a plug by publishing on `playclock-sim/plugs/<name>/fault`.
enum PlugFault: String {
    /// Someone pressed the plug's button: the relay toggles and the firmware reports it.
    case press
    /// The plug loses power: the broker publishes its will; it is back 2 s later with the relay off.
    case powercut
    /// The plug ignores all commands from now on (it still sends telemetry and reports button
    /// presses); `answer` undoes it.
    case silent, answer
    /// The console behind the plug idles (idle watts while on) or plays (active watts while on).
    case idle, play
}

/// A relay flip-back that is running (Tasmota PulseTime, Shelly Gen2 toggle_after).
struct FlipBackTimer {
    let startedAt: Date
    let seconds: Double

    var remaining: Double { max(0, seconds - Date().timeIntervalSince(startedAt)) }
}

/// What a plug's firmware puts on the wire. The plug owns the relay, the console, the timers and
/// the connection; its firmware is only ever called on the plug's actor.
protocol PlugFirmware {
    /// The retained "offline" message the broker publishes when the plug drops off.
    var will: (topic: String, payload: String) { get }
    var commandFilters: [String] { get }
    /// On every connect.
    func announce(on plug: isolated SimulatedPlug)
    /// A message on one of `commandFilters` (not while the plug is silent).
    func handle(_ command: MQTTMessage, on plug: isolated SimulatedPlug)
    /// The physical button.
    func press(on plug: isolated SimulatedPlug)
    /// After every switch of the relay, even to the state it was in.
    func reportSwitch(wasOn: Bool, source: SwitchSource, on plug: isolated SimulatedPlug)
    /// After the measured power changed.
    func reportPower(on plug: isolated SimulatedPlug)
    /// Every telemetry interval.
    func reportTelemetry(on plug: isolated SimulatedPlug)
}

/// One smart plug powering a console, with its own MQTT connection (client id = its name).
///
/// Prints one line per command received and per state change:
/// `<ISO time> <name> <tasmota|shelly1|shelly2> <detail>`.
actor SimulatedPlug {
    static let powerCutAbsence: Duration = .seconds(2)

    let name: String
    let model: PlugModel
    let settings: PlugSettings
    private let firmware: any PlugFirmware
    private let logger: Logger
    private let output: LineWriter
    private var client: MQTTClient?
    private(set) var isOn = false
    private(set) var lastSwitchSource = SwitchSource.powerOn
    private(set) var bootedAt = ContinuousClock.now
    private(set) var flipBack: FlipBackTimer?
    private var flipBackTask: Task<Void, Never>?
    private var consolePlaying = true
    private var silent = false
    private var meter = EnergyMeter()

    init(spec: PlugSpec, settings: PlugSettings, logger: Logger, output: LineWriter) {
        name = spec.name
        model = spec.model
        self.settings = settings
        self.logger = logger
        self.output = output
        switch spec.model {
        case .tasmota: firmware = TasmotaFirmware(topic: spec.name)
        case .shelly1: firmware = Shelly1Firmware(id: spec.name)
        case .shelly2: firmware = Shelly2Firmware(prefix: spec.name)
        }
    }

    private var faultTopic: String { "playclock-sim/plugs/\(name)/fault" }

    var watts: Double { isOn ? (consolePlaying ? settings.activeWatts : settings.idleWatts) : 0 }

    /// Energy used since the simulator started.
    func energyWattHours() -> Double {
        meter.advance(watts: watts)
        return meter.wattHours
    }

    func run() async throws {
        while true {
            try await boot()
            try await Task.sleep(for: Self.powerCutAbsence)
        }
    }

    /// Powers up with the relay off (PowerOnState 0, initial_state off) and serves the connection
    /// until the power is cut.
    private func boot() async throws {
        let client = MQTTClient(configuration: try configuration(withWill: true), logger: logger)
        for filter in firmware.commandFilters + [faultTopic] {
            client.subscribe(try MQTTTopicFilter(filter), qos: .atLeastOnce)
        }
        self.client = client
        cancelFlipBack()
        isOn = false
        lastSwitchSource = .powerOn
        bootedAt = .now
        log("BOOT relay OFF")
        client.start()
        let interval = Duration.seconds(settings.telemetryInterval)
        let telemetry = Task {
            while (try? await Task.sleep(for: interval)) != nil { firmware.reportTelemetry(on: self) }
        }
        defer { telemetry.cancel() }

        for await event in client.events {
            switch event {
            case .connected:
                firmware.announce(on: self)
            case .disconnected:
                break
            case .message(let message) where message.topic == faultTopic:
                // Retained faults are ignored: a retained powercut would cut the power on every boot.
                guard !message.retain else { continue }
                if fault(String(decoding: message.payload, as: UTF8.self)) == .powercut {
                    try await cutPower(client)
                    return
                }
            case .message(let message):
                guard !silent else {
                    log("IGNORED \(message.topic) \(String(decoding: message.payload, as: UTF8.self))")
                    continue
                }
                firmware.handle(message, on: self)
            }
        }
    }

    private func fault(_ payload: String) -> PlugFault? {
        guard let fault = PlugFault(rawValue: payload) else {
            log("FAULT-UNKNOWN \(payload)")
            return nil
        }
        log("FAULT \(payload)")
        switch fault {
        case .press: firmware.press(on: self)
        case .powercut: break
        case .silent: silent = true
        case .answer: silent = false
        case .idle: setConsole(playing: false)
        case .play: setConsole(playing: true)
        }
        return fault
    }

    /// Ends the connection without a DISCONNECT, so that the broker publishes the will.
    /// `MQTTClient.stop()` always disconnects cleanly (which discards the will), so a second
    /// connection with the plug's client id takes the session over: the broker then drops the
    /// plug's connection and publishes its will, as it does when a plug's TCP connection dies.
    /// The helper connection has no will and disconnects cleanly.
    private func cutPower(_ client: MQTTClient) async throws {
        cancelFlipBack()
        self.client = nil
        let helper = MQTTClient(configuration: try configuration(withWill: false), logger: logger)
        helper.start()
        _ = await helper.waitUntilConnected(timeout: .seconds(5))
        client.stop()
        helper.stop()
    }

    private func configuration(withWill: Bool) throws -> MQTTClientConfiguration {
        var config = try MQTTClientConfiguration(url: settings.broker, clientID: name)
        config.username = settings.username
        config.password = settings.password
        if withWill {
            let will = firmware.will
            config.will = MQTTWill(topic: try MQTTTopic(will.topic), payload: Array(will.payload.utf8), qos: .atLeastOnce, retain: true)
        }
        return config
    }

    // MARK: For the firmware

    /// Switches the relay and has the firmware report it; returns whether it was on. Any switch
    /// cancels a running flip-back timer; `flipBackAfter` starts a new one that switches the relay
    /// to the other state after that many seconds.
    @discardableResult
    func switchRelay(on: Bool, source: SwitchSource, flipBackAfter seconds: Double? = nil) -> Bool {
        let wasOn = isOn, wattsBefore = watts
        meter.advance(watts: wattsBefore)
        isOn = on
        lastSwitchSource = source
        cancelFlipBack()
        if let seconds { startFlipBack(after: seconds, to: !on) }
        if wasOn != on { log("RELAY \(on ? "ON" : "OFF") \(source.rawValue)") }
        firmware.reportSwitch(wasOn: wasOn, source: source, on: self)
        if watts != wattsBefore { firmware.reportPower(on: self) }
        return wasOn
    }

    func publish(_ topic: String, _ payload: String, retain: Bool = false) {
        guard let topic = try? MQTTTopic(topic) else { return }
        client?.publish(topic, payload: Array(payload.utf8), qos: .atLeastOnce, retain: retain)
    }

    func publish(_ topic: String, _ json: JSONValue, retain: Bool = false) {
        publish(topic, String(decoding: JSONCoding.encode(json), as: UTF8.self), retain: retain)
    }

    func log(_ detail: String) {
        let now = ISO8601.string(fromMillis: Int64(Date().timeIntervalSince1970 * 1000))
        output.write("\(now) \(name) \(model.rawValue) \(detail)")
    }

    // MARK: Private

    private func setConsole(playing: Bool) {
        let wattsBefore = watts
        meter.advance(watts: wattsBefore)
        consolePlaying = playing
        if watts != wattsBefore { firmware.reportPower(on: self) }
    }

    private func startFlipBack(after seconds: Double, to on: Bool) {
        flipBack = FlipBackTimer(startedAt: Date(), seconds: seconds)
        flipBackTask = Task {
            guard (try? await Task.sleep(for: .seconds(seconds))) != nil, !Task.isCancelled else { return }
            switchRelay(on: on, source: .timer)
        }
    }

    private func cancelFlipBack() {
        flipBackTask?.cancel()
        flipBackTask = nil
        flipBack = nil
    }
}

/// Integrates power over time.
struct EnergyMeter {
    private(set) var wattHours = 0.0
    private var last = ContinuousClock.now

    /// Adds the energy used at `watts` since the last call.
    mutating func advance(watts: Double) {
        let now = ContinuousClock.now
        wattHours += watts * (now - last).seconds / 3600
        last = now
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func rounded(_ value: Double, places: Int) -> Double {
    let scale = pow(10, Double(places))
    return (value * scale).rounded() / scale
}
