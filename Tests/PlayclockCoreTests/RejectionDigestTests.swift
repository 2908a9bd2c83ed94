import PlayclockContract
@testable import PlayclockCore
import Testing

private func admit(
    _ digest: inout RejectionDigest, actor: String?, verb: String, code: String, message: String, now: Int64
) -> Bool {
    digest.admit(actor: actor, verb: verb, code: code, message: message, now: now)
}

@Suite("Refusal digest")
struct RejectionDigestTests {
    static let s: Int64 = 1_000_000_000

    @Test func theFirstOfAKindIsRecordedRepeatsAreSummarisedPerWindow() {
        var digest = RejectionDigest(windowSeconds: 10)
        #expect(admit(&digest, actor: "tv", verb: "session/stop", code: "forbidden", message: "m1", now: 0))
        for i in 1...99 { #expect(!admit(&digest, actor: "tv", verb: "session/stop", code: "forbidden", message: "m\(i)", now: Int64(i) * 1000)) }
        #expect(admit(&digest, actor: "tv", verb: "session/start", code: "forbidden", message: "other verb", now: 5))
        #expect(admit(&digest, actor: nil, verb: "session/stop", code: "forbidden", message: "no account", now: 5))
        #expect(digest.nextDeadline == 10 * Self.s)
        let early = digest.closeDue(now: 10 * Self.s - 1)
        #expect(early.isEmpty)

        let closed = digest.closeDue(now: 10 * Self.s)
        #expect(closed == [RejectionDigest.Summary(
            key: .init(actor: "tv", verb: "session/stop", code: "forbidden"), count: 99, message: "m99", windowSeconds: 10)])
        // The window that saw repeats stays open: a flood that goes on is summarised once per window.
        #expect(!admit(&digest, actor: "tv", verb: "session/stop", code: "forbidden", message: "again", now: 11 * Self.s))
        let second = digest.closeDue(now: 20 * Self.s)
        #expect(second.map(\.count) == [1])
        // A quiet window is forgotten; the next refusal is recorded in full again.
        let quiet = digest.closeDue(now: 30 * Self.s)
        #expect(quiet.isEmpty)
        #expect(digest.trackedKinds == 0)
        #expect(digest.nextDeadline == nil)
        #expect(admit(&digest, actor: "tv", verb: "session/stop", code: "forbidden", message: "later", now: 31 * Self.s))
    }

    @Test func kindsAreBoundedAndFoldIntoOne() {
        var digest = RejectionDigest(windowSeconds: 10, maxKinds: 4)
        for i in 0..<4 { #expect(admit(&digest, actor: nil, verb: "verb-\(i)", code: "unknown_verb", message: "", now: 0)) }
        #expect(admit(&digest, actor: nil, verb: "verb-4", code: "unknown_verb", message: "", now: 0), "the first overflow is recorded")
        for i in 5..<1000 { #expect(!admit(&digest, actor: nil, verb: "verb-\(i)", code: "unknown_verb", message: "x", now: 0)) }
        #expect(digest.trackedKinds == 5)
        let closed = digest.closeDue(now: 10 * Self.s)
        #expect(closed.map(\.key) == [.init(actor: nil, verb: "*", code: "*")])
        #expect(closed.first?.count == 995)
    }
}
