import Foundation
import PlayclockAgent
import PlayclockContract
import Testing

@Suite("Agent configuration")
struct AgentConfigurationTests {
    func load(_ text: String?, _ overrides: AgentConfiguration.Overrides = .init()) throws(AgentConfigurationError) -> AgentConfiguration {
        try AgentConfiguration.load(file: text.map { Array($0.utf8) }, overrides: overrides)
    }

    @Test func theSampleShapeLoadsAndFlagsWin() throws {
        let c = try load("""
            {"broker":"mqtts://hub.venue.lan:8883","station":"PC-01","station_name":"PC 01","venue_name":"Pixel Arena",
             "topic_root":"venue1","username":"PC-01","password_file":"/etc/playclock/agent.password",
             "tls_ca_file":"/etc/playclock/venue-ca.pem","lease_file":"/var/lib/playclock-agent/lease.json",
             "heartbeat_interval_s":5,"warn_thresholds_s":[600,300,60],"orange_below_s":900,"red_below_s":120,
             "notice_s":15,"message_s":45,"logout_on_lock":true,"session_command":["openbox-session"],
             "commands":{"logout":null,"shutdown":["systemctl","poweroff"],"restart":["systemctl","reboot"]},
             "texts":{"expired":"Game over - see the desk","maintenance_detail":"Back soon","overlay_offline":"Offline"}}
            """, .init(broker: "mqtt://127.0.0.1:18830", station: "PC-02"))
        #expect(c.broker == "mqtt://127.0.0.1:18830")
        #expect(c.station == StationID("PC-02"))
        #expect(c.topicRoot == "venue1")
        #expect(c.policy.warnThresholdsSeconds == [600, 300, 60])
        #expect(c.commands[.shutdown] == ["systemctl", "poweroff"])
        #expect(c.commands[.logout] == nil)
        #expect(c.sessionCommand == ["openbox-session"])
        let s = c.settings(version: "1.0", user: "kiosk")
        #expect(s.policy.texts.headlines[.expired] == "Game over - see the desk")
        #expect(s.policy.texts.details[.maintenance] == "Back soon")
        #expect(s.policy.texts.overlayOffline == "Offline")
        #expect(s.topics.control(s.station) == "venue1/stations/PC-02/control")
        #expect(s.policy.logoutOnLock)
    }

    @Test func flagsAloneAreEnough() throws {
        let c = try load(nil, .init(station: "PC-07"))
        #expect(c.broker == "mqtt://127.0.0.1:1883")
        #expect(c.policy.heartbeatIntervalSeconds == 5)
        #expect(c.commands == [.shutdown: ["systemctl", "poweroff"], .restart: ["systemctl", "reboot"]])
    }

    @Test func aNullCommandTurnsThatOrderOff() throws {
        let c = try load(#"{"station":"PC-01","commands":{"shutdown":null,"logout":["loginctl","terminate-user","kiosk"]}}"#)
        #expect(c.commands == [.restart: ["systemctl", "reboot"], .logout: ["loginctl", "terminate-user", "kiosk"]])
    }

    @Test func signInIsOnByDefaultAndCanBeTurnedOffAndWorded() throws {
        #expect(try load(#"{"station":"PC-01"}"#).policy.signInEnabled)
        #expect(try load(#"{"station":"PC-01","sign_in":true}"#).policy.signInEnabled)
        let off = try load(#"{"station":"PC-01","sign_in":false}"#)
        #expect(!off.policy.signInEnabled)
        #expect(!off.settings(version: "1", user: nil).policy.signInEnabled)
        let worded = try load(#"{"station":"PC-01","texts":{"sign_in_title":"Mitglieder-Anmeldung","sign_out":"Abmelden","sign_in_no_answer":"Keine Antwort"}}"#)
        #expect(worded.policy.texts.signInTitle == "Mitglieder-Anmeldung")
        #expect(worded.policy.texts.signOut == "Abmelden")
        #expect(worded.policy.texts.signInNoAnswer == "Keine Antwort")
        #expect(AgentTexts.keys.contains("sign_out_pending"))
    }

    @Test func theShippedSampleLoads() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("samples/agent.json")
        let c = try AgentConfiguration.load(file: Array(try Data(contentsOf: sample)), overrides: .init())
        #expect(c.station == StationID("PC-01"))
        #expect(c.leaseFile == "/var/lib/playclock-agent/lease.json")
        #expect(c.sessionCommand?.first == "openbox")
        #expect(c.policy.signInEnabled)
    }

    @Test(arguments: [
        (nil as String?, "no station"),
        ("not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (#"{"station":"PC-01","heartbeat_intervl_s":5}"#, "unknown key \"heartbeat_intervl_s\""),
        (#"{"station":"PC/01"}"#, "not a valid station id"),
        (#"{"station":"PC-01","broker":"http://x"}"#, "must be mqtt://"),
        (#"{"station":"PC-01","topic_root":"a/#"}"#, "topic root"),
        (#"{"station":"PC-01","heartbeat_interval_s":0}"#, "heartbeat_interval_s"),
        (#"{"station":"PC-01","heartbeat_interval_s":1e308}"#, "heartbeat_interval_s"),
        (#"{"station":"PC-01","warn_thresholds_s":[60,-1]}"#, "warn_thresholds_s"),
        (#"{"station":"PC-01","orange_below_s":100,"red_below_s":200}"#, "red_below_s"),
        (#"{"station":"PC-01","logout_on_lock":"yes"}"#, "logout_on_lock"),
        (#"{"station":"PC-01","sign_in":"no"}"#, "\"sign_in\" must be true or false"),
        (#"{"station":"PC-01","sign_in":0}"#, "\"sign_in\" must be true or false"),
        (#"{"station":"PC-01","sign_in":null}"#, "\"sign_in\" must be true or false"),
        (#"{"station":"PC-01","signin":false}"#, "unknown key \"signin\""),
        (#"{"station":"PC-01","texts":{"sign_in_title":""}}"#, "texts.sign_in_title"),
        (#"{"station":"PC-01","session_command":"openbox"}"#, "session_command"),
        (#"{"station":"PC-01","session_command":[]}"#, "session_command"),
        (#"{"station":"PC-01","commands":{"dance":["x"]}}"#, "unknown command \"dance\""),
        (#"{"station":"PC-01","texts":{"expird":"x"}}"#, "unknown text \"expird\""),
        (#"{"station":"PC-01","texts":{"expired":"line\nbreak"}}"#, "texts.expired"),
        (#"{"station":"PC-01","venue_name":""}"#, "venue_name"),
    ])
    func brokenConfigsAreRefusedWithAClearMessage(text: String?, fragment: String) {
        do {
            _ = try load(text)
            Issue.record("accepted: \(text ?? "nil")")
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test func parsesHubTimes() {
        #expect(ISO8601.millis(from: "2026-11-21T20:00:00.000Z") == 1_795_291_200_000)
        for ms: Int64 in [0, 1_795_291_200_123, 951_782_400_999, -86_400_000] {
            #expect(ISO8601.millis(from: ISO8601.string(fromMillis: ms)) == ms)
        }
        for bad in ["", "2026-11-21T20:00:00Z", "2026-02-30T00:00:00.000Z", "2026-11-21T24:00:00.000Z", "2026-11-21 20:00:00.000Z",
                    "20x6-11-21T20:00:00.000Z"] {
            #expect(ISO8601.millis(from: bad) == nil, "\(bad)")
        }
    }
}
