import PlayclockContract
@testable import PlayclockCore
import Foundation
import Testing

@Suite("TopicScheme")
struct TopicSchemeTests {
    @Test(arguments: ["playclock", "venue/playclock", "a", "a/b/c", "x-y_z.1", String(repeating: "r", count: 128)])
    func validRoots(_ root: String) {
        #expect(TopicScheme(root: root)?.root == root)
    }

    @Test(arguments: ["", "/", "/playclock", "playclock/", "a//b", "$SYS", "$share/x", "a/+/b", "+", "pl#", "#",
                      "a\u{0}b", String(repeating: "r", count: 129)])
    func invalidRoots(_ root: String) {
        #expect(TopicScheme(root: root) == nil)
    }

    @Test func topicNames() {
        let t = TopicScheme(root: "venue/pc")!
        #expect(t.hubStatus == "venue/pc/hub/status")
        #expect(t.events == "venue/pc/events")
        #expect(t.heartbeat(pc1) == "venue/pc/stations/PC-01/heartbeat")
        #expect(t.agent(pc1) == "venue/pc/stations/PC-01/agent")
        #expect(t.control(pc1) == "venue/pc/stations/PC-01/control")
        #expect(t.countdown(pc1) == "venue/pc/stations/PC-01/countdown")
        #expect(t.state(pc1) == "venue/pc/stations/PC-01/state")
        #expect(t.request("session/start") == "venue/pc/hub/request/session/start")
        #expect(t.response("session/start") == "venue/pc/hub/response/session/start")
        #expect(t.heartbeatFilter == "venue/pc/stations/+/heartbeat")
        #expect(t.agentFilter == "venue/pc/stations/+/agent")
        #expect(t.requestFilter == "venue/pc/hub/request/#")
    }

    @Test func findsTheStationOfAStateTopic() {
        let t = TopicScheme(root: "venue/pc")!
        #expect(t.stationOfState(t.state(StationID("PC-01")!)) == "PC-01")
        #expect(t.stationOfState("venue/pc/stations/PC-01/countdown") == nil)
        #expect(t.stationOfState("venue/pc/stations/a/b/state") == nil)
        #expect(t.stationOfState("venue/pc/stations//state") == nil)
        #expect(t.stationOfState("other/stations/PC-01/state") == nil)
        #expect(t.stationOfState("venue/pc/hub/status") == nil)
    }

    @Test func classifiesInboundTopics() {
        let t = testTopics
        #expect(t.classify("playclock/stations/PC-01/heartbeat") == .heartbeat(station: "PC-01"))
        #expect(t.classify("playclock/stations/PC-01/agent") == .agent(station: "PC-01"))
        #expect(t.classify("playclock/hub/request/session/start") == .request(verb: "session/start"))
        #expect(t.classify("playclock/hub/request/station/list") == .request(verb: "station/list"))
        #expect(t.classify("playclock/hub/request/x") == .request(verb: "x"))
        // Station ids come back raw; the core validates them.
        #expect(t.classify("playclock/stations/bad id/heartbeat") == .heartbeat(station: "bad id"))
        #expect(t.classify("playclock/stations//heartbeat") == .heartbeat(station: ""))
        // Round trip with the builders.
        #expect(t.classify(t.heartbeat(pc2)) == .heartbeat(station: "PC-02"))
        #expect(t.classify(t.agent(ps1)) == .agent(station: "PS-01"))
        #expect(t.classify(t.request("session/transfer")) == .request(verb: "session/transfer"))

        let nested = TopicScheme(root: "venue/playclock")!
        #expect(nested.classify("venue/playclock/stations/A/heartbeat") == .heartbeat(station: "A"))
        #expect(nested.classify("playclock/stations/A/heartbeat") == nil)
    }

    @Test(arguments: [
        "playclock/stations/PC-01/control", "playclock/stations/PC-01/state", "playclock/stations/PC-01/countdown",
        "playclock/stations/PC-01/heartbeat/extra", "playclock/stations/heartbeat", "playclock/station/PC-01/heartbeat",
        "playclock/hub/request/", "playclock/hub/request", "playclock/hub/response/session/start", "playclock/hub/status",
        "playclock/events", "playclock", "playclock/", "other/stations/PC-01/heartbeat",
        "playclockX/stations/PC-01/heartbeat", "playclock2/hub/request/session/start", "playclockhub/request/x",
        "/playclock/stations/PC-01/heartbeat", "", "stations/PC-01/heartbeat",
    ])
    func rejectsOtherTopics(_ topic: String) {
        #expect(testTopics.classify(topic) == nil)
    }
}

