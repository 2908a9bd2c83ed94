import Synchronization

/// Counters of the client's inbound queue (see `MQTTClientConfiguration.eventBufferSize` and
/// `coalescingBufferSize`). Totals since the client was created.
public struct MQTTClientStatistics: Sendable, Equatable {
    /// Coalescing messages shed, in all (`shedSameTopic + shedOverLimit`).
    public var shedMessages: Int
    /// Shed because a message on the same topic was still waiting.
    public var shedSameTopic: Int
    /// Shed because `coalescingBufferSize` coalescing messages were waiting.
    public var shedOverLimit: Int
    /// Entries (messages and connection events) waiting for the consumer now.
    public var queuedMessages: Int
    /// Of which coalescing messages.
    public var queuedCoalescingMessages: Int
    /// Times the queue reached `eventBufferSize` non-coalescing entries and reading paused.
    public var backpressureEvents: Int
    /// Whether reading from the broker is paused now.
    public var isBackpressured: Bool

    public init(
        shedMessages: Int = 0, shedSameTopic: Int = 0, shedOverLimit: Int = 0, queuedMessages: Int = 0,
        queuedCoalescingMessages: Int = 0, backpressureEvents: Int = 0, isBackpressured: Bool = false
    ) {
        self.shedMessages = shedMessages
        self.shedSameTopic = shedSameTopic
        self.shedOverLimit = shedOverLimit
        self.queuedMessages = queuedMessages
        self.queuedCoalescingMessages = queuedCoalescingMessages
        self.backpressureEvents = backpressureEvents
        self.isBackpressured = isBackpressured
    }
}

/// Connection events and received messages of one `MQTTClient`, in order. Single consumer
/// (iterate it from one task); finished by `MQTTClient.stop()` once the waiting entries are taken.
/// Cancelling the consuming task ends the sequence for good: what waits, and what arrives later,
/// is discarded (as with `AsyncStream`).
public struct MQTTClientEvents: AsyncSequence, Sendable {
    public typealias Element = MQTTClientEvent
    public typealias Failure = Never

    let channel: InboundChannel

    public func makeAsyncIterator() -> Iterator { Iterator(channel: channel) }

    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = MQTTClientEvent
        public typealias Failure = Never
        let channel: InboundChannel

        public mutating func next() async -> MQTTClientEvent? { await channel.next() }
    }
}

/// The inbound queue shared by the network thread (push) and the consumer (next), with the
/// consumer's suspension point.
final class InboundChannel: Sendable {
    private struct State {
        var queue: MQTTInboundQueue
        var waiters: [CheckedContinuation<MQTTClientEvent?, Never>] = []
        /// `finish()` was called: the waiting entries are still delivered, then nil.
        var finished = false
        /// The consumer was cancelled: nothing more is delivered or kept.
        var terminated = false
    }

    private let state: Mutex<State>
    /// Called (outside the lock) when the queue stops being backpressured or is dropped, so the
    /// network thread resumes reading.
    private let onRelease: @Sendable () -> Void

    init(limits: MQTTInboundQueue.Limits, onRelease: @escaping @Sendable () -> Void) {
        state = Mutex(State(queue: MQTTInboundQueue(limits: limits)))
        self.onRelease = onRelease
    }

    var isBackpressured: Bool { state.withLock { $0.queue.isBackpressured } }

    var statistics: MQTTClientStatistics {
        state.withLock { state in
            let queue = state.queue
            return MQTTClientStatistics(
                shedMessages: queue.shedMessages, shedSameTopic: queue.shedSameTopic, shedOverLimit: queue.shedOverLimit,
                queuedMessages: queue.count, queuedCoalescingMessages: queue.coalescingCount,
                backpressureEvents: queue.backpressureEvents, isBackpressured: queue.isBackpressured)
        }
    }

    var shedTotals: MQTTShedReporter.Report {
        state.withLock {
            .init(shedSameTopic: $0.queue.shedSameTopic, shedOverLimit: $0.queue.shedOverLimit,
                  backpressureEvents: $0.queue.backpressureEvents)
        }
    }

    /// Network thread: hands `event` to a waiting consumer or queues it.
    func push(_ event: MQTTClientEvent, coalescing: Bool) {
        let waiter = state.withLock { state -> CheckedContinuation<MQTTClientEvent?, Never>? in
            guard !state.finished, !state.terminated else { return nil }
            if state.queue.isEmpty, !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.queue.push(event, coalescing: coalescing)
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// No more pushes; the consumer gets what waits, then nil.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume(returning: nil) }
    }

    func next() async -> MQTTClientEvent? {
        if Task.isCancelled {
            terminate()
            return nil
        }
        // Fast path: something is waiting (or the sequence has ended).
        switch take(waiter: nil) {
        case .event(let event): return event
        case .end: return nil
        case .wait: break
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                switch take(waiter: continuation) {
                case .event(let event): continuation.resume(returning: event)
                case .end: continuation.resume(returning: nil)
                case .wait: break  // resumed by push, finish or terminate
                }
            }
        } onCancel: {
            terminate()
        }
    }

    private enum Take { case event(MQTTClientEvent), end, wait }

    /// Pops the oldest entry; if there is none and `waiter` is given, registers it (same lock).
    private func take(waiter: CheckedContinuation<MQTTClientEvent?, Never>?) -> Take {
        let (take, released) = state.withLock { state -> (Take, Bool) in
            if state.terminated { return (.end, false) }
            let wasBackpressured = state.queue.isBackpressured
            if let event = state.queue.pop() {
                return (.event(event), wasBackpressured && !state.queue.isBackpressured)
            }
            if state.finished { return (.end, false) }
            if let waiter { state.waiters.append(waiter) }
            return (.wait, false)
        }
        if released { onRelease() }
        return take
    }

    private func terminate() {
        let waiters = state.withLock { state in
            state.terminated = true
            state.queue.removeAll()
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume(returning: nil) }
        onRelease()
    }
}
