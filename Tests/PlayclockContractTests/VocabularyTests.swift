import Foundation
import PlayclockContract
import Testing

/// The enums are the vocabulary the docs describe: every value is in `topics.md` (the MQTT
/// contract) or, for the dashboard's sign-in and live feed, the README's HTTP section, in
/// backticks or quotes.
@Suite("Contract vocabulary")
struct VocabularyTests {
    static let topicsMD: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let read = { (name: String) in (try? String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)) ?? "" }
        return read("topics.md") + "\n" + read("README.md")
    }()

    private func documented(_ values: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!Self.topicsMD.isEmpty, "topics.md not found", sourceLocation: sourceLocation)
        for value in values {
            // `code`, "code", or a status and the code in backticks (`429 too_many_attempts`).
            #expect(["`\(value)`", "\"\(value)\"", " \(value)`"].contains { Self.topicsMD.contains($0) },
                    "\(value) is not in topics.md or README.md", sourceLocation: sourceLocation)
        }
    }

    @Test func everyVerbIsDocumented() { documented(Verb.allCases.map(\.rawValue)) }
    @Test func everyErrorCodeIsDocumented() { documented(ErrorCode.allCases.map(\.rawValue)) }
    @Test func everyEventTypeIsDocumented() { documented(EventType.allCases.map(\.rawValue)) }
    @Test func everyLockReasonIsDocumented() { documented(LockReason.allCases.map(\.rawValue)) }
    @Test func everyOfflineReasonIsDocumented() { documented(OfflineReason.allCases.map(\.rawValue)) }
    @Test func everyPlugAlarmIsDocumented() { documented(PlugAlarm.allCases.map(\.rawValue)) }
    @Test func everyStatusIsDocumented() { documented(StationStatus.allCases.map(\.rawValue)) }

    @Test func rawValuesAreUnique() {
        #expect(Set(ErrorCode.allCases.map(\.rawValue)).count == ErrorCode.allCases.count)
        #expect(Set(EventType.allCases.map(\.rawValue)).count == EventType.allCases.count)
        #expect(Set(Verb.allCases.map(\.rawValue)).count == Verb.allCases.count)
    }

    /// Verbs are topic levels: no wildcard, no empty level.
    @Test func verbsAreTopicLevels() {
        for verb in Verb.allCases {
            #expect(!verb.rawValue.contains("+") && !verb.rawValue.contains("#"))
            #expect(!verb.rawValue.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty })
        }
    }
}
