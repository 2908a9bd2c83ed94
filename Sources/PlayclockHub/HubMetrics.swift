import CoreMetrics
import PlayclockContract
import PlayclockCore

/// The hub's counters and timers, made with an injected factory (Prometheus in `playclockd`, a
/// private registry in tests, nothing by default) so that no global bootstrap is needed.
public struct HubMetrics: Sendable {
    let factory: any MetricsFactory
    let messagesIn: Counter
    let messagesOut: Counter
    let publishFailures: Counter
    /// Plug power readings ignored as implausible (not finite, negative, above `plug_max_watts`).
    let plugReadingsIgnored: Counter

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        messagesIn = Counter(label: "playclock_mqtt_messages_received_total", factory: factory)
        messagesOut = Counter(label: "playclock_mqtt_messages_published_total", factory: factory)
        publishFailures = Counter(label: "playclock_mqtt_publish_failures_total", factory: factory)
        plugReadingsIgnored = Counter(label: "playclock_plug_readings_ignored_total", factory: factory)
    }

    /// How long a staff command took inside the hub (decode, apply, store, publish), by verb and
    /// by the way it came in (`mqtt` or `http`), and whether it was refused.
    func recordCommand(verb: String, via source: String, refused: Bool, nanoseconds: Int64) {
        // Unknown verbs are folded into one label: a client cannot create unbounded series.
        let label = Self.knownVerbs.contains(verb) ? verb : "unknown"
        CoreMetrics.Timer(label: "playclock_command_duration_seconds", dimensions: [("verb", label), ("source", source)],
              preferredDisplayUnit: .seconds, factory: factory).recordNanoseconds(nanoseconds)
        Counter(label: "playclock_commands_total",
                dimensions: [("verb", label), ("source", source), ("result", refused ? "refused" : "ok")],
                factory: factory).increment()
    }

    /// An agent report that changed nothing (or a tamper report counted into the next one), by
    /// why (`AgentReportIgnored`, or `repeated_tamper`): a fixed set of labels.
    func recordIgnoredAgentReport(_ reason: String) {
        Counter(label: "playclock_agent_reports_ignored_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    static let knownVerbs: Set<String> = Set(Command.verbs)
}