@Suite("ISO8601")
struct ISO8601Tests {
    @Test func knownInstants() {
        #expect(ISO8601.string(fromMillis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ISO8601.string(fromMillis: 1) == "1970-01-01T00:00:00.001Z")
        #expect(ISO8601.string(fromMillis: 999) == "1970-01-01T00:00:00.999Z")
        #expect(ISO8601.string(fromMillis: 1000) == "1970-01-01T00:00:01.000Z")
        #expect(ISO8601.string(fromMillis: 86_399_999) == "1970-01-01T23:59:59.999Z")
        #expect(ISO8601.string(fromMillis: 86_400_000) == "1970-01-02T00:00:00.000Z")
        // `date -u -d @1795303490` prints 2026-11-21T23:24:50.
        #expect(ISO8601.string(fromMillis: 1_795_303_490_123) == "2026-11-21T23:24:50.123Z")
        #expect(ISO8601.string(fromMillis: startWallMillis) == "2026-11-21T23:24:50.123Z")
        #expect(ISO8601.string(fromMillis: 1_000_000_000_000) == "2001-09-09T01:46:40.000Z")
        #expect(ISO8601.string(fromMillis: 2_147_483_647_000) == "2038-01-19T03:14:07.000Z")
    }

    @Test func leapYears() {
        // 2024-02-29T12:34:56Z = 1709210096 s
        #expect(ISO8601.string(fromMillis: 1_709_210_096_007) == "2024-02-29T12:34:56.007Z")
        #expect(ISO8601.string(fromMillis: 1_709_210_096_000 + 12 * 3_600_000) == "2024-03-01T00:34:56.000Z")
        // 2000 is a leap year (divisible by 400): 2000-03-01 = 951868800 s, the day before is Feb 29.
        #expect(ISO8601.string(fromMillis: 951_868_800_000) == "2000-03-01T00:00:00.000Z")
        #expect(ISO8601.string(fromMillis: 951_868_800_000 - 1) == "2000-02-29T23:59:59.999Z")
        // 2100 is not: 2100-02-28T23:59:59Z = 4107542399 s, one second later is March 1.
        #expect(ISO8601.string(fromMillis: 4_107_542_399_000) == "2100-02-28T23:59:59.000Z")
        #expect(ISO8601.string(fromMillis: 4_107_542_400_000) == "2100-03-01T00:00:00.000Z")
        // Year end.
        #expect(ISO8601.string(fromMillis: 1_735_689_599_999) == "2024-12-31T23:59:59.999Z")
        #expect(ISO8601.string(fromMillis: 1_735_689_600_000) == "2025-01-01T00:00:00.000Z")
    }

    @Test func beforeTheEpoch() {
        #expect(ISO8601.string(fromMillis: -1) == "1969-12-31T23:59:59.999Z")
        #expect(ISO8601.string(fromMillis: -999) == "1969-12-31T23:59:59.001Z")
        #expect(ISO8601.string(fromMillis: -1000) == "1969-12-31T23:59:59.000Z")
        #expect(ISO8601.string(fromMillis: -1001) == "1969-12-31T23:59:58.999Z")
        #expect(ISO8601.string(fromMillis: -86_400_000) == "1969-12-31T00:00:00.000Z")
        #expect(ISO8601.string(fromMillis: -86_400_001) == "1969-12-30T23:59:59.999Z")
        // 1900-03-01T00:00:00Z = -2203891200 s (1900 is not a leap year).
        #expect(ISO8601.string(fromMillis: -2_203_891_200_000) == "1900-03-01T00:00:00.000Z")
        #expect(ISO8601.string(fromMillis: -2_203_891_200_001) == "1900-02-28T23:59:59.999Z")
    }

    @Test func everyDayRoundTripsThroughASimpleCalendar() {
        // Walk day by day from 1968 to 2032 and compare with a naive calendar.
        var year = 1968, month = 1, day = 1
        var days: Int64 = -731  // 1968-01-01 is 731 days before the epoch
        func daysIn(_ m: Int, _ y: Int) -> Int {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
            return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        }
        func pad(_ v: Int, _ w: Int) -> String { String(repeating: "0", count: max(0, w - String(v).count)) + String(v) }
        var mismatches = 0
        while year < 2032 {
            let expected = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T12:00:00.000Z"
            if ISO8601.string(fromMillis: days * 86_400_000 + 43_200_000) != expected { mismatches += 1 }
            days += 1
            day += 1
            if day > daysIn(month, year) { day = 1; month += 1 }
            if month > 12 { month = 1; year += 1 }
        }
        #expect(mismatches == 0)
    }
}

