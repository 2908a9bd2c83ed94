import PlayclockContract
@testable import PlayclockCore
import Testing

@Suite("Request.decode")
struct RequestDecodeTests {
    let policy = HubPolicy()

    func decode(_ verb: String, _ json: String) -> Result<Request, RequestDecodeError> {
        Request.decode(verb: verb, payload: Array(json.utf8), policy: policy)
    }

    func command(_ verb: String, _ json: String, sourceLocation: SourceLocation = #_sourceLocation) -> Command? {
        switch decode(verb, json) {
        case .success(let r):
            #expect(r.verb == verb, sourceLocation: sourceLocation)
            return r.command
        case .failure(let e):
            Issue.record("unexpected failure \(e)", sourceLocation: sourceLocation)
            return nil
        }
    }

    func failure(_ verb: String, _ json: String, sourceLocation: SourceLocation = #_sourceLocation) -> RequestDecodeError? {
        switch decode(verb, json) {
        case .success(let r):
            Issue.record("unexpected success \(r)", sourceLocation: sourceLocation)
            return nil
        case .failure(let e): return e
        }
    }

    // MARK: valid bodies

    @Test func validBodyForEveryVerb() {
        #expect(command("station/add", #"{"station":"PC-03","name":"Corner PC","kind":"pc"}"#)
            == .stationAdd(id: StationID("PC-03")!, name: "Corner PC", kind: .pc, plug: nil))
        #expect(command("station/add", #"{"station":"VR_1","kind":"vr"}"#)
            == .stationAdd(id: StationID("VR_1")!, name: "VR_1", kind: StationKind("vr")!, plug: nil))
        #expect(command("station/add", #"{"station":"PC-03"}"#) == .stationAdd(id: StationID("PC-03")!, name: "PC-03", kind: .pc, plug: nil))
        #expect(command("station/remove", #"{"station":"PC-01"}"#) == .stationRemove(pc1))
        #expect(command("station/list", #"{}"#) == .stationList)
        #expect(command("station/get", #"{"station":"PC-01"}"#) == .stationGet(pc1))
        #expect(command("station/maintenance", #"{"station":"PC-01","enabled":true}"#) == .stationMaintenance(pc1, enabled: true))
        #expect(command("station/maintenance", #"{"station":"PC-01","enabled":false}"#) == .stationMaintenance(pc1, enabled: false))
        #expect(command("session/start", #"{"station":"PC-01","minutes":30}"#) == .sessionStart(pc1, seconds: 1800))
        #expect(command("session/start", #"{"station":"PC-01","seconds":90}"#) == .sessionStart(pc1, seconds: 90))
        #expect(command("session/extend", #"{"station":"PC-01","minutes":15}"#) == .sessionExtend(pc1, seconds: 900))
        #expect(command("session/extend", #"{"station":"PC-01","seconds":45}"#) == .sessionExtend(pc1, seconds: 45))
        #expect(command("session/pause", #"{"station":"PC-01"}"#) == .sessionPause(pc1))
        #expect(command("session/resume", #"{"station":"PC-01"}"#) == .sessionResume(pc1))
        #expect(command("session/stop", #"{"station":"PC-01"}"#) == .sessionStop(pc1))
        #expect(command("session/transfer", #"{"station":"PC-01","to":"PC-02"}"#) == .sessionTransfer(from: pc1, to: pc2))
    }

    @Test func everyKnownVerbDecodesSomething() {
        let bodies: [String: String] = [
            "station/add": #"{"station":"X"}"#, "station/remove": #"{"station":"X"}"#, "station/list": "",
            "station/get": #"{"station":"X"}"#, "station/maintenance": #"{"station":"X","enabled":true}"#,
            "session/start": #"{"station":"X","minutes":1}"#, "session/extend": #"{"station":"X","seconds":1}"#,
            "session/pause": #"{"station":"X"}"#, "session/resume": #"{"station":"X"}"#, "session/stop": #"{"station":"X"}"#,
            "session/transfer": #"{"station":"X","to":"Y"}"#,
            "station/update": #"{"station":"X","plug":{"type":"tasmota","topic":"plug-x"}}"#,
            "plug/power": #"{"station":"X","on":true}"#,
            "station/logout": #"{"station":"X"}"#, "station/shutdown": #"{"station":"X"}"#, "station/restart": #"{"station":"X"}"#,
            "station/message": #"{"station":"X","text":"hi"}"#,
            "pricing/get": "", "price/quote": #"{"station":"X","minutes":60}"#,
            "rate/set": #"{"plan":{"id":"std","name":"Standard","per_hour":300,"step_s":60}}"#, "rate/remove": #"{"plan":"std"}"#,
            "package/set": #"{"package":{"id":"p3","name":"3 h","price":800,"minutes":180}}"#, "package/remove": #"{"package":"p3"}"#,
            "tier/set": #"{"tier":{"id":"gold","name":"Gold","discount_percent":10}}"#, "tier/remove": #"{"tier":"gold"}"#,
            "member/add": #"{"member":"m1","name":"Ann"}"#, "member/get": #"{"member":"m1"}"#, "member/find": #"{"query":"an"}"#,
            "member/update": #"{"member":"m1","name":"Anne"}"#, "member/topup": #"{"member":"m1","amount":1000,"method":"cash"}"#,
            "member/set-pin": #"{"member":"m1","pin":"1234"}"#, "member/disable": #"{"member":"m1"}"#,
            "sale/refund": #"{"sale":1,"reason":"wrong station"}"#, "sale/void": #"{"sale":1,"reason":"typo"}"#,
            "product/list": "", "product/set": #"{"product":{"product":"cola","name":"Cola","category":"drinks","price":250}}"#,
            "product/remove": #"{"product":"cola"}"#,
            "sale/create": #"{"items":[{"product":"cola","qty":2},{"station":"X","minutes":30}],"payment":{"method":"cash","tendered":2000}}"#,
            "shift/open": #"{"float":10000}"#, "shift/close": #"{"counted":0}"#, "shift/payin": #"{"amount":500,"reason":"bank"}"#,
            "shift/payout": #"{"amount":500,"reason":"milk"}"#, "shift/get": "",
        ]
        #expect(Set(bodies.keys) == Set(Command.verbs))
        for verb in Command.verbs {
            let body = bodies[verb]!
            // The command decoded from a verb names that verb back (the role table is keyed by it).
            #expect(command(verb, body)?.verb.rawValue == verb, "verb \(verb)")
        }
    }

    @Test func commandsNameTheStationsTheyChange() {
        #expect(Command.stationList.stations.isEmpty)
        #expect(Command.stationGet(pc1).stations.isEmpty)
        #expect(Command.sessionStart(pc1, seconds: 1).stations == [pc1])
        #expect(Command.stationAdd(id: pc1, name: "x", kind: .pc, plug: nil).stations == [pc1])
        #expect(Command.sessionTransfer(from: pc1, to: pc2).stations == [pc1, pc2])
        #expect(Command.stationOrder(pc1, action: .shutdown).stations.isEmpty, "an order changes no station's state")
    }

    @Test func emptyBodyIsAnEmptyObjectForStationList() {
        #expect(command("station/list", "") == .stationList)
        #expect(command("station/list", " \n\t\r ") == .stationList)
        // ...but other verbs then miss their fields.
        let e = failure("session/start", "")
        #expect(e?.error.code == .invalidRequest)
        #expect(e?.error.message.contains("station") == true)
        #expect(e?.transaction == nil)
    }

    // MARK: malformed

    @Test(arguments: ["{", "not json", #"{"station":}"#, "{\"station\":\"PC-01\"", "\u{FF}\u{FE}", "{'station':'PC-01'}"])
    func malformedJSON(_ body: String) {
        let e = failure("session/stop", body)
        #expect(e?.error.code == .invalidJSON)
        #expect(e?.transaction == nil)
    }

    @Test func invalidUTF8IsInvalidJSON() {
        let r = Request.decode(verb: "session/stop", payload: [0x7B, 0xFF, 0xFE, 0x7D], policy: policy)
        guard case .failure(let e) = r else { Issue.record("accepted invalid UTF-8"); return }
        #expect(e.error.code == .invalidJSON)
    }

    @Test(arguments: ["[]", #"["station","PC-01"]"#, "42", #""PC-01""#, "true", "null"])
    func nonObjectBody(_ body: String) {
        let e = failure("session/stop", body)
        #expect(e?.error.code == .invalidRequest)
        #expect(e?.transaction == nil)
    }

    @Test func unknownVerb() {
        let e = failure("session/destroy", #"{"station":"PC-01","transaction":"t-9"}"#)
        #expect(e?.error.code == .unknownVerb)
        #expect(e?.error.message.contains("session/destroy") == true)
        #expect(e?.transaction == "t-9")
        #expect(failure("", "{}")?.error.code == .unknownVerb)
        #expect(failure("session", "{}")?.error.code == .unknownVerb)
        #expect(failure("SESSION/START", #"{"station":"PC-01","minutes":1}"#)?.error.code == .unknownVerb)
    }

    // MARK: station ids

    @Test(arguments: ["PC+01", "PC#01", "PC/01", "", String(repeating: "a", count: 65), "PC 01", "PÇ-01", "PC.01", "+", "#"])
    func invalidStationIDs(_ id: String) throws {
        let body = JSONCoding.encode(["station": .string(id), "minutes": 5, "transaction": 7])
        let r = Request.decode(verb: "session/start", payload: body, policy: policy)
        guard case .failure(let e) = r else { Issue.record("accepted station id \(id)"); return }
        #expect(e.error.code == .invalidStationID)
        #expect(e.transaction == 7)
        #expect(StationID(id) == nil)
    }

    @Test func sixtyFourCharacterIDIsTheLongestAccepted() {
        let id64 = String(repeating: "Z", count: 64)
        #expect(command("station/get", #"{"station":"\#(id64)"}"#) == .stationGet(StationID(id64)!))
        #expect(StationID("a-Z_09") != nil)
        #expect(StationID(String(repeating: "Z", count: 65)) == nil)
    }

    @Test func stationMustBeAString() {
        #expect(failure("station/get", #"{"station":1}"#)?.error.code == .invalidRequest)
        #expect(failure("station/get", #"{"station":null}"#)?.error.code == .invalidRequest)
        #expect(failure("station/get", #"{}"#)?.error.code == .invalidRequest)
        #expect(failure("session/transfer", #"{"station":"PC-01"}"#)?.error.code == .invalidRequest)
        #expect(failure("session/transfer", #"{"station":"PC-01","to":"PC/02"}"#)?.error.code == .invalidStationID)
    }

    @Test func transferToTheSameStationIsRefused() {
        let e = failure("session/transfer", #"{"station":"PC-01","to":"PC-01","transaction":"x"}"#)
        #expect(e?.error.code == .invalidRequest)
        #expect(e?.transaction == "x")
    }

    @Test func stationAddFieldValidation() {
        #expect(failure("station/add", #"{"station":"PC-03","kind":"PC"}"#)?.error.code == .invalidRequest)
        #expect(failure("station/add", #"{"station":"PC-03","kind":""}"#)?.error.code == .invalidRequest)
        #expect(failure("station/add", #"{"station":"PC-03","kind":"a-very-long-kind-name"}"#)?.error.code == .invalidRequest)
        #expect(failure("station/add", #"{"station":"PC-03","name":""}"#)?.error.code == .invalidRequest)
        let name65 = String(repeating: "n", count: 65)
        #expect(failure("station/add", #"{"station":"PC-03","name":"\#(name65)"}"#)?.error.code == .invalidRequest)
        #expect(failure("station/add", #"{"station":"PC-03","name":5}"#)?.error.code == .invalidRequest)
        #expect(command("station/add", #"{"station":"PC-03","name":null,"kind":null}"#) == .stationAdd(id: StationID("PC-03")!, name: "PC-03", kind: .pc, plug: nil))
    }

    @Test func maintenanceNeedsABoolean() {
        #expect(failure("station/maintenance", #"{"station":"PC-01"}"#)?.error.code == .invalidRequest)
        #expect(failure("station/maintenance", #"{"station":"PC-01","enabled":1}"#)?.error.code == .invalidRequest)
        #expect(failure("station/maintenance", #"{"station":"PC-01","enabled":"true"}"#)?.error.code == .invalidRequest)
    }

    // MARK: durations

    @Test func bothMinutesAndSecondsIsRefused() {
        let e = failure("session/start", #"{"station":"PC-01","minutes":1,"seconds":60}"#)
        #expect(e?.error.code == .invalidDuration)
    }

    @Test func neitherMinutesNorSecondsIsRefused() {
        #expect(failure("session/start", #"{"station":"PC-01"}"#)?.error.code == .invalidDuration)
        #expect(failure("session/extend", #"{"station":"PC-01"}"#)?.error.code == .invalidDuration)
    }

    @Test(arguments: [
        #""minutes":0"#, #""seconds":0"#, #""minutes":-5"#, #""seconds":-1"#, #""minutes":1.5"#, #""seconds":0.5"#,
        #""minutes":"10""#, #""seconds":true"#, #""minutes":null"#, #""seconds":[60]"#, #""minutes":1441"#,
        #""seconds":86401"#, #""minutes":1e300"#, #""seconds":9223372036854775807"#, #""minutes":9223372036854775807"#,
        #""minutes":-9223372036854775808"#, #""seconds":1e15"#,
    ])
    func invalidDurations(_ field: String) {
        for verb in ["session/start", "session/extend"] {
            let e = failure(verb, #"{"station":"PC-01",\#(field),"transaction":"tx"}"#)
            #expect(e?.error.code == .invalidDuration, "\(verb) \(field)")
            #expect(e?.transaction == "tx")
        }
    }

    @Test func largestDurationsAreAccepted() {
        #expect(command("session/start", #"{"station":"PC-01","minutes":1440}"#) == .sessionStart(pc1, seconds: 86_400))
        #expect(command("session/start", #"{"station":"PC-01","seconds":86400}"#) == .sessionStart(pc1, seconds: 86_400))
        #expect(command("session/start", #"{"station":"PC-01","seconds":1}"#) == .sessionStart(pc1, seconds: 1))
    }

    @Test func wholeDoublesAreWholeNumbers() {
        #expect(command("session/start", #"{"station":"PC-01","minutes":2.0}"#) == .sessionStart(pc1, seconds: 120))
        #expect(command("session/start", #"{"station":"PC-01","seconds":3e1}"#) == .sessionStart(pc1, seconds: 30))
    }

    @Test func policyBoundsTheDuration() {
        var p = HubPolicy()
        p.maxSessionSeconds = 3600
        let ok = Request.decode(verb: "session/start", payload: Array(#"{"station":"PC-01","minutes":60}"#.utf8), policy: p)
        #expect((try? ok.get())?.command == .sessionStart(pc1, seconds: 3600))
        let tooLong = Request.decode(verb: "session/start", payload: Array(#"{"station":"PC-01","seconds":3601}"#.utf8), policy: p)
        guard case .failure(let e) = tooLong else { Issue.record("accepted"); return }
        #expect(e.error.code == .invalidDuration)
    }

    // MARK: size

    @Test func payloadOverTheLimitIsRefused() {
        let prefix = #"{"station":"PC-01","transaction":"big","pad":""#
        let suffix = #""}"#
        let exact = prefix + String(repeating: "x", count: policy.maxRequestBytes - prefix.utf8.count - suffix.utf8.count) + suffix
        #expect(exact.utf8.count == policy.maxRequestBytes)
        #expect(command("session/stop", exact) == .sessionStop(pc1))
        let over = prefix + String(repeating: "x", count: policy.maxRequestBytes - prefix.utf8.count - suffix.utf8.count + 1) + suffix
        let e = failure("session/stop", over)
        #expect(e?.error.code == .payloadTooLarge)
        #expect(e?.error.message.contains("\(policy.maxRequestBytes)") == true)

        var small = HubPolicy()
        small.maxRequestBytes = 10
        let r = Request.decode(verb: "station/list", payload: Array(#"{"a":"123456"}"#.utf8), policy: small)
        guard case .failure(let e2) = r else { Issue.record("accepted"); return }
        #expect(e2.error.code == .payloadTooLarge)
    }

    // MARK: transaction

    @Test func transactionIsCarriedOnSuccessAndFailure() throws {
        let ok = try decode("session/stop", #"{"station":"PC-01","transaction":"abc-123"}"#).get()
        #expect(ok.transaction == "abc-123")
        let okNumber = try decode("station/list", #"{"transaction":42}"#).get()
        #expect(okNumber.transaction == 42)
        let okObject = try decode("station/list", #"{"transaction":{"n":1}}"#).get()
        #expect(okObject.transaction == ["n": 1])
        let none = try decode("station/list", "{}").get()
        #expect(none.transaction == nil)

        #expect(failure("session/stop", #"{"transaction":"abc-124"}"#)?.transaction == "abc-124")
        #expect(failure("session/start", #"{"station":"PC-01","minutes":0,"transaction":"abc-125"}"#)?.transaction == "abc-125")
        #expect(failure("nope", #"{"transaction":99}"#)?.transaction == 99)
    }
}
