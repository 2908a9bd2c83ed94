import PlayclockContract
@testable import PlayclockCore
import Testing

/// Expects the commands that switch a plug on for a hold by hand: no off-timer (Tasmota's
/// PulseTime, a setting the last session may have left armed, is set to 0 first).
func expectHeldOn(_ cmds: [Outbound], _ binding: PlugBinding, sourceLocation: SourceLocation = #_sourceLocation) {
    if case .tasmota(let t, let n) = binding {
        #expect(cmds.map { "\($0.topic) \($0.text)" } == ["cmnd/\(t)/PulseTime\(n) 0", "cmnd/\(t)/POWER\(n) ON"],
                sourceLocation: sourceLocation)
    } else {
        expectSwitch(cmds, binding, on: true, sourceLocation: sourceLocation)
    }
}

@Suite("Plug: power by hand (plug/power)")
struct PlugManualPowerTests {
    static let bindings = [tasBinding, sh1Binding, sh2Binding]

    func power(_ on: Bool, _ id: StationID = plugX) -> JSONValue { ["station": .string(id.value), "on": .bool(on)] }

    // MARK: decoding

    @Test func decoding() throws {
        func decode(_ body: String) -> Result<Request, RequestDecodeError> {
            Request.decode(verb: "plug/power", payload: Array(body.utf8), policy: HubPolicy())
        }
        #expect(try decode(#"{"station":"PS-01","on":true}"#).get().command == .plugPower(ps1, on: true))
        #expect(try decode(#"{"station":"PS-01","on":false,"transaction":"p1"}"#).get().command == .plugPower(ps1, on: false))
        #expect(try decode(#"{"station":"PS-01","on":false,"transaction":"p1"}"#).get().transaction == "p1")
        for body in [
            #"{"station":"PS-01"}"#, #"{"station":"PS-01","on":1}"#, #"{"station":"PS-01","on":"on"}"#,
            #"{"station":"PS-01","on":null}"#, #"{"station":"PS-01","on":[true]}"#, #"{"on":true}"#,
        ] {
            guard case .failure(let e) = decode(body) else { Issue.record("accepted \(body)"); continue }
            #expect(e.error.code == .invalidRequest, "\(body)")
        }
        #expect(Command.plugPower(ps1, on: true).stations == [ps1])
        #expect(Command.verbs.contains("plug/power"))
        #expect(StaffRole.required(for: .plugPower(ps1, on: true)) == .manager)
    }

    // MARK: on and off

    @Test(arguments: bindings)
    func onWithoutASessionHoldsThePlugOn(_ binding: PlugBinding) throws {
        var hub = singlePlugHub(binding)
        hub.resync()
        hub.confirm(binding, on: false)
        let (result, actions) = hub.request("plug/power", ["station": "PS-X", "on": true, "transaction": "m1"])
        let state = try result.get()
        #expect(state["station"] == "PS-X")
        #expect(state["plug"]?["hold"] == true)
        #expect(state["session"] == .null)
        expectHeldOn(actions.plugCommands, binding)
        #expect(actions.savedStations.map(\.powerHold) == [true])
        #expect(hub.hub.store.stations[plugX]?.powerHold == true)
        let manual = try #require(actions.events("plug.manual").first)
        #expect(manual.data == ["on": true])
        #expect(manual.station == plugX)
        #expect(manual.session == nil)
        #expect(actions.states(plugX).last?["plug"]?["hold"] == true)

        hub.confirm(binding, on: true)
        #expect(hub.plug(plugX)?["power"] == true)
        #expect(hub.plug(plugX)?["confirmed"] == true)
        #expect(hub.status(plugX) == "idle")
        // Held: nothing switches it off, however long it stays on.
        #expect(hub.run(seconds: 6 * 3600).plugCommands.isEmpty)
        #expect(hub.plug(plugX)?["hold"] == true)
    }

