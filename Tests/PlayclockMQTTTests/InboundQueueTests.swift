@testable import PlayclockMQTT
import Synchronization
import Testing

@Suite struct InboundQueueTests {
    private func message(_ topic: String, _ text: String = "") -> MQTTClientEvent {
        .message(MQTTMessage(topic: topic, payload: Array(text.utf8)))
    }

    /// What an event is, for comparing sequences.
    private func describe(_ event: MQTTClientEvent?) -> String {
        switch event {
        case nil: "nil"
        case .connected: "connected"
        case .disconnected(let reason): "disconnected(\(reason))"
        case .message(let message): "\(message.topic)=\(String(decoding: message.payload, as: UTF8.self))"
        }
    }

    private func drain(_ queue: inout MQTTInboundQueue) -> [String] {
        var out: [String] = []
        while let event = queue.pop() { out.append(describe(event)) }
        return out
    }

    @Test func everythingComesOutInArrivalOrder() {
        var queue = MQTTInboundQueue(limits: .init(coalescingLimit: 10, backpressureLimit: 10))
        #expect(queue.pop() == nil)
        queue.push(.connected)
        queue.push(message("hb/1", "a"), coalescing: true)
        queue.push(message("req/1", "x"))
        queue.push(message("hb/2", "b"), coalescing: true)
        queue.push(.disconnected(reason: "lost"))
        queue.push(.connected)
        #expect(queue.count == 6)
        #expect(queue.coalescingCount == 2 && queue.nonCoalescingCount == 4)
        #expect(drain(&queue) == ["connected", "hb/1=a", "req/1=x", "hb/2=b", "disconnected(lost)", "connected"])
        #expect(queue.isEmpty && queue.coalescingCount == 0 && queue.nonCoalescingCount == 0)
        #expect(queue.shedMessages == 0)
    }

    @Test func aCoalescingMessageIsShedWhileOneForTheSameTopicWaits() {
        var queue = MQTTInboundQueue(limits: .init(coalescingLimit: 100, backpressureLimit: 100))
        #expect(queue.push(message("hb/1", "1"), coalescing: true) == .queued)
        #expect(queue.push(message("hb/1", "2"), coalescing: true) == .shedSameTopic)
        #expect(queue.push(message("hb/2", "1"), coalescing: true) == .queued)
        #expect(queue.push(message("hb/1", "3"), coalescing: true) == .shedSameTopic)
        // The same topic on a non-coalescing push is never shed.
        #expect(queue.push(message("hb/1", "plain")) == .queued)
        #expect(queue.shedSameTopic == 2 && queue.shedOverLimit == 0 && queue.shedMessages == 2)
        #expect(describe(queue.pop()) == "hb/1=1")
        // Once taken, the topic may wait again.
        #expect(queue.push(message("hb/1", "4"), coalescing: true) == .queued)
        #expect(drain(&queue) == ["hb/2=1", "hb/1=plain", "hb/1=4"])
    }