@Suite("Timestamp, StationID, JSON")
struct ValueTests {
    @Test func timestampAdvancesBothClocks() {
        let t = Timestamp(wallMillis: 1_000, monoNanos: 5_000_000, bootID: "b")
        let u = t.advanced(byMillis: 1_500)
        #expect(u.wallMillis == 2_500)
        #expect(u.monoNanos == 1_505_000_000)
        #expect(u.bootID == "b")
    }

    @Test func manualClock() {
        var c = ManualClock(wallMillis: 10_000, monoNanos: 1_000_000_000, bootID: "b1")
        c.advance(seconds: 2)
        #expect(c.now == Timestamp(wallMillis: 12_000, monoNanos: 3_000_000_000, bootID: "b1"))
        c.jumpWall(byMillis: -20_000)
        #expect(c.now == Timestamp(wallMillis: -8_000, monoNanos: 3_000_000_000, bootID: "b1"))
        c.advance(toMono: 4_500_000_000)
        #expect(c.now == Timestamp(wallMillis: -6_500, monoNanos: 4_500_000_000, bootID: "b1"))
        c.reboot(wallDeltaMillis: 60_000)
        #expect(c.now.bootID != "b1")
        #expect(c.now.monoNanos == 2_500_000_000)
        #expect(c.now.wallMillis == 53_500)
    }

    @Test func sessionRecordArithmetic() {
        let t0 = Timestamp(wallMillis: 0, monoNanos: 10_000_000_000, bootID: "b")
        var s = SessionRecord(id: "s", station: pc1, grantedMillis: 60_000, usedMillisAtAnchor: 5_000, anchor: t0,
                              paused: false, startedAtWallMillis: 0)
        #expect(s.remainingMillis(at: t0) == 55_000)
        #expect(s.remainingMillis(at: t0.advanced(byMillis: 10_000)) == 45_000)
        #expect(s.remainingMillis(at: t0.advanced(byMillis: 100_000)) == 0)
        #expect(s.usedMillis(at: t0.advanced(byMillis: 100_000)) == 60_000)
        // Another boot: the anchor's mono reading means nothing there.
        #expect(s.usedMillis(at: Timestamp(wallMillis: 0, monoNanos: 99_000_000_000, bootID: "other")) == 5_000)
        s.reanchor(at: t0.advanced(byMillis: 1_000))
        #expect(s.usedMillisAtAnchor == 6_000)
        s.paused = true
        #expect(s.remainingMillis(at: t0.advanced(byMillis: 50_000)) == 54_000)
        #expect(!s.isEnded)
    }

    @Test func stationKinds() {
        #expect(StationKind("pc") == .pc)
        #expect(StationKind("console") == .console)
        #expect(StationKind("vr-2")?.value == "vr-2")
        #expect(StationKind("PC") == nil)
        #expect(StationKind("") == nil)
        #expect(StationKind(String(repeating: "a", count: 17)) == nil)
        #expect(StationKind.pc.expectsAgent)
        #expect(!StationKind.console.expectsAgent)
        #expect(StationID("b")! > StationID("a")!)
    }

    @Test func jsonDecodesNumbersBoolsAndStrings() throws {
        let v = try JSONValue.parse(#"{"i":1,"z":0,"d":1.5,"t":true,"f":false,"n":null,"s":"x","a":[1,"2"],"o":{"k":-3}}"#)
        #expect(v["i"] == .int(1))
        #expect(v["z"] == .int(0))
        #expect(v["d"] == .double(1.5))
        #expect(v["t"] == .bool(true))
        #expect(v["f"] == .bool(false))
        #expect(v["n"] == .null)
        #expect(v["s"] == .string("x"))
        #expect(v["a"] == .array([.int(1), .string("2")]))
        #expect(v["o"]?["k"] == .int(-3))
        #expect(v["i"]?.boolValue == nil)
        #expect(v["t"]?.intValue == nil)
        #expect(v["d"]?.intValue == nil)
        #expect(JSONValue.double(3.0).intValue == 3)
        #expect(JSONValue.double(1e16).intValue == nil)
        #expect(JSONValue.string("1").intValue == nil)
        #expect(v["missing"] == nil)
        #expect(JSONValue.int(1)["k"] == nil)
    }

    @Test func jsonEncodingIsSortedAndKeepsSlashes() throws {
        let bytes = JSONCoding.encode(["b": 1, "a": "x/y", "c": [true, .null]])
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"a":"x/y","b":1,"c":[true,null]}"#)
        let round = try JSONCoding.decode(bytes)
        #expect(round == ["b": 1, "a": "x/y", "c": [true, .null]])
    }

