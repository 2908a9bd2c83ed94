/// The client's one ordered inbound queue: what the network thread received and the consumer of
/// `MQTTClient.events` has not taken yet. Pure (no threads, no clock): `MQTTClient` drives it under
/// a lock.
///
/// Two kinds of entries, kept in arrival order:
/// - *coalescing* messages (received on a subscription marked `coalescing`, e.g. heartbeats): while
///   one for a topic is waiting, a new one on the same topic is shed; and at most
///   `coalescingLimit` of them wait in all, beyond which new ones are shed. Shedding is counted.
/// - everything else (messages, `.connected`, `.disconnected`) is never dropped. Once
///   `backpressureLimit` of them are waiting the queue is *backpressured*: the client stops reading
///   from the broker (TCP pushes back) until the consumer has brought the count down to
///   `resumeLevel` (half the limit). Entries pushed while backpressured are still queued.
struct MQTTInboundQueue: Sendable {
    struct Limits: Sendable, Equatable {
        /// Coalescing messages that may wait at once; beyond it new ones are shed.
        var coalescingLimit: Int
        /// Non-coalescing entries at which reading from the broker pauses.
        var backpressureLimit: Int

        init(coalescingLimit: Int, backpressureLimit: Int) {
            self.coalescingLimit = max(1, coalescingLimit)
            self.backpressureLimit = max(1, backpressureLimit)
        }

        /// Non-coalescing entries at or below which reading resumes.
        var resumeLevel: Int { backpressureLimit / 2 }
    }

    enum PushResult: Sendable, Equatable {
        case queued
        /// A coalescing message for the same topic was already waiting.
        case shedSameTopic
        /// `coalescingLimit` coalescing messages were already waiting.
        case shedOverLimit
    }

    private struct Entry: Sendable {
        var event: MQTTClientEvent
        /// The topic of a coalescing message, nil for every other entry.
        var coalescingTopic: String?
    }

    let limits: Limits
    /// Entries from `head` on are waiting; the prefix is compacted away from time to time.
    private var entries: [Entry] = []
    private var head = 0
    private var waitingTopics: Set<String> = []
    private(set) var coalescingCount = 0
    private(set) var nonCoalescingCount = 0
    private(set) var isBackpressured = false
    private(set) var shedSameTopic = 0
    private(set) var shedOverLimit = 0
    /// How many times the queue became backpressured.
    private(set) var backpressureEvents = 0

    init(limits: Limits) {
        self.limits = limits
    }

    var count: Int { entries.count - head }
    var isEmpty: Bool { count == 0 }
    var shedMessages: Int { shedSameTopic + shedOverLimit }

    /// Queues `event`, unless it is a coalescing message that must be shed.
    /// Only `.message` events can be coalescing; `coalescing` is ignored for the others.
    @discardableResult
    mutating func push(_ event: MQTTClientEvent, coalescing: Bool = false) -> PushResult {
        if coalescing, case .message(let message) = event {
            if waitingTopics.contains(message.topic) {
                shedSameTopic += 1
                return .shedSameTopic
            }
            if coalescingCount >= limits.coalescingLimit {
                shedOverLimit += 1
                return .shedOverLimit
            }
            waitingTopics.insert(message.topic)
            coalescingCount += 1
            entries.append(Entry(event: event, coalescingTopic: message.topic))
            return .queued
        }
        nonCoalescingCount += 1
        entries.append(Entry(event: event, coalescingTopic: nil))
        if !isBackpressured, nonCoalescingCount >= limits.backpressureLimit {
            isBackpressured = true
            backpressureEvents += 1
        }
        return .queued
    }

    /// The oldest waiting entry, or nil.
    mutating func pop() -> MQTTClientEvent? {
        guard head < entries.count else { return nil }
        let entry = entries[head]
        head += 1
        if let topic = entry.coalescingTopic {
            waitingTopics.remove(topic)
            coalescingCount -= 1
        } else {
            nonCoalescingCount -= 1
            if isBackpressured, nonCoalescingCount <= limits.resumeLevel { isBackpressured = false }
        }
        if head == entries.count {
            entries.removeAll(keepingCapacity: entries.capacity <= 4096)
            head = 0
        } else if head >= 1024, head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return entry.event
    }

    /// Drops every waiting entry (the consumer went away); counters are kept.
    mutating func removeAll() {
        entries = []
        head = 0
        waitingTopics = []
        coalescingCount = 0
        nonCoalescingCount = 0
        isBackpressured = false
    }
}

/// Rate limit for the "messages shed" warning: at most one report per `interval`, carrying
/// everything shed since the previous report. Pure: the caller passes the time.
struct MQTTShedReporter: Sendable {
    struct Report: Sendable, Equatable {
        var shedSameTopic: Int
        var shedOverLimit: Int
        var backpressureEvents: Int
    }

    let interval: Duration
    private var lastReport: Duration?
    private var reported = Report(shedSameTopic: 0, shedOverLimit: 0, backpressureEvents: 0)

    init(interval: Duration) {
        self.interval = interval
    }

    /// Given the queue's running totals at `now` (any monotonic origin), returns what to report,
    /// or nil when nothing new was shed or the last report is younger than `interval`.
    mutating func check(totals: Report, now: Duration) -> Report? {
        let delta = Report(
            shedSameTopic: totals.shedSameTopic - reported.shedSameTopic,
            shedOverLimit: totals.shedOverLimit - reported.shedOverLimit,
            backpressureEvents: totals.backpressureEvents - reported.backpressureEvents)
        guard delta.shedSameTopic > 0 || delta.shedOverLimit > 0 || delta.backpressureEvents > 0 else { return nil }
        if let lastReport, now - lastReport < interval { return nil }
        lastReport = now
        reported = totals
        return delta
    }
}
