import PlayclockContract

/// Keeps refused requests from growing the audit log and the journal without bound.
///
/// The first refusal of a kind (same account, verb and error code) within a window is recorded
/// in full; the repeats inside the window are only counted, and when the window closes one
/// summary with the count is recorded instead. A client hammering the hub with the same bad
/// request therefore costs one event (and one fsync) per window, however fast it sends, while
/// a refusal that happens once is audited exactly as before. Pure: time comes in as monotonic
/// nanoseconds, nothing is read from a clock.
public struct RejectionDigest: Sendable, Equatable {
    /// What makes two refusals "the same".
    public struct Key: Sendable, Hashable {
        public var actor: String?
        public var verb: String
        public var code: String

        /// Refusals of kinds beyond `maxKinds` are folded into this one.
        static let overflow = Key(actor: nil, verb: "*", code: "*")
    }

    /// A closed window that saw repeats: record it as one summary event.
    public struct Summary: Sendable, Equatable {
        public var key: Key
        /// Repeats counted (not recorded one by one) in the window.
        public var count: Int
        /// The last repeat's message.
        public var message: String
        public var windowSeconds: Int64
    }

    private struct Window: Sendable, Equatable {
        var endsAt: Int64
        var repeats = 0
        var lastMessage: String
    }

    public let windowNanos: Int64
    public let maxKinds: Int
    private var windows: [Key: Window] = [:]
    /// The earliest `endsAt` of all windows, kept so `nextDeadline` is O(1).
    public private(set) var nextDeadline: Int64?

    public init(windowSeconds: Int64 = 10, maxKinds: Int = 256) {
        precondition(windowSeconds > 0 && maxKinds > 0)
        self.windowNanos = windowSeconds * 1_000_000_000
        self.maxKinds = maxKinds
    }

    /// Registers a refusal. True when it must be recorded in full now (the first of its kind in a
    /// window), false when it was only counted.
    public mutating func admit(actor: String?, verb: String, code: String, message: String, now: Int64) -> Bool {
        var key = Key(actor: actor, verb: verb, code: code)
        if windows[key] == nil, windows.count >= maxKinds { key = .overflow }
        if var window = windows[key], window.endsAt > now {
            window.repeats += 1
            window.lastMessage = message
            windows[key] = window
            return false
        }
        windows[key] = Window(endsAt: now + windowNanos, lastMessage: message)
        nextDeadline = Swift.min(nextDeadline ?? .max, now + windowNanos)
        return true
    }

    /// Closes every window that ended by `now`: those that counted repeats become summaries and
    /// stay open for another window (a flood that goes on costs one summary per window); quiet
    /// ones are forgotten. Sorted, so the same input always gives the same events.
    public mutating func closeDue(now: Int64) -> [Summary] {
        guard let next = nextDeadline, next <= now else { return [] }
        var summaries: [Summary] = []
        for (key, window) in windows where window.endsAt <= now {
            if window.repeats > 0 {
                summaries.append(Summary(key: key, count: window.repeats, message: window.lastMessage,
                                         windowSeconds: windowNanos / 1_000_000_000))
                windows[key] = Window(endsAt: now + windowNanos, lastMessage: window.lastMessage)
            } else {
                windows[key] = nil
            }
        }
        nextDeadline = windows.values.map(\.endsAt).min()
        return summaries.sorted { ($0.key.actor ?? "", $0.key.verb, $0.key.code) < ($1.key.actor ?? "", $1.key.verb, $1.key.code) }
    }

    /// Kinds currently tracked (bounded by `maxKinds` + 1).
    public var trackedKinds: Int { windows.count }
}
