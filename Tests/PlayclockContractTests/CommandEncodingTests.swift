import PlayclockContract
import Testing

/// A command's request body decodes back to the same command, for every verb.
@Suite("Command encoding")
struct CommandEncodingTests {
    static let a = StationID("PC-01")!
    static let b = StationID("PC-02")!

    static let commands: [Command] = [
        .stationList, .stationGet(a), .stationRemove(a),
        .stationAdd(id: a, name: "PC 01", kind: .pc, plug: nil),
        .stationAdd(id: b, name: "PS5", kind: .console, plug: .tasmota(topic: "ps5-01", relay: 2), zone: "Console lounge"),
        .stationUpdate(a, name: "Front PC", kind: nil, plug: .keep),
        .stationUpdate(a, name: nil, kind: .console, plug: .remove, zone: .remove),
        .stationUpdate(a, name: nil, kind: nil, plug: .set(.shelly2(prefix: "lounge/ps5", switchID: 1)), zone: .set("VIP room")),
        .stationMaintenance(a, enabled: true), .stationMaintenance(a, enabled: false),
        .sessionStart(a, seconds: 3600), .sessionExtend(a, seconds: 90),
        .sessionPause(a), .sessionResume(a), .sessionStop(a), .sessionTransfer(from: a, to: b),
        .plugPower(b, on: true), .plugPower(b, on: false),
        .stationOrder(a, action: .logout), .stationOrder(a, action: .shutdown), .stationOrder(a, action: .restart),
        .stationOrder(a, action: .message, text: "Your pizza is ready\nat the counter"),
    ]

    @Test(arguments: commands)
    func bodyDecodesToTheSameCommand(_ command: Command) throws {
        #expect(try Request.parse(verb: command.verb.rawValue, body: command.body, limits: RequestLimits()) == command)
    }

    @Test func everyVerbIsCovered() {
        #expect(Set(Self.commands.map(\.verb)) == Set(Verb.allCases))
    }
}