    @Test func coalescingMessagesAreBoundedInAll() {
        var queue = MQTTInboundQueue(limits: .init(coalescingLimit: 3, backpressureLimit: 100))
        for index in 0..<3 { #expect(queue.push(message("hb/\(index)"), coalescing: true) == .queued) }
        #expect(queue.push(message("hb/3"), coalescing: true) == .shedOverLimit)
        #expect(queue.push(message("hb/0"), coalescing: true) == .shedSameTopic)
        // Other entries are not bounded by it.
        for index in 0..<10 { #expect(queue.push(message("req/\(index)")) == .queued) }
        #expect(queue.shedOverLimit == 1 && queue.shedSameTopic == 1)
        #expect(queue.coalescingCount == 3 && queue.count == 13)
        _ = queue.pop()
        #expect(queue.push(message("hb/3"), coalescing: true) == .queued)
    }

    @Test func nonCoalescingEntriesAreNeverDroppedAndSetBackpressureWithHysteresis() {
        var queue = MQTTInboundQueue(limits: .init(coalescingLimit: 10, backpressureLimit: 4))
        for index in 0..<3 { queue.push(message("req/\(index)")) }
        queue.push(message("hb/1"), coalescing: true)
        #expect(!queue.isBackpressured)
        queue.push(.connected)
        #expect(queue.isBackpressured && queue.backpressureEvents == 1)
        // Beyond the bound (one read may deliver several messages): still queued, counted once.
        for index in 3..<10 { #expect(queue.push(message("req/\(index)")) == .queued) }
        #expect(queue.nonCoalescingCount == 11 && queue.backpressureEvents == 1)
        // Released only at half the bound (2 non-coalescing entries).
        var popped: [String] = []
        while queue.nonCoalescingCount > 3 { popped.append(describe(queue.pop())) }
        #expect(queue.isBackpressured)
        popped.append(describe(queue.pop()))
        #expect(queue.nonCoalescingCount == 2 && !queue.isBackpressured)
        queue.push(message("req/10"))
        queue.push(message("req/11"))
        #expect(queue.isBackpressured && queue.backpressureEvents == 2)
        popped += drain(&queue)
        #expect(popped == ["req/0=", "req/1=", "req/2=", "hb/1=", "connected"] + (3...11).map { "req/\($0)=" })
        #expect(!queue.isBackpressured)
    }

    @Test func coalescingMessagesDoNotCauseBackpressure() {
        var queue = MQTTInboundQueue(limits: .init(coalescingLimit: 1000, backpressureLimit: 2))
        for index in 0..<500 { queue.push(message("hb/\(index)"), coalescing: true) }
        #expect(!queue.isBackpressured && queue.count == 500)
    }

    @Test func longRunsKeepOrderAcrossCompaction() {
        var queue = MQTTInboundQueue(limits: .init(coalescingLimit: 100_000, backpressureLimit: 100_000))
        var expected: [String] = []
        var popped: [String] = []
        for index in 0..<5000 {
            queue.push(message("req/\(index)"))
            expected.append("req/\(index)=")
            if index % 3 == 0, let event = queue.pop() { popped.append(describe(event)) }
        }
        popped += drain(&queue)
        #expect(popped == expected)
    }

    @Test func removeAllEmptiesAndReleasesButKeepsCounters() {
        var queue = MQTTInboundQueue(limits: .init(coalescingLimit: 10, backpressureLimit: 2))
        queue.push(message("hb/1"), coalescing: true)
        queue.push(message("hb/1"), coalescing: true)
        queue.push(message("req/1"))
        queue.push(message("req/2"))
        #expect(queue.isBackpressured)
        queue.removeAll()
        #expect(queue.isEmpty && !queue.isBackpressured && queue.coalescingCount == 0)
        #expect(queue.shedSameTopic == 1 && queue.backpressureEvents == 1)
        #expect(queue.push(message("hb/1"), coalescing: true) == .queued)
    }

    @Test func limitsAreAtLeastOne() {
        let limits = MQTTInboundQueue.Limits(coalescingLimit: 0, backpressureLimit: -5)
        #expect(limits.coalescingLimit == 1 && limits.backpressureLimit == 1 && limits.resumeLevel == 0)
    }
}

@Suite struct ShedReporterTests {
    typealias Report = MQTTShedReporter.Report

    @Test func reportsAtMostOncePerIntervalWithWhatWasShedSince() {
        var reporter = MQTTShedReporter(interval: .seconds(10))
        #expect(reporter.check(totals: Report(shedSameTopic: 0, shedOverLimit: 0, backpressureEvents: 0), now: .zero) == nil)
        // The first shedding is reported at once.
        #expect(reporter.check(totals: Report(shedSameTopic: 5, shedOverLimit: 0, backpressureEvents: 0), now: .seconds(1))
            == Report(shedSameTopic: 5, shedOverLimit: 0, backpressureEvents: 0))
        // Then nothing until 10 s later, however much is shed meanwhile.
        for second in 2..<11 {
            #expect(reporter.check(
                totals: Report(shedSameTopic: 5 + second * 100, shedOverLimit: 1, backpressureEvents: 0),
                now: .seconds(second)) == nil)
        }
        #expect(reporter.check(totals: Report(shedSameTopic: 1105, shedOverLimit: 1, backpressureEvents: 1), now: .seconds(11))
            == Report(shedSameTopic: 1100, shedOverLimit: 1, backpressureEvents: 1))
        // Nothing new: nothing to say, even long after.
        #expect(reporter.check(totals: Report(shedSameTopic: 1105, shedOverLimit: 1, backpressureEvents: 1), now: .seconds(100)) == nil)
        #expect(reporter.check(totals: Report(shedSameTopic: 1105, shedOverLimit: 2, backpressureEvents: 1), now: .seconds(101))
            == Report(shedSameTopic: 0, shedOverLimit: 1, backpressureEvents: 0))
    }
}