    /// The hand-written encoder must write what Foundation's JSONEncoder (sorted keys, slashes
    /// unescaped) writes for everything the hub sends, and every output must read back the same.
    @Test func jsonEncodingMatchesFoundationAndRoundTrips() throws {
        var generator = SeededGenerator(seed: 42)
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for _ in 0..<2000 {
            let v = randomJSON(using: &generator)
            let ours = JSONCoding.encode(v)
            let theirs = Array(try foundation.encode(v))
            #expect(try JSONCoding.decode(ours) == JSONCoding.decode(theirs), "\(String(decoding: ours, as: UTF8.self))")
            if case .double = v {} else if !containsFraction(v) {
                #expect(ours == theirs, "\(String(decoding: ours, as: UTF8.self)) vs \(String(decoding: theirs, as: UTF8.self))")
            }
        }
        #expect(String(decoding: JSONCoding.encode(["w": .double(12.5), "n": .double(3)]), as: UTF8.self) == #"{"n":3,"w":12.5}"#)
        #expect(String(decoding: JSONCoding.encode(.double(.nan)), as: UTF8.self) == "null")
    }

    /// The hand-written reader agrees with Foundation's JSONDecoder (the reader it replaced) on
    /// valid documents and on thousands of corrupted ones. It is stricter in two ways: trailing
    /// commas, and text that Foundation guesses is UTF-16 or UTF-32 from NUL bytes or a byte
    /// order mark at its start (MQTT payloads here are UTF-8 JSON, RFC 8259 section 8.1).
    @Test func jsonDecodingAgreesWithFoundation() throws {
        var generator = SeededGenerator(seed: 7)
        let alphabet = Array(#"{}[]",:.-+eE0123456789 \u"tfnrl/"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF]
        var compared = 0
        for round in 0..<4000 {
            var text = JSONCoding.encode(randomJSON(using: &generator))
            if round % 4 != 0, !text.isEmpty {
                // Corrupt it: change, insert or delete a byte, or cut it short.
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let at = Int.random(in: 0..<max(1, text.count), using: &generator)
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0 where at < text.count: text[at] = alphabet.randomElement(using: &generator)!
                    case 1: text.insert(alphabet.randomElement(using: &generator)!, at: min(at, text.count))
                    case 2 where at < text.count: text.remove(at: at)
                    default: text = Array(text.prefix(at))
                    }
                }
            }
            let ours = try? JSONCoding.decode(text)
            let theirs = try? JSONDecoder().decode(JSONValue.self, from: Data(text))
            let shown = String(decoding: text, as: UTF8.self)
            if let ours {
                #expect(theirs.map { sameNumbers($0, ours) } ?? false, "accepted what Foundation reads differently: \(shown)")
            } else if theirs != nil {
                let squeezed = text.filter { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
                let trailingComma = zip(squeezed, squeezed.dropFirst()).contains { $0 == UInt8(ascii: ",") && ($1 == UInt8(ascii: "]") || $1 == UInt8(ascii: "}")) }
                let otherEncoding = text.prefix(4).contains(0) || text.starts(with: [0xEF, 0xBB, 0xBF])
                    || text.starts(with: [0xFE, 0xFF]) || text.starts(with: [0xFF, 0xFE])
                #expect(trailingComma || otherEncoding, "refused what Foundation reads, bytes \(text.map { String($0) }.joined(separator: " "))")
            }
            compared += 1
        }
        #expect(compared == 4000)
    }

