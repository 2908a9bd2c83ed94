import PlayclockContract
@testable import PlayclockCore
import Testing

@Suite("Station zones")
struct StationZoneTests {
    /// The command a body decodes to, or the refusal.
    func decode(_ verb: String, _ body: JSONValue) -> Result<Command, CommandError> {
        switch Request.decode(verb: verb, payload: JSONCoding.encode(body), policy: HubPolicy()) {
        case .success(let request): return .success(request.command)
        case .failure(let failure): return .failure(failure.error)
        }
    }

    // MARK: validation

    @Test func zonesAreTrimmedAndUpToThirtyTwoCharacters() {
        #expect(StationZone.normalized("VIP room") == "VIP room")
        #expect(StationZone.normalized("  Console lounge \t") == "Console lounge")
        #expect(StationZone.normalized("A") == "A")
        #expect(StationZone.normalized(String(repeating: "z", count: 32)) == String(repeating: "z", count: 32))
        #expect(StationZone.normalized("  " + String(repeating: "z", count: 32) + "  ") == String(repeating: "z", count: 32))
        // Characters, not bytes: 32 accented letters (64 UTF-8 bytes) or emoji still fit.
        #expect(StationZone.normalized(String(repeating: "é", count: 32)) == String(repeating: "é", count: 32))
        #expect(StationZone.normalized("Salle 🎮 VIP") == "Salle 🎮 VIP")
    }

    static let invalidZones: [String] = [
        "", " ", "   \t  ", "\n", String(repeating: "z", count: 33), "VIP\nroom", "VIP\troom", "bell\u{07}", "\u{7F}del",
        "nul\u{0}", "esc\u{1B}[31m", "c1\u{85}control",
    ]

    @Test(arguments: invalidZones)
    func invalidZonesAreRefused(_ zone: String) {
        #expect(StationZone.normalized(zone) == nil)
        for verb in ["station/add", "station/update"] {
            guard case .failure(let error) = decode(verb, ["station": "PC-09", "zone": .string(zone)]) else {
                Issue.record("\(verb) accepted zone \(zone.debugDescription)")
                continue
            }
            #expect(error.code == .invalidRequest)
            #expect(error.message.contains("\"zone\""))
            #expect(error.message.contains("32"))
        }
    }

    @Test(arguments: [JSONValue.int(5), .bool(true), ["VIP"], ["name": "VIP"]])
    func aZoneMustBeAString(_ zone: JSONValue) {
        #expect(throws: CommandError.self) { try decode("station/add", ["station": "PC-09", "zone": zone]).get() }
        #expect(throws: CommandError.self) { try decode("station/update", ["station": "PC-09", "zone": zone]).get() }
    }

