import Foundation
import Logging
import PlayclockMQTT
import Synchronization
import Testing

/// libmosquitto's loop is built on select() and refuses a socket numbered 1024 or above. A
/// process with many descriptors (a simulator with hundreds of connections) then never
/// connects; the client must say so instead of retrying silently.
@Suite(.serialized) struct MQTTDescriptorLimitTests {
    @Test func aSocketAboveSelectsLimitIsReportedNotRetriedSilently() async throws {
        let broker = try await MosquittoBroker()
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let saved = limit
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        defer {
            var restore = saved
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &restore)
        }
        // Fill every descriptor below 1100, so the client's socket pair and socket land above 1023.
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        while true {
            let fd = open("/dev/null", O_RDONLY)
            guard fd >= 0 else { break }
            held.append(fd)
            if fd >= 1100 { break }
        }
        try #require((held.last ?? 0) >= 1100, "could not open descriptors up to 1100 (limit \(limit.rlim_max))")

        let messages = LogLines()
        let logger = Logger(label: "descriptor-test") { _ in CapturingHandler(messages: messages) }
        let client = MQTTClient(configuration: try MQTTClientConfiguration(url: broker.url, clientID: "high-fd"), logger: logger)
        defer { client.stop() }
        client.start()
        #expect(await client.waitUntilConnected(timeout: .seconds(2)) == false)
        let logged = messages.lines.withLock { $0 }
        #expect(logged.contains { $0.contains("descriptor above select's limit") }, "logged: \(logged)")
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
