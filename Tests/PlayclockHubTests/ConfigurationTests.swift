import Foundation
import PlayclockContract
import PlayclockCore
import Testing

@testable import PlayclockHub

@Suite struct ConfigurationTests {
    let dir: TemporaryDatabase

    init() throws { dir = try TemporaryDatabase() }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir.directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aFullConfigFileIsApplied() throws {
        let password = try write("pw", "s3cret\nignored second line\n")
        let path = try write("c.json", """
            {"broker": "mqtt://10.0.0.2:1884", "username": "hub", "password_file": "\(password)",
             "database": "/var/lib/playclock/x.sqlite", "topic_root": "venue/a", "client_id": "hub-1",
             "policy": {"warn_thresholds_s": [60, 300, 60], "countdown_interval_s": 5, "heartbeat_interval_s": 2,
                        "missed_heartbeats": 4, "expired_hold_s": 0, "max_session_minutes": 600, "max_request_bytes": 4096}}
            """)
        var config = HubConfiguration()
        try config.apply(configFile: path)
        #expect(config.brokerURL == "mqtt://10.0.0.2:1884")
        #expect(config.username == "hub")
        #expect(config.password == "s3cret")
        #expect(config.topicRoot == "venue/a")
        #expect(config.clientID == "hub-1")
        #expect(config.policy.warnThresholdsSeconds == [300, 60])
        #expect(config.policy.countdownIntervalSeconds == 5)
        #expect(config.policy.offlineAfterNanos == 8_000_000_000)
        #expect(config.policy.expiredHoldSeconds == 0)
        #expect(config.policy.maxSessionSeconds == 36_000)
        #expect(config.policy.maxRequestBytes == 4096)
    }

