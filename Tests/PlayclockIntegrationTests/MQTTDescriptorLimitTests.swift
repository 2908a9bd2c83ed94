import Foundation
import Logging
@testable import PlayclockMQTT
import Synchronization
import Testing

/// libmosquitto's own loop is built on select() and refuses a socket numbered 1024 or above; the
/// client runs its own poll() loop, so a process with many descriptors (a hub with many open
/// files, a simulator with hundreds of connections) connects and reconnects like any other.
@Suite(.serialized) struct MQTTDescriptorLimitTests {
    @Test func aClientWhoseSocketIsAbove1023Connects() async throws {
        let broker = try await MosquittoBroker()
        let held = try HeldDescriptors(upTo: 1100)
        defer { held.close() }

        let messages = LogLines()
        let logger = Logger(label: "descriptor-test") { _ in CapturingHandler(messages: messages) }
        let client = MQTTClient(configuration: try MQTTClientConfiguration(url: broker.url, clientID: "high-fd"), logger: logger)
        defer { client.stop() }
        client.start()
        #expect(await client.waitUntilConnected(timeout: .seconds(5)))
        #expect(client.socketDescriptor >= 1024, "socket \(client.socketDescriptor)")
        let logged = messages.lines.withLock { $0 }
        #expect(!logged.contains { $0.contains("descriptor") }, "logged: \(logged)")
    }

    @Test func aClientAbove1023ReconnectsAfterTheBrokerIsKilledAndRestarted() async throws {
        let broker = try await MosquittoBroker()
        let held = try HeldDescriptors(upTo: 1100)
        defer { held.close() }

        let client = try makeMQTTClient(broker, id: "high-fd-reconnect")
        defer { client.stop() }
        let log = MQTTEventLog(client)
        client.subscribe(try MQTTTopicFilter("fd/#"), qos: .atLeastOnce)
        client.start()
        try await ensureMQTTSubscribed(client, log, topic: "fd/before")
        #expect(client.socketDescriptor >= 1024, "socket \(client.socketDescriptor)")

        // Killing and restarting the broker (and whatever else the test process closes meanwhile)
        // frees low descriptors, and the kernel hands out the lowest free one: keep filling them
        // until the client is back. Should one still slip through, the round is repeated, so
        // the test really sees a reconnect on a socket above 1023.
        func connections() -> Int { log.count { if case .connected = $0 { true } else { false } } }
        var highReconnects = 0
        for round in 1...3 where highReconnects == 0 {
            broker.stop()  // SIGKILL
            try held.refill()
            try await broker.restart()  // the same port again
            let deadline = ContinuousClock.now + .seconds(10)
            while connections() < round + 1, ContinuousClock.now < deadline {
                try held.fillGaps()
                try await Task.sleep(for: .milliseconds(2))
            }
            #expect(connections() == round + 1, "reconnected after broker restart \(round)")
            if client.socketDescriptor >= 1024 { highReconnects += 1 }
        }
        #expect(await log.first { if case .disconnected(let reason) = $0 { reason } else { nil } } != nil)
        #expect(client.isConnected)
        #expect(highReconnects == 1, "reconnected on a socket above 1023 (last: \(client.socketDescriptor))")

        // The fresh broker has no session: the round trip works only if the client subscribed again.
        try await ensureMQTTSubscribed(client, log, topic: "fd/after")
        let other = try makeMQTTClient(broker, id: "high-fd-other")
        defer { other.stop() }
        other.start()
        #expect(await other.waitUntilConnected(timeout: .seconds(5)))
        #expect(other.publish(try MQTTTopic("fd/from-other"), payload: Array("hi".utf8), qos: .atLeastOnce) == .sent)
        #expect(try #require(await log.message(on: "fd/from-other")).payload == Array("hi".utf8))
    }
}

/// Descriptors opened on /dev/null until one is numbered `upTo` or more (raising the soft limit
/// to the hard one), so that what the test opens next lands above select()'s limit of 1023.
private final class HeldDescriptors {
    private var descriptors: [Int32] = []
    private let savedLimit: rlimit

    private let target: Int32

    init(upTo target: Int32) throws {
        self.target = target
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        savedLimit = limit
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        do {
            try refill()
        } catch {
            close()
            throw error
        }
    }

    /// Opens descriptors until the lowest free one is above `target` again.
    func refill() throws {
        while true {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw ChildProcessError(description: "could not open descriptors up to \(target): errno \(errno)")
            }
            descriptors.append(fd)
            if fd >= target { return }
        }
    }

    /// Takes every free descriptor below `target` again, opening none above it.
    func fillGaps() throws {
        while true {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ChildProcessError(description: "could not open a descriptor: errno \(errno)") }
            if fd >= target {
                Foundation.close(fd)
                return
            }
            descriptors.append(fd)
        }
    }

    func close() {
        descriptors.forEach { Foundation.close($0) }
        descriptors = []
        var restore = savedLimit
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &restore)
    }
}

private final class LogLines: Sendable {
    let lines = Mutex<[String]>([])
}

private struct CapturingHandler: LogHandler {
    let messages: LogLines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        messages.lines.withLock { $0.append(event.message.description) }
    }
}