/// The channel between the network thread and the consumer of `MQTTClient.events`.
@Suite struct InboundChannelTests {
    private final class Counter: Sendable {
        let value = Mutex(0)
        func increment() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    private func topics(_ events: [MQTTClientEvent]) -> [String] {
        events.map { if case .message(let message) = $0 { message.topic } else { "\($0)" } }
    }

    @Test func deliversInOrderThenWaitingEntriesAfterFinishThenEnds() async {
        let channel = InboundChannel(limits: .init(coalescingLimit: 10, backpressureLimit: 10), onRelease: {})
        channel.push(.message(MQTTMessage(topic: "a", payload: [])), coalescing: false)
        channel.push(.message(MQTTMessage(topic: "hb", payload: [])), coalescing: true)
        channel.push(.message(MQTTMessage(topic: "hb", payload: [])), coalescing: true)
        channel.push(.message(MQTTMessage(topic: "b", payload: [])), coalescing: false)
        channel.finish()
        channel.push(.message(MQTTMessage(topic: "after-finish", payload: [])), coalescing: false)
        var received: [MQTTClientEvent] = []
        for await event in MQTTClientEvents(channel: channel) { received.append(event) }
        #expect(topics(received) == ["a", "hb", "b"])
        #expect(channel.statistics.shedMessages == 1 && channel.statistics.queuedMessages == 0)
    }

    @Test func aWaitingConsumerGetsThePushAndFinishEndsIt() async {
        let channel = InboundChannel(limits: .init(coalescingLimit: 10, backpressureLimit: 10), onRelease: {})
        let consumer = Task {
            var received: [MQTTClientEvent] = []
            for await event in MQTTClientEvents(channel: channel) { received.append(event) }
            return received
        }
        await Task.yield()
        channel.push(.connected, coalescing: false)
        channel.push(.message(MQTTMessage(topic: "x", payload: [])), coalescing: false)
        channel.finish()
        #expect(topics(await consumer.value) == ["connected", "x"])
    }

    @Test func takingEntriesBelowHalfTheBoundSignalsTheNetworkThread() async {
        let releases = Counter()
        let channel = InboundChannel(limits: .init(coalescingLimit: 10, backpressureLimit: 4), onRelease: { releases.increment() })
        for index in 0..<6 { channel.push(.message(MQTTMessage(topic: "r/\(index)", payload: [])), coalescing: false) }
        #expect(channel.isBackpressured && channel.statistics.backpressureEvents == 1)
        var iterator = MQTTClientEvents(channel: channel).makeAsyncIterator()
        for _ in 0..<3 { _ = await iterator.next() }
        #expect(channel.isBackpressured && releases.count == 0)
        _ = await iterator.next()
        #expect(!channel.isBackpressured && releases.count == 1)
        _ = await iterator.next()
        #expect(releases.count == 1)
    }

    @Test func cancellingTheConsumerEndsTheSequenceAndDiscardsTheRest() async {
        let releases = Counter()
        let channel = InboundChannel(limits: .init(coalescingLimit: 10, backpressureLimit: 2), onRelease: { releases.increment() })
        let consumer = Task {
            var count = 0
            for await _ in MQTTClientEvents(channel: channel) { count += 1 }
            return count
        }
        await Task.yield()
        consumer.cancel()
        #expect(await consumer.value == 0)
        channel.push(.connected, coalescing: false)
        channel.push(.connected, coalescing: false)
        channel.push(.connected, coalescing: false)
        #expect(channel.statistics.queuedMessages == 0 && !channel.isBackpressured)
        #expect(releases.count >= 1)
        var iterator = MQTTClientEvents(channel: channel).makeAsyncIterator()
        #expect(await iterator.next() == nil)
    }
}