    @Test(arguments: bindings)
    func offClearsTheHoldAndSwitchesOff(_ binding: PlugBinding) throws {
        var hub = singlePlugHub(binding)
        hub.ok("plug/power", power(true))
        hub.confirm(binding, on: true)
        let (result, actions) = hub.request("plug/power", power(false))
        #expect(try result.get()["plug"]?["hold"] == false)
        expectSwitch(actions.plugCommands, binding, on: false)
        #expect(actions.savedStations.map(\.powerHold) == [false])
        #expect(actions.events("plug.manual").map(\.data) == [["on": false]])
        #expect(hub.hub.store.stations[plugX]?.powerHold == false)
        hub.confirm(binding, on: false)
        #expect(hub.plug(plugX)?["confirmed"] == true)
        #expect(hub.run(seconds: 600).plugCommands.isEmpty)
    }

    @Test func offCancelsTheGracefulDelay() {
        var policy = HubPolicy()
        policy.plugOffDelaySeconds = 300
        var hub = singlePlugHub(tasBinding, policy: policy)
        hub.start(plugX, seconds: 600)
        hub.confirm(tasBinding, on: true)
        let stop = hub.ok("session/stop", ["station": "PS-X"])
        #expect(!stop.plugCommands.contains { switchState($0) == false }, "the graceful delay keeps the plug on")
        hub.advance(seconds: 10)
        let off = hub.ok("plug/power", power(false))
        #expect(off.plugCommands.map { "\($0.topic) \($0.text)" } == ["cmnd/ps5plug/POWER1 OFF"])
        hub.confirm(tasBinding, on: false)
        // The delay is gone: its end switches nothing back on or off.
        #expect(hub.run(seconds: 600).plugCommands.isEmpty)
        #expect(hub.plug(plugX)?["power"] == false)
    }

    @Test func onDuringTheGracefulDelayOutlastsIt() {
        var policy = HubPolicy()
        policy.plugOffDelaySeconds = 60
        var hub = singlePlugHub(tasBinding, policy: policy)
        hub.start(plugX, seconds: 120)
        hub.confirm(tasBinding, on: true)
        hub.run(seconds: 120)  // expired; the plug stays on for the delay
        // The session's PulseTime (120 + 60 + 60 s) is disarmed before the plug is told on again.
        expectHeldOn(hub.ok("plug/power", power(true)).plugCommands, tasBinding)
        hub.confirm(tasBinding, on: true)
        #expect(!hub.run(seconds: 3600).plugCommands.contains { switchState($0) == false })
    }

    // MARK: refusals

    @Test(arguments: [false, true])
    func refusedWhileASessionIsOnTheStation(paused: Bool) throws {
        var hub = singlePlugHub(sh1Binding)
        hub.start(plugX, seconds: 600)
        hub.confirm(sh1Binding, on: true)
        if paused {
            hub.ok("session/pause", ["station": "PS-X"])
            hub.confirm(sh1Binding, on: false)
        }
        let stored = hub.hub.store.stations
        let before = hub.state(plugX)
        for on in [true, false] {
            let (result, actions) = hub.request("plug/power", ["station": "PS-X", "on": .bool(on), "transaction": "x"])
            guard case .failure(let error) = result else { Issue.record("plug/power accepted during a session"); continue }
            #expect(error.code == .sessionRunning)
            #expect(error.message.contains("power follows the session; pause or stop the session instead"))
            #expect(error.message.contains("S-1"))
            if on {
                #expect(actions.eventTypes == ["command.rejected"])
                #expect(actions.events.first?.data["verb"] == "plug/power")
                #expect(actions.events.first?.data["code"] == "session_running")
            } else {
                #expect(actions.isEmpty, "the same refusal again within its window is only counted")
            }
            #expect(actions.outbounds.isEmpty, "nothing published, nothing sent to the plug")
        }
        #expect(hub.hub.store.stations == stored)
        #expect(hub.state(plugX) == before)
        #expect(hub.core.session(at: plugX)?.paused == paused)
    }