    /// Equal, except that a number may be an `.int` on one side and a `.double` on the other when
    /// it is the same double: Foundation truncates some fractions when it reads an integer (it
    /// reads `-6148870400744930.626` as the integer -6148870400744931); this reader keeps
    /// non-whole numbers as doubles.
    private func sameNumbers(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { sameNumbers($0, $1) }
        case (.object(let x), .object(let y)): return x.keys == y.keys && x.allSatisfy { sameNumbers($0.value, y[$0.key]!) }
        default: return a == b
        }
    }

    @Test func jsonDecodingEdgeCases() throws {
        let cases: [(String, JSONValue?)] = [
            ("1.0", 1), ("1e2", 100), ("1E2", 100), ("-0", 0), ("-0.0", 0), ("1.5", 1.5), (" 1 ", 1),
            ("9223372036854775807", .int(Int64.max)), ("9223372036854775808", .double(9.223372036854775808e18)),
            (#"{"a":1,"a":2}"#, ["a": 1]), (#""\ud83c\udfae""#, "🎮"), (#""\u00e9\/""#, "é/"),
            ("120e-1", 12), ("-431945259161471764.9", .double(-431945259161471764.9)), ("1e-400", .double(0)), ("0.000", 0),
            ("-9223372036854775808", .int(Int64.min)), ("1e19", .double(1e19)), ("1e400", nil), ("1e99999999999", nil), ("01", nil), (#""\ud800""#, nil), (#""\udc00""#, nil), ("\"a\tb\"", nil), ("-", nil), ("2.", nil),
            (".5", nil), ("nul", nil), ("[]x", nil), ("[1,]", nil), (#"{"a":1,}"#, nil), ("", nil), ("  ", nil),
        ]
        for (text, expected) in cases {
            #expect((try? JSONCoding.decode(Array(text.utf8))) == expected, "\(text)")
        }
        #expect((try? JSONCoding.decode([0x22, 0xFF, 0x22])) == nil)
        let deep = { (n: Int) in Array((String(repeating: "[", count: n) + String(repeating: "]", count: n)).utf8) }
        #expect((try? JSONCoding.decode(deep(512))) != nil)
        #expect((try? JSONCoding.decode(deep(513))) == nil)
        // The simulator's oversize burst: 20,000 open braces must fail cleanly, not blow the stack.
        #expect((try? JSONCoding.decode(Array(repeating: UInt8(ascii: "{"), count: 20_000))) == nil)
        #expect((try? JSONCoding.decode(Array(repeating: UInt8(ascii: "["), count: 200_000))) == nil)
    }

    /// Fractional doubles may be spelled differently (1e-07 vs 1e-7) while meaning the same number.
    private func containsFraction(_ v: JSONValue) -> Bool {
        switch v {
        case .double(let d): return d.rounded() != d || abs(d) >= 1e15
        case .array(let items): return items.contains(where: containsFraction)
        case .object(let fields): return fields.values.contains(where: containsFraction)
        default: return false
        }
    }

    @Test func jsonMalformedThrows() {
        #expect(throws: JSONCoding.DecodeError.malformed) { try JSONCoding.decode(Array("{".utf8)) }
        #expect(throws: JSONCoding.DecodeError.malformed) { try JSONCoding.decode([]) }
        #expect(Outbound(topic: "t", payload: Array("nope".utf8), qos: .atMostOnce, retain: false).json == nil)
        #expect(Outbound(topic: "t", payload: Array(#"{"a":1}"#.utf8), qos: .atMostOnce, retain: false).json == ["a": 1])
    }
}

/// A random document of the shapes the hub exchanges, with the awkward cases mixed in: escapes,
/// control characters, non-ASCII, extreme integers, tiny and huge doubles, empty keys.
func randomJSON(depth: Int = 0, using generator: inout SeededGenerator) -> JSONValue {
    switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &generator) {
    case 0: return .null
    case 1: return .bool(Bool.random(using: &generator))
    case 2:
        return .int([Int64.random(in: -1_000_000...1_000_000, using: &generator), Int64.random(in: Int64.min...Int64.max, using: &generator)]
            .randomElement(using: &generator)!)
    case 3:
        let choices: [Double] = [0.5, -12.25, 0.1, 1234.5678, 1e-7, 3.0e14, 3.3e200, Double.random(in: -1e9...1e9, using: &generator)]
        return .double(choices.randomElement(using: &generator)!)
    case 4:
        let pieces = ["", "PC-01", "a/b", "quote\"", "back\\slash", "line\nbreak", "tab\t", "\u{1}ctl", "\u{7f}", "é ü 漢字 🎮", "+#"]
        return .string(pieces.randomElement(using: &generator)!)
    case 5:
        return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in randomJSON(depth: depth + 1, using: &generator) })
    default:
        var fields: [String: JSONValue] = [:]
        for _ in 0..<Int.random(in: 0...5, using: &generator) {
            let key = ["ends_at", "station", "seq", "locked", "a", "B", "z_1", "é", ""].randomElement(using: &generator)!
            fields[key] = randomJSON(depth: depth + 1, using: &generator)
        }
        return .object(fields)
    }
}
