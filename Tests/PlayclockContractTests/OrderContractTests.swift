import Foundation
import PlayclockContract
import Testing

/// Staff orders to a PC (`station/logout`, `station/shutdown`, `station/restart`,
/// `station/message`), the order on the control topic and the agent's report.
@Suite("Orders and agent reports")
struct OrderContractTests {
    static let topicsMD: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("topics.md"), encoding: .utf8)) ?? ""
    }()

    private func json(_ text: String) throws -> JSONValue { try JSONCoding.decode(Array(text.utf8)) }

    /// Decodes a `topics.md` example (which must be there as written) and encodes it back.
    private func documented<M: ContractMessage>(_ type: M.Type, _ text: String) throws -> M {
        #expect(Self.topicsMD.contains(text), "not in topics.md: \(text)")
        let value = try json(text)
        let message = try M(json: value)
        #expect(message.json == value)
        #expect(try M(payload: message.payload) == message)
        return message
    }

    // MARK: - Requests

    static let pc = StationID("PC-01")!

    private func parse(_ verb: String, _ body: JSONValue) throws(CommandError) -> Command {
        try Request.parse(verb: verb, body: body.objectValue ?? [:], limits: RequestLimits())
    }

    @Test func eachOrderVerbDecodes() throws {
        #expect(try parse("station/logout", ["station": "PC-01"]) == .stationOrder(Self.pc, action: .logout))
        #expect(try parse("station/shutdown", ["station": "PC-01"]) == .stationOrder(Self.pc, action: .shutdown))
        #expect(try parse("station/restart", ["station": "PC-01"]) == .stationOrder(Self.pc, action: .restart))
        #expect(try parse("station/message", ["station": "PC-01", "text": "  Hi there\nsee you  "])
            == .stationOrder(Self.pc, action: .message, text: "Hi there\nsee you"))
        // A text given to another order is not part of it.
        #expect(try parse("station/logout", ["station": "PC-01", "text": "x"]) == .stationOrder(Self.pc, action: .logout))
        #expect(OrderAction.allCases.allSatisfy { Verb(order: $0).rawValue == "station/\($0.rawValue)" })
        #expect(try parse("station/message", ["station": "PC-01", "text": .string(String(repeating: "é", count: 280))])
            == .stationOrder(Self.pc, action: .message, text: String(repeating: "é", count: 280)))
    }

    @Test(arguments: [
        JSONValue.object(["station": "PC-01"]),
        ["station": "PC-01", "text": ""],
        ["station": "PC-01", "text": "   \n  "],
        ["station": "PC-01", "text": 42],
        ["station": "PC-01", "text": .null],
        ["station": "PC-01", "text": .string(String(repeating: "a", count: 281))],
        ["station": "PC-01", "text": "tab\there"],
        ["station": "PC-01", "text": "carriage\r\nreturn"],
        ["station": "PC-01", "text": "bell\u{07}"],
        ["station": "PC-01", "text": "escape\u{1B}[2J"],
        ["station": "PC-01", "text": "nul\u{0}"],
    ])
    func aBadMessageTextIsAnInvalidRequest(_ body: JSONValue) {
        #expect(throws: CommandError.self) { try parse("station/message", body) }
        do { _ = try parse("station/message", body) } catch { #expect(error.code == .invalidRequest) }
    }

    @Test func anOrderNeedsAValidStation() {
        do { _ = try parse("station/shutdown", [:]) } catch { #expect(error.code == .invalidRequest) }
        do { _ = try parse("station/shutdown", ["station": "PC/01"]) } catch { #expect(error.code == .invalidStationID) }
    }

    @Test func onlyManagersSendOrders() {
        for action in OrderAction.allCases {
            let command = Command.stationOrder(Self.pc, action: action, text: action == .message ? "hi" : nil)
            #expect(StaffRole.manager.permits(command))
            #expect(!StaffRole.cashier.permits(command))
            #expect(!StaffRole.viewer.permits(command))
            #expect(command.verb == Verb(order: action))
        }
    }

    // MARK: - The order on the control topic

    @Test func ordersOfTopicsMD() throws {
        let shutdown = try documented(ControlMessage.self,
            #"{"action":"shutdown","station":"PC-01","command":"0b6f3a52-7c1e-4d0a-9a53-2f1d5e8c4b7a","sent_at":"2026-11-21T22:00:00.000Z"}"#)
        guard case .order(let o) = shutdown else { Issue.record("not an order"); return }
        #expect(o.action == .shutdown && o.text == nil && o.command == "0b6f3a52-7c1e-4d0a-9a53-2f1d5e8c4b7a")
        let message = try documented(ControlMessage.self,
            #"{"action":"message","station":"PC-01","command":"5d2c9e14-3b8f-4a61-8e07-c4a1f6b2d930","text":"Last orders at the bar!\nKitchen closes at 23:00.","sent_at":"2026-11-21T22:30:00.000Z"}"#)
        guard case .order(let m) = message else { Issue.record("not an order"); return }
        #expect(m.text == "Last orders at the bar!\nKitchen closes at 23:00.")
        #expect(message.action == .message && message.station == Self.pc)
    }

    @Test func orderEncodingIsByteExact() {
        let logout = ControlMessage.order(.init(station: Self.pc, command: "c1", action: .logout, text: "ignored", sentAt: "2026-11-21T20:00:00.000Z"))
        #expect(String(decoding: logout.payload, as: UTF8.self)
            == #"{"action":"logout","command":"c1","sent_at":"2026-11-21T20:00:00.000Z","station":"PC-01"}"#)
        let message = ControlMessage.order(.init(station: Self.pc, command: "c2", action: .message, text: "hi\nyou", sentAt: "2026-11-21T20:00:00.000Z"))
        #expect(String(decoding: message.payload, as: UTF8.self)
            == #"{"action":"message","command":"c2","sent_at":"2026-11-21T20:00:00.000Z","station":"PC-01","text":"hi\nyou"}"#)
    }

    // MARK: - The agent's report

    @Test func reportsOfTopicsMD() throws {
        let done = try documented(AgentReportMessage.self,
            #"{"type":"order.done","station":"PC-01","command":"0b6f3a52-7c1e-4d0a-9a53-2f1d5e8c4b7a","action":"shutdown","sent_at":"2026-11-21T22:00:00.120Z"}"#)
        #expect(done.report == .orderDone(command: "0b6f3a52-7c1e-4d0a-9a53-2f1d5e8c4b7a", action: .shutdown))
        let failed = try documented(AgentReportMessage.self,
            #"{"type":"order.failed","station":"PC-01","command":"9e4b1c7d-2a35-4f88-b0d6-71c3e5a9f214","action":"logout","detail":"no desktop session to end","sent_at":"2026-11-21T22:05:00.300Z"}"#)
        #expect(failed.report == .orderFailed(command: "9e4b1c7d-2a35-4f88-b0d6-71c3e5a9f214", action: .logout, detail: "no desktop session to end"))
        let tamper = try documented(AgentReportMessage.self,
            #"{"type":"tamper","station":"PC-01","reason":"window_unmapped","sent_at":"2026-11-21T22:10:00.000Z"}"#)
        #expect(tamper.report == .tamper(.windowUnmapped) && tamper.station == Self.pc)
    }

    @Test func reportEncodingIsByteExact() {
        let done = AgentReportMessage(station: Self.pc, report: .orderDone(command: "c1", action: .restart), sentAt: "2026-11-21T20:00:00.000Z")
        #expect(String(decoding: done.payload, as: UTF8.self)
            == #"{"action":"restart","command":"c1","sent_at":"2026-11-21T20:00:00.000Z","station":"PC-01","type":"order.done"}"#)
        let tamper = AgentReportMessage(station: Self.pc, report: .tamper(.grabLost), sentAt: "2026-11-21T20:00:00.000Z")
        #expect(String(decoding: tamper.payload, as: UTF8.self)
            == #"{"reason":"grab_lost","sent_at":"2026-11-21T20:00:00.000Z","station":"PC-01","type":"tamper"}"#)
    }

    @Test(arguments: [
        #"{"type":"order.done","station":"PC-01","command":"c","action":"dance","sent_at":"x"}"#,
        #"{"type":"order.failed","station":"PC-01","command":"c","action":"logout","sent_at":"x"}"#,
        #"{"type":"tamper","station":"PC-01","reason":"cosmic_rays","sent_at":"x"}"#,
        #"{"type":"boast","station":"PC-01","sent_at":"x"}"#,
        #"{"type":"tamper","station":"PC+01","reason":"grab_lost","sent_at":"x"}"#,
        #"{"type":"tamper","reason":"grab_lost","sent_at":"x"}"#,
    ])
    func malformedReportsAreRefused(_ text: String) throws {
        #expect(throws: MessageDecodingError.self) { try AgentReportMessage(json: try json(text)) }
    }

    @Test func everyTamperReasonAndOrderActionIsDocumented() {
        for value in TamperReason.allCases.map(\.rawValue) + OrderAction.allCases.map(\.rawValue) + AgentReportMessage.Kind.allCases.map(\.rawValue) {
            #expect(Self.topicsMD.contains("`\(value)`"), "\(value) is not in topics.md")
        }
    }
}
