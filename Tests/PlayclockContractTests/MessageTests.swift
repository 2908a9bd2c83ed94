import Foundation
import PlayclockContract
import Testing

/// Every message decodes what `topics.md` shows and encodes back the same JSON.
@Suite("Contract messages")
struct MessageTests {
    private func json(_ text: String) throws -> JSONValue { try JSONCoding.decode(Array(text.utf8)) }

    private func roundTrip<M: ContractMessage>(_ type: M.Type, _ text: String) throws -> M {
        let value = try json(text)
        let message = try M(json: value)
        #expect(message.json == value, "\(text)")
        #expect(try M(payload: message.payload) == message)
        return message
    }

    @Test func controlMessagesOfTopicsMD() throws {
        let unlock = try roundTrip(ControlMessage.self,
            #"{"action":"unlock","station":"PC-01","session":"6f1c","ends_at":"2026-11-21T21:00:00.000Z","remaining_s":3600,"sent_at":"2026-11-21T20:00:00.000Z"}"#)
        #expect(unlock.action == .unlock)
        #expect(unlock.station == StationID("PC-01"))
        let warn = try roundTrip(ControlMessage.self,
            #"{"action":"warn","station":"PC-01","session":"6f1c","ends_at":"2026-11-21T21:00:00.000Z","remaining_s":60,"threshold_s":60,"sent_at":"2026-11-21T20:59:00.000Z"}"#)
        guard case .warn(let grant, let threshold) = warn else { Issue.record("not a warn"); return }
        #expect(threshold == 60 && grant.remainingSeconds == 60)
        let lock = try roundTrip(ControlMessage.self,
            #"{"action":"lock","station":"PC-01","session":"6f1c","reason":"expired","sent_at":"2026-11-21T21:00:00.004Z"}"#)
        guard case .lock(let l) = lock else { Issue.record("not a lock"); return }
        #expect(l.reason == .expired)
        _ = try roundTrip(ControlMessage.self, #"{"action":"lock","station":"PC-01","session":null,"reason":"idle","sent_at":"2026-11-21T21:00:00.004Z"}"#)
        _ = try roundTrip(ControlMessage.self,
            #"{"action":"extend","station":"PC-01","session":"6f1c","ends_at":"2026-11-21T21:30:00.000Z","remaining_s":3000,"added_s":1800,"sent_at":"2026-11-21T20:10:00.000Z"}"#)
    }

    /// The bytes on the wire: compact, keys sorted, exactly as the hub has always sent them.
    @Test func controlEncodingIsByteExact() {
        let id = StationID("PC-01")!
        let lock = ControlMessage.lock(.init(station: id, session: nil, reason: .maintenance, sentAt: "2026-11-21T20:00:00.000Z"))
        #expect(String(decoding: lock.payload, as: UTF8.self)
            == #"{"action":"lock","reason":"maintenance","sent_at":"2026-11-21T20:00:00.000Z","session":null,"station":"PC-01"}"#)
        let countdown = CountdownMessage.none(id)
        #expect(String(decoding: countdown.payload, as: UTF8.self)
            == #"{"ends_at":null,"paused":false,"remaining_s":0,"session":null,"station":"PC-01"}"#)
    }

    @Test(arguments: [
        #"{"action":"dance","station":"PC-01","sent_at":"x"}"#,
        #"{"action":"lock","station":"PC/01","session":null,"reason":"idle","sent_at":"x"}"#,
        #"{"action":"unlock","station":"PC-01","session":"s","ends_at":"x","remaining_s":"60","sent_at":"x"}"#,
        #"{"action":"warn","station":"PC-01","session":"s","ends_at":"x","remaining_s":60,"sent_at":"x"}"#,
        #"["lock"]"#,
    ])
    func malformedControlIsRefused(_ text: String) throws {
        #expect(throws: MessageDecodingError.self) { try ControlMessage(json: try json(text)) }
    }

    /// An agent locks whatever the reason: one a newer hub added still decodes as a lock.
    @Test func aLockWithAReasonThisVersionDoesNotKnowIsStillALock() throws {
        let lock = try roundTrip(ControlMessage.self,
            #"{"action":"lock","station":"PC-01","session":"6f1c","reason":"unpaid_balance","sent_at":"2026-11-21T21:00:00.004Z"}"#)
        guard case .lock(let l) = lock else { Issue.record("not a lock"); return }
        #expect(l.reason == nil && l.reasonText == "unpaid_balance")
    }

    @Test func countdownOfTopicsMD() throws {
        let c = try roundTrip(CountdownMessage.self,
            #"{"station":"PC-01","session":"6f1c","remaining_s":540,"ends_at":"2026-11-21T21:00:00.000Z","paused":false}"#)
        #expect(c.remainingSeconds == 540)
        #expect(try roundTrip(CountdownMessage.self, #"{"station":"PC-01","session":null,"remaining_s":0,"ends_at":null,"paused":false}"#)
            == .none(StationID("PC-01")!))
    }

    @Test func stationStateOfTopicsMD() throws {
        let s = try roundTrip(StationStateMessage.self, #"""
            {"station": "PC-01", "name": "PC 01", "kind": "pc", "zone": "VIP room", "online": true, "status": "active",
             "maintenance": false,
             "session": {"id": "6f1c", "started_at": "2026-11-21T20:00:00.000Z", "ends_at": "2026-11-21T21:00:00.000Z",
                         "remaining_s": 3600, "granted_s": 3600, "paused": false},
             "agent": {"agent": "playclock-agent", "version": "1.4.2", "locked": false}, "plug": null,
             "updated_at": "2026-11-21T20:00:00.000Z"}
            """#)
        #expect(s.status == .active && s.session?.grantedSeconds == 3600 && s.plug == nil)
        let plugged = try roundTrip(StationStateMessage.self, #"""
            {"station": "PS5-01", "name": "PS5 01", "kind": "console", "zone": null, "online": null, "status": "alarm",
             "maintenance": false, "session": null, "agent": {},
             "plug": {"type": "tasmota", "topic": "ps5-01", "relay": 1, "online": true, "power": false, "watts": 0.4,
                      "confirmed": false, "alarm": "unconfirmed", "hold": false},
             "updated_at": "2026-11-21T20:00:00.000Z"}
            """#)
        #expect(plugged.plug?.binding == .tasmota(topic: "ps5-01", relay: 1))
        #expect(plugged.plug?.alarm == .unconfirmed)
        #expect(plugged.online == nil)
    }

    @Test func heartbeatKeepsEveryFieldButSeq() throws {
        let beat = try roundTrip(HeartbeatMessage.self, #"{"seq":7,"agent":"playclock-agent","version":"1.4.2","locked":true}"#)
        #expect(beat.seq == 7 && beat.locked == true && beat.info["seq"] == nil && beat.info.count == 3)
        #expect(throws: MessageDecodingError("a heartbeat needs an integer \"seq\"")) { try HeartbeatMessage(json: ["seq": "7"]) }
    }

    @Test func responsesBothWays() throws {
        let ok = try roundTrip(ResponseMessage.self, #"{"status":"ok","data":{"station":"PC-01"},"transaction":"a1"}"#)
        #expect(ok.result == .success(["station": "PC-01"]) && ok.transaction == "a1")
        let refused = try roundTrip(ResponseMessage.self,
            #"{"status":"error","error":{"code":"station_busy","message":"station PC-01 has session 6f1c"},"transaction":null}"#)
        #expect(refused.result == .failure(CommandError(.stationBusy, "station PC-01 has session 6f1c")))
        #expect(throws: MessageDecodingError.self) {
            try ResponseMessage(json: try json(#"{"status":"error","error":{"code":"no_such_code","message":"m"}}"#))
        }
    }

    @Test func eventsKeepTypesThisVersionDoesNotKnow() throws {
        let e = try roundTrip(EventMessage.self,
            #"{"id":12,"type":"session.started","at":"2026-11-21T20:00:00.000Z","station":"PC-01","session":"6f1c","data":{"granted_s":3600}}"#)
        #expect(e.kind == .sessionStarted)
        let future = try roundTrip(EventMessage.self, #"{"id":13,"type":"ledger.posted","at":"x","station":null,"session":null,"data":{}}"#)
        #expect(future.kind == nil && future.type == "ledger.posted")
    }
}