    @Test(arguments: [
        (#"{"brokr": "mqtt://x"}"#, "unknown key \"brokr\""),
        (#"{"policy": {"warn_threshold_s": [60]}}"#, "unknown policy key \"warn_threshold_s\""),
        (#"{"policy": {"countdown_interval_s": 0}}"#, "countdown_interval_s"),
        (#"{"policy": {"missed_heartbeats": -1}}"#, "missed_heartbeats"),
        (#"{"policy": {"warn_thresholds_s": [60, "x"]}}"#, "warn_thresholds_s"),
        (#"{"broker": ""}"#, "\"broker\" must be a non-empty string"),
        (#"[1, 2]"#, "is not a JSON object"),
        (#"{"broker": "mqtt://elsewhere:1", "policy": {"expired_hold_s": -5}}"#, "expired_hold_s"),
        (#"{"password_file": "/nonexistent/pw"}"#, "cannot read password file"),
        (#"{"policy": {"plug_max_watts": 1e308}}"#, "plug_max_watts"),
        (#"{"policy": {"plug_max_watts": "4000"}}"#, "plug_max_watts"),
        (#"{"policy": {"plug_active_watts": 500, "plug_max_watts": 400}}"#, "must be below"),
        (#"{"http": {"listen": "8080"}}"#, "HOST:PORT"),
        (#"{"http": {"listen": "127.0.0.1:70000"}}"#, "HOST:PORT"),
        (#"{"http": {"listen": "::1:8080"}}"#, "HOST:PORT"),
        (#"{"http": {"session_hours": 0}}"#, "session_hours"),
        (#"{"http": {"secure_cookies": "yes"}}"#, "secure_cookies"),
        (#"{"http": {"port": 8080}}"#, "unknown http key \"port\""),
        (#"{"http": {"max_connections": 1}}"#, "max_connections"),
        (#"{"http": {"max_connections": 100000}}"#, "max_connections"),
        (#"{"http": {"max_connections": "many"}}"#, "max_connections"),
        (#"{"http": {"max_live_feeds": 0}}"#, "max_live_feeds"),
        (#"{"http": {"max_connections": 8, "max_live_feeds": 8}}"#, "below max_connections"),
        (#"{"http": {"max_live_feeds": 256}}"#, "max_live_feeds"),
        (#"{"http": {"trusted_proxies": "127.0.0.1"}}"#, "trusted_proxies"),
        (#"{"http": {"trusted_proxies": ["proxy.lan"]}}"#, "not an IP address"),
        (#"{"http": "127.0.0.1:8080"}"#, "must be an object"),
        (#"{"events": {"retention_days": 0}}"#, #"events "retention_days" must be a whole number in 1...3650"#),
        (#"{"events": {"retention_days": 3651}}"#, "retention_days"),
        (#"{"events": {"retention_days": 1.5}}"#, "retention_days"),
        (#"{"events": {"retention_days": "90"}}"#, "retention_days"),
        (#"{"events": {"max_rows": 999}}"#, #"events "max_rows" must be a whole number in 1000...100000000"#),
        (#"{"events": {"max_rows": -1}}"#, "max_rows"),
        (#"{"events": {"max_row": 5000}}"#, #"unknown events key "max_row""#),
        (#"{"events": 90}"#, #""events" must be an object"#),
        (#"{"events": {"max_rows": 5000, "retention_days": 0}}"#, "retention_days"),
    ])
    func badConfigFilesAreRefusedWithAClearMessage(text: String, expected: String) throws {
        let path = try write("bad.json", text)
        var config = HubConfiguration()
        let before = config
        #expect {
            try config.apply(configFile: path)
        } throws: { error in
            (error as? HubConfiguration.Error)?.description.contains(expected) == true
        }
        #expect(config == before, "a refused file changes nothing")
    }

    @Test func venueFilesAreValidatedEntryByEntry() throws {
        let good = try write("venue.json", #"{"stations": [{"station": "PC-01"}, {"station": "PS5-1", "name": "PS5", "kind": "console"}]}"#)
        let stations = try HubConfiguration.readVenue(good)
        #expect(stations.map(\.id.value) == ["PC-01", "PS5-1"])
        #expect(stations[0].name == "PC-01")
        #expect(stations[1].kind == .console)

        for (text, expected) in [
            (#"{"stations": [{"station": "PC/01"}]}"#, "entry 0"),
            (#"{"stations": [{"station": "PC-01"}, {"station": "PC-01"}]}"#, "appears twice"),
            (#"{"stations": [{"station": "PC-01", "kind": "Big PC"}]}"#, "kind"),
            (#"{"rooms": []}"#, "\"stations\" list"),
        ] {
            let path = try write("v.json", text)
            #expect {
                try HubConfiguration.readVenue(path)
            } throws: { error in
                (error as? HubConfiguration.Error)?.description.contains(expected) == true
            }
        }
    }

    @Test func venueFilesMayGiveZones() throws {
        let path = try write("zones.json", #"""
            {"stations": [{"station": "PC-01", "zone": "PC floor"}, {"station": "PC-02", "zone": " VIP room "},
                          {"station": "PS5-1", "kind": "console", "zone": "Console lounge",
                           "plug": {"type": "tasmota", "topic": "ps5-plug-1"}},
                          {"station": "PC-03", "zone": null}, {"station": "PC-04"}]}
            """#)
        let stations = try HubConfiguration.readVenue(path)
        #expect(stations.map(\.zone) == ["PC floor", "VIP room", "Console lounge", nil, nil])
        #expect(stations[2].plug == .tasmota(topic: "ps5-plug-1", relay: 1))
        #expect(stations.allSatisfy { !$0.powerHold })

        for zone in [#""""#, #""\u0007bell""#, "\"" + String(repeating: "z", count: 33) + "\"", "5"] {
            let bad = try write("bad-zone.json", #"{"stations": [{"station": "PC-01"}, {"station": "PC-02", "zone": \#(zone)}]}"#)
            #expect {
                try HubConfiguration.readVenue(bad)
            } throws: { error in
                let text = (error as? HubConfiguration.Error)?.description ?? ""
                return text.contains("entry 1") && text.contains("\"zone\"")
            }
        }
    }

    @Test func theSampleVenueHasZones() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("samples/venue.json").path
        let stations = try HubConfiguration.readVenue(sample)
        #expect(stations.count == 12)
        #expect(stations.allSatisfy { $0.zone != nil })
        #expect(Set(stations.compactMap(\.zone)) == ["PC floor", "VIP room", "Console lounge"])
        #expect(stations.filter { $0.kind == .console }.allSatisfy { $0.zone == "Console lounge" })
    }

    @Test func emptyPasswordFileIsRefused() throws {
        let path = try write("empty", "\n")
        #expect(throws: HubConfiguration.Error.self) { try HubConfiguration.readPassword(path) }
    }

    @Test func theHTTPSectionConfiguresTheDashboard() throws {
        let path = try write("h.json", """
            {"http": {"listen": "0.0.0.0:9090", "users_file": "/etc/playclock/dashboard.passwd",
                      "board_token_file": "/etc/playclock/board.token", "session_hours": 8, "secure_cookies": true}}
            """)
        var config = HubConfiguration()
        #expect(config.http.listen == HubConfiguration.HostPort(host: "127.0.0.1", port: 8080))
        try config.apply(configFile: path)
        #expect(config.http.listen == HubConfiguration.HostPort(host: "0.0.0.0", port: 9090))
        #expect(config.http.usersFile == "/etc/playclock/dashboard.passwd")
        #expect(config.http.boardTokenFile == "/etc/playclock/board.token")
        #expect(config.http.sessionHours == 8)
        #expect(config.http.secureCookies)

        #expect(config.http.maxConnections == 256)
        #expect(config.http.maxLiveFeeds == 64)

        try config.setHTTPListen("off")
        #expect(config.http.listen == nil)
        try config.setHTTPListen("[::1]:8081")
        #expect(config.http.listen?.description == "[::1]:8081")
    }

    @Test func connectionAndLiveFeedCapsAreConfigurable() throws {
        var config = HubConfiguration()
        try config.apply(configFile: try write("caps.json", #"{"http": {"max_connections": 512, "max_live_feeds": 100}}"#))
        #expect(config.http.maxConnections == 512)
        #expect(config.http.maxLiveFeeds == 100)
        // A small connection cap alone keeps feeds below it.
        var small = HubConfiguration()
        try small.apply(configFile: try write("small.json", #"{"http": {"max_connections": 40}}"#))
        #expect(small.http.maxConnections == 40)
        #expect(small.http.maxLiveFeeds == 10)
        var proxied = HubConfiguration()
        try proxied.apply(configFile: try write("proxy.json", #"{"http": {"trusted_proxies": ["127.0.0.1", "::1"]}}"#))
        #expect(proxied.http.trustedProxies == ["127.0.0.1", "::1"])
        #expect(HubConfiguration().http.trustedProxies.isEmpty)
    }

    @Test func theEventsSectionBoundsTheEventLog() throws {
        var config = HubConfiguration()
        #expect(config.events.retentionDays == 90)
        #expect(config.events.maxRows == 1_000_000)
        #expect(config.events.cutoffWallMillis(now: 100 * 86_400_000) == 10 * 86_400_000)
        let path = try write("e.json", #"{"events": {"retention_days": 30, "max_rows": 50000}}"#)
        try config.apply(configFile: path)
        #expect(config.events.retentionDays == 30)
        #expect(config.events.maxRows == 50_000)
        #expect(config.events.cutoffWallMillis(now: 31 * 86_400_000) == 86_400_000)
        // One key alone keeps the other's default.
        var partial = HubConfiguration()
        try partial.apply(configFile: try write("e1.json", #"{"events": {"max_rows": 2000}}"#))
        #expect(partial.events.retentionDays == 90)
        #expect(partial.events.maxRows == 2000)
    }

    @Test func theShippedSampleConfigIsValid() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("samples/playclockd.json").path
        var config = HubConfiguration()
        try config.apply(configFile: sample)
        #expect(config.http.usersFile == "/etc/playclock/dashboard.passwd")
        #expect(config.access.roles["ann"] == .cashier)
        #expect(config.events.retentionDays == 90)
        #expect(config.events.maxRows == 1_000_000)
    }
}