    @Test func refusedWithoutAPlugOrAStation() throws {
        var hub = PlugHub(stations: allPlugStations + [plugStation(pc1, nil, kind: .pc)])
        let stored = hub.hub.store.stations
        var (result, actions) = hub.request("plug/power", ["station": "PC-01", "on": true])
        if case .failure(let e) = result {
            #expect(e.code == .noPlug)
            #expect(e.message.contains("PC-01"))
        } else {
            Issue.record("accepted a station without a plug")
        }
        #expect(actions.eventTypes == ["command.rejected"])
        #expect(actions.outbounds.isEmpty)

        (result, actions) = hub.request("plug/power", ["station": "NOPE", "on": true])
        if case .failure(let e) = result { #expect(e.code == .unknownStation) } else { Issue.record("accepted an unknown station") }
        #expect(actions.outbounds.isEmpty)

        (result, actions) = hub.request("plug/power", ["station": .string(tasStation.value), "on": "yes"])
        if case .failure(let e) = result { #expect(e.code == .invalidRequest) } else { Issue.record("accepted \"on\": \"yes\"") }
        #expect(actions.eventTypes == ["command.rejected"])
        #expect(actions.outbounds.isEmpty)

        (result, actions) = hub.request("plug/power", ["station": .string(tasStation.value)])
        if case .failure(let e) = result { #expect(e.code == .invalidRequest) } else { Issue.record("accepted a body without \"on\"") }
        #expect(actions.outbounds.isEmpty)

        #expect(hub.hub.store.stations == stored)
        #expect(hub.plug(tasStation)?["hold"] == false)
    }

    // MARK: sessions take over

    @Test(arguments: bindings)
    func aSessionTakesOverTheHoldAndSwitchesOffWhenItEnds(_ binding: PlugBinding) throws {
        var hub = singlePlugHub(binding)
        hub.ok("plug/power", power(true))
        hub.confirm(binding, on: true)
        let start = hub.start(plugX, seconds: 120)
        #expect(start.savedStations.map(\.powerHold) == [false], "the session owns the power now")
        #expect(hub.hub.store.stations[plugX]?.powerHold == false)
        #expect(start.states(plugX).last?["plug"]?["hold"] == false)
        // On, with the fail-safe timer armed for the session.
        expectSwitch(start.plugCommands, binding, on: true, offAfter: 180)
        hub.confirm(binding, on: true)
        let expiry = hub.run(seconds: 120)
        #expect(expiry.eventTypes.contains("session.expired"))
        expectSwitch(expiry.plugCommands, binding, on: false)
    }

    @Test func aStartWithoutAHoldSavesNoStation() {
        var hub = singlePlugHub(tasBinding)
        #expect(hub.start(plugX, seconds: 60).savedStations.isEmpty)
    }

    @Test func aTransferOntoAHeldStationClearsItsHold() throws {
        var hub = PlugHub()
        hub.ok("plug/power", power(true, tasStation))
        hub.confirm(tasBinding, on: true)
        hub.start(sh2Station, seconds: 600)
        hub.confirm(sh2Binding, on: true)
        hub.advance(seconds: 100)
        let transfer = hub.ok("session/transfer", ["station": .string(sh2Station.value), "to": .string(tasStation.value)])
        #expect(transfer.savedStations.map(\.id) == [tasStation])
        #expect(transfer.savedStations.map(\.powerHold) == [false])
        #expect(hub.hub.store.stations[tasStation]?.powerHold == false)
        #expect(hub.plug(tasStation)?["hold"] == false)
        // The session re-arms the Tasmota timer: 500 s left + 60 s margin.
        expectSwitch(transfer.plugCommands.filter { $0.topic.hasPrefix("cmnd/") }, tasBinding, on: true, offAfter: 560)
        hub.confirm(tasBinding, on: true)
        let stop = hub.ok("session/stop", ["station": .string(tasStation.value)])
        expectSwitch(stop.plugCommands, tasBinding, on: false)
    }

    // MARK: maintenance, unbinding, restarts

    @Test(arguments: bindings)
    func aHoldWinsOverMaintenance(_ binding: PlugBinding) throws {
        var hub = singlePlugHub(binding)
        let maintenance = hub.ok("station/maintenance", ["station": "PS-X", "enabled": true])
        expectSwitch(maintenance.plugCommands, binding, on: false)
        hub.confirm(binding, on: false)

        let (result, actions) = hub.request("plug/power", power(true))
        let state = try result.get()
        #expect(state["status"] == "maintenance")
        #expect(state["maintenance"] == true)
        #expect(state["plug"]?["hold"] == true)
        expectHeldOn(actions.plugCommands, binding)
        hub.confirm(binding, on: true)

        // Leaving or re-entering maintenance leaves a held plug on.
        #expect(hub.ok("station/maintenance", ["station": "PS-X", "enabled": false]).plugCommands.allSatisfy { switchState($0) != false })
        #expect(hub.ok("station/maintenance", ["station": "PS-X", "enabled": true]).plugCommands.allSatisfy { switchState($0) != false })
        #expect(hub.run(seconds: 600).plugCommands.isEmpty)
        #expect(hub.plug(plugX)?["power"] == true)

        // Released in maintenance: off.
        expectSwitch(hub.ok("plug/power", power(false)).plugCommands, binding, on: false)
    }

    @Test func aDrawWhileHeldIsNoBypass() {
        var hub = singlePlugHub(tasBinding)
        hub.ok("plug/power", power(true))
        hub.confirm(tasBinding, on: true)
        let draw = hub.report("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":90}}"#)
        #expect(draw.events("plug.bypass").isEmpty)
        #expect(hub.plug(plugX)?["watts"]?.doubleValue == 90)
        #expect(hub.report("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":120}}"#).events("plug.bypass").isEmpty)
    }

    @Test func unbindingThePlugClearsTheHold() throws {
        var hub = singlePlugHub(sh1Binding)
        hub.ok("plug/power", power(true))
        let unbind = hub.ok("station/update", ["station": "PS-X", "plug": .null])
        #expect(unbind.savedStations.map(\.powerHold) == [false])
        #expect(hub.hub.store.stations[plugX]?.powerHold == false)
        // Bound again: the new plug is driven off, not on.
        let rebind = hub.ok("station/update", ["station": "PS-X", "plug": ["type": "tasmota", "topic": "newplug"]])
        #expect(rebind.plugCommands.map { "\($0.topic) \($0.text)" } == ["cmnd/newplug/POWER1 OFF"])
        #expect(hub.plug(plugX)?["hold"] == false)
    }

    @Test func changingTheBindingKeepsTheHold() {
        var hub = singlePlugHub(sh1Binding)
        hub.ok("plug/power", power(true))
        let rebind = hub.ok("station/update", ["station": "PS-X", "plug": ["type": "tasmota", "topic": "newplug"]])
        #expect(rebind.plugCommands.map { "\($0.topic) \($0.text)" } == ["cmnd/newplug/PulseTime1 0", "cmnd/newplug/POWER1 ON"])
        #expect(hub.plug(plugX)?["hold"] == true)
    }

    @Test func aHoldSurvivesARestart() throws {
        var hub = singlePlugHub(tasBinding)
        hub.ok("station/maintenance", ["station": "PS-X", "enabled": true])
        hub.ok("plug/power", power(true))
        hub.confirm(tasBinding, on: true)
        hub.advance(seconds: 30)

        var restarted = singlePlugHub(tasBinding)
        restarted.hub = TestHub(restartingFrom: hub.hub.store, clock: hub.hub.clock)
        #expect(restarted.plug(plugX)?["hold"] == true)
        let resync = restarted.resync()
        expectHeldOn(resync.plugCommands.filter { switchState($0) != nil || $0.topic.contains("PulseTime") }, tasBinding)
        #expect(resync.states(plugX).last?["plug"]?["hold"] == true)
    }

    @Test func theAuditEventNamesTheAccount() throws {
        var hub = singlePlugHub(tasBinding)
        let outcome = hub.hub.core.handle(.plugPower(plugX, on: true), verb: "plug/power", newSessionID: "unused", now: hub.now, actor: "max")
        #expect(try outcome.result.get()["plug"]?["hold"] == true)
        #expect(outcome.actions.events("plug.manual").map(\.data) == [["on": true, "by": "max"]])
    }
}
