import ArgumentParser
import Dispatch
import Foundation
import Logging
import PlayclockAgent
import PlayclockAgentX11
import PlayclockContract
import PlayclockMQTT

#if canImport(Glibc)
import Glibc
#endif

@main
struct PlayclockAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playclock-agent",
        abstract: "The Playclock PC agent: locks a gaming PC until the hub unlocks it, and shows the time left.",
        discussion: """
            Draws on the X display named by DISPLAY. Starts locked (a fullscreen window over every monitor \
            that takes the keyboard and pointer) and unlocks only when the hub sends `unlock` on \
            R/stations/<id>/control. During a session a small always-on-top overlay shows the time left \
            (green, orange under 10 minutes, red under 5) and the hub's warnings; it never takes focus.

            The lease: the agent counts the session down on its own boot-time clock and locks by itself \
            at the end, whether or not the hub or the broker can be reached; changing the PC's clock \
            changes nothing. It keeps the lease in --lease-file (mode 0600; a file others can write is \
            not trusted), so a killed agent comes back in the right state, or locked when in doubt. \
            When the hub is back, its word wins.

            Settings come from --config FILE (JSON; see docs/agent.md and samples/agent.json), then \
            these flags. A broken config is refused with a message and exit status 2; with --kiosk the \
            agent instead shows the lock screen with the error and stays locked (never an open desktop).

            SIGTERM or SIGINT stops it (the lock screen goes away; in the kiosk session that ends the \
            session). Orders from staff (logout, shutdown, restart, message) run the commands of the \
            config's "commands" and are confirmed on R/stations/<id>/event.
            """,
        version: AgentVersion.current)

    @Option(name: .long, help: "JSON config file (default /etc/playclock/agent.json if it exists).")
    var config: String?

    @Option(name: .long, help: "Broker URL, mqtt://HOST:PORT or mqtts://HOST:PORT for TLS (default mqtt://127.0.0.1:1883).")
    var broker: String?

    @Option(name: .long, help: "This PC's station id (as added on the hub).")
    var station: String?

    @Option(name: .long, help: "Root of every Playclock topic (default playclock).")
    var topicRoot: String?

    @Option(name: .long, help: "Broker account (default: the station id, as `playclock broker acl` makes it).")
    var username: String?

    @Option(name: .long, help: "File whose first line is the broker password.")
    var passwordFile: String?

    @Option(name: .long, help: "CA certificate that signed the broker's TLS certificate (the venue CA).")
    var tlsCaFile: String?

    @Option(name: .long, help: "Where the lease is kept (default $XDG_STATE_HOME/playclock/lease-<station>.json).")
    var leaseFile: String?

    @Flag(name: .long, help: "Kiosk session: with a broken config, show the error on the lock screen and stay locked instead of exiting.")
    var kiosk = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error (default info).")
    var logLevel: String = "info"

    func run() async throws {
        var logger = Logger(label: "playclock.agent")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        let configuration: AgentConfiguration
        do {
            configuration = try loadConfiguration()
        } catch {
            FileHandle.standardError.write(Data("playclock-agent: \(error.description)\n".utf8))
            guard kiosk else { throw ExitCode(2) }
            try await showConfigurationError(error.description, logger: logger)
            return
        }

        var mqtt: MQTTClientConfiguration
        do {
            mqtt = try MQTTClientConfiguration(url: configuration.broker, clientID: "playclock-agent-\(configuration.station)")
            mqtt.username = configuration.username ?? configuration.station.value
            if let file = configuration.passwordFile { mqtt.password = try MQTTClientConfiguration.password(fromFile: file) }
        } catch {
            FileHandle.standardError.write(Data("playclock-agent: \(error)\n".utf8))
            guard kiosk else { throw ExitCode(2) }
            try await showConfigurationError("\(error)", logger: logger)
            return
        }
        mqtt.tlsCAFile = configuration.tlsCAFile
        mqtt.keepAliveSeconds = 10
        mqtt.reconnectDelayMax = .seconds(3)

        // The display opens before the runtime exists: its reports reach the runtime through a box
        // (one lost before the box is filled, the runtime sees from `isConnected` at its start).
        let box = RuntimeBox()
        let display: X11Display
        do {
            display = try X11Display(displayName: nil, onTamper: { box.runtime?.tamper($0) },
                                     onConnectionLost: { box.runtime?.displayLost() }, onInput: { box.runtime?.input($0) },
                                     logger: logger)
        } catch {
            FileHandle.standardError.write(Data("playclock-agent: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let leaseFile = LeaseFile(path: configuration.leaseFile ?? LeaseFile.defaultPath(station: configuration.station.value))
        let will = AgentCore.willPublication(topics: TopicScheme(root: configuration.topicRoot)!, station: configuration.station)
        mqtt.will = MQTTWill(topic: try MQTTTopic(will.topic), payload: will.payload, qos: .atLeastOnce, retain: false)
        let client = MQTTClient(configuration: mqtt, logger: logger)
        let runtime = AgentRuntime(configuration: configuration, client: client, display: display, leaseFile: leaseFile, logger: logger)
        box.runtime = runtime

        let signals = Signals { runtime.stop() }
        let clean = await runtime.run(version: AgentVersion.current)
        signals.cancel()
        display.close()
        logger.info("agent stopped", metadata: ["station.id": "\(configuration.station)"])
        if !clean { throw ExitCode(1) }
    }

    private func loadConfiguration() throws(AgentConfigurationError) -> AgentConfiguration {
        let path = config ?? (FileManager.default.fileExists(atPath: "/etc/playclock/agent.json") ? "/etc/playclock/agent.json" : nil)
        var bytes: [UInt8]?
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw AgentConfigurationError("cannot read the config file \(path)")
            }
            bytes = Array(data)
        }
        let overrides = AgentConfiguration.Overrides(
            broker: broker, station: station, topicRoot: topicRoot, username: username, passwordFile: passwordFile,
            tlsCAFile: tlsCaFile, leaseFile: leaseFile)
        do {
            return try AgentConfiguration.load(file: bytes, overrides: overrides)
        } catch {
            throw AgentConfigurationError(path.map { "\($0): \(error.description)" } ?? error.description)
        }
    }

    /// The kiosk's answer to a broken config: locked, saying why, until someone fixes it.
    private func showConfigurationError(_ message: String, logger: Logger) async throws {
        // Until SIGTERM, or until the display is gone (then the session starts us again).
        let stopped = AsyncStream<Void>.makeStream()
        let display: X11Display
        do {
            display = try X11Display(displayName: nil, onTamper: { _ in },
                                     onConnectionLost: { stopped.continuation.finish() }, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("playclock-agent: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let texts = AgentTexts()
        display.show(.locked(LockScreen(
            venueName: "Playclock", stationName: station ?? "", reason: .configurationError,
            headline: texts.headlines[.configurationError] ?? "Out of order", detail: String(message.prefix(300)),
            staffMessage: nil, hubReachable: false)))
        let signals = Signals { stopped.continuation.finish() }
        if display.isConnected {
            for await _ in stopped.stream {}
        }
        signals.cancel()
        display.close()
        throw ExitCode(2)
    }
}

/// Lets the display's tamper callback reach the runtime made after it.
final class RuntimeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _runtime: AgentRuntime?
    var runtime: AgentRuntime? {
        get { lock.withLock { _runtime } }
        set { lock.withLock { _runtime = newValue } }
    }
}

/// SIGTERM and SIGINT, as dispatch sources (unblocked first: a parent may have blocked them).
/// Unchecked: `sources` is set once in `init` and dispatch sources are thread-safe.
final class Signals: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    func cancel() { for s in sources { s.cancel() } }
}