    @Test func decoding() throws {
        let pc9 = StationID("PC-09")!
        #expect(try decode("station/add", ["station": "PC-09", "zone": " VIP room "]).get()
            == .stationAdd(id: pc9, name: "PC-09", kind: .pc, plug: nil, zone: "VIP room"))
        #expect(try decode("station/add", ["station": "PC-09", "zone": .null]).get()
            == .stationAdd(id: pc9, name: "PC-09", kind: .pc, plug: nil, zone: nil))
        #expect(try decode("station/add", ["station": "PC-09"]).get() == .stationAdd(id: pc9, name: "PC-09", kind: .pc, plug: nil, zone: nil))
        #expect(try decode("station/update", ["station": "PC-09", "zone": "PC floor"]).get()
            == .stationUpdate(pc9, name: nil, kind: nil, plug: .keep, zone: .set("PC floor")))
        #expect(try decode("station/update", ["station": "PC-09", "zone": .null]).get()
            == .stationUpdate(pc9, name: nil, kind: nil, plug: .keep, zone: .remove))
        #expect(try decode("station/update", ["station": "PC-09", "name": "x"]).get()
            == .stationUpdate(pc9, name: "x", kind: nil, plug: .keep, zone: .keep))
    }

    // MARK: in the core

    @Test func addWithAZoneSavesAndShowsIt() throws {
        var hub = TestHub()
        let (result, actions) = hub.request("station/add", ["station": "PC-09", "zone": "  VIP room", "transaction": "z1"])
        let state = try result.get()
        #expect(state["zone"] == "VIP room")
        let pc9 = StationID("PC-09")!
        #expect(actions.savedStations == [Station(id: pc9, name: "PC-09", kind: .pc, zone: "VIP room")])
        #expect(hub.store.stations[pc9]?.zone == "VIP room")
        #expect(actions.states(pc9).first?["zone"] == "VIP room")
        #expect(actions.events("station.added").first?.data["zone"] == "VIP room")
        #expect(hub.state(pc9)?["zone"] == "VIP room")

        // Listed with it, and a station without a zone shows null.
        let list = try hub.request("station/list", [:]).result.get()
        guard case .array(let stations)? = list["stations"] else { Issue.record("no list"); return }
        #expect(stations.first { $0["station"] == "PC-09" }?["zone"] == "VIP room")
        #expect(stations.first { $0["station"] == "PC-01" }?["zone"] == .null)
    }

    @Test func updateSetsKeepsAndClearsTheZone() throws {
        var hub = TestHub()
        var (result, actions) = hub.request("station/update", ["station": "PC-01", "zone": "PC floor"])
        #expect(try result.get()["zone"] == "PC floor")
        #expect(actions.savedStations.map(\.zone) == ["PC floor"])
        #expect(actions.events("station.updated").first?.data["zone"] == "PC floor")
        #expect(actions.states(pc1).first?["zone"] == "PC floor")

        // Absent: kept.
        (result, actions) = hub.request("station/update", ["station": "PC-01", "name": "Corner PC"])
        #expect(try result.get()["zone"] == "PC floor")
        #expect(actions.savedStations.map(\.zone) == ["PC floor"])
        #expect(hub.store.stations[pc1]?.name == "Corner PC")

        // Another value: moved.
        (result, actions) = hub.request("station/update", ["station": "PC-01", "zone": "VIP room"])
        #expect(try result.get()["zone"] == "VIP room")
        #expect(hub.store.stations[pc1]?.zone == "VIP room")

        // null: cleared.
        (result, actions) = hub.request("station/update", ["station": "PC-01", "zone": .null])
        #expect(try result.get()["zone"] == .null)
        #expect(actions.savedStations.count == 1)
        #expect(actions.savedStations.first?.zone == nil)
        #expect(actions.events("station.updated").first?.data["zone"] == .null)
        #expect(hub.store.stations[pc1]?.zone == nil)
        #expect(hub.state(pc1)?["zone"] == .null)
    }

    @Test func anInvalidZoneChangesNothing() throws {
        var hub = TestHub()
        _ = hub.request("station/update", ["station": "PC-01", "zone": "PC floor"])
        let storedBefore = hub.store.stations
        let stateBefore = hub.state(pc1)
        for (index, body): (Int, JSONValue) in [
            ["station": "PC-01", "zone": "", "name": "Renamed"],
            ["station": "PC-01", "zone": .string(String(repeating: "z", count: 33))],
            ["station": "PC-01", "zone": "two\nlines"],
            ["station": "PC-01", "zone": 7],
        ].enumerated() {
            let (result, actions) = hub.request("station/update", body)
            guard case .failure(let error) = result else { Issue.record("accepted \(body)"); continue }
            #expect(error.code == .invalidRequest)
            // The first is recorded; the same refusal again within its window is only counted.
            #expect(actions.eventTypes == (index == 0 ? ["command.rejected"] : []))
            #expect(actions.outbounds.isEmpty)
            #expect(actions.savedStations.isEmpty)
        }
        let (added, addActions) = hub.request("station/add", ["station": "PC-10", "zone": "  "])
        #expect(throws: CommandError.self) { try added.get() }
        #expect(addActions.eventTypes == ["command.rejected"])
        #expect(hub.core.stationIDs.contains(StationID("PC-10")!) == false)
        #expect(hub.store.stations == storedBefore)
        #expect(hub.state(pc1) == stateBefore)
    }

    @Test func zonesSurviveARestart() {
        var hub = TestHub()
        _ = hub.request("station/update", ["station": "PS-01", "zone": "Console lounge"])
        let restarted = TestHub(restartingFrom: hub.store, clock: hub.clock)
        #expect(restarted.state(ps1)?["zone"] == "Console lounge")
        #expect(restarted.state(pc1)?["zone"] == .null)
    }
}
