import Foundation
import Hummingbird
import PlayclockContract
import PlayclockCore
import Testing

@testable import PlayclockHub
@testable import PlayclockWeb

@Suite struct SignInTests {
    @Test func staffSignInSetsAStrictHttpOnlyCookieAndMeAnswersWithTheRole() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            try await client.execute(
                uri: "/api/login", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"account":"ann","password":"correct horse"}"#)
            ) { response in
                #expect(response.status == .ok)
                let cookie = try #require(response.headers[.setCookie])
                #expect(cookie.hasPrefix("playclock_session="))
                #expect(cookie.contains("HttpOnly"))
                #expect(cookie.contains("SameSite=Strict"))
                #expect(!cookie.contains("Secure"))
            }
            let cookie = try await client.signIn("ann")
            let me = try await client.get("/api/me", cookie: cookie)
            #expect(me.status == .ok)
            #expect(me.json?["account"] == "ann")
            #expect(me.json?["role"] == "cashier")
            #expect(me.json?["read_only"] == false)
            #expect(me.json?["verbs"] == ["station/list", "station/get", "session/start", "session/extend", "session/pause",
                                          "session/resume", "session/stop", "pricing/get", "price/quote", "member/add",
                                          "member/get", "member/find", "member/topup", "member/set-pin", "product/list",
                                          "sale/create", "shift/open", "shift/close", "shift/payin", "shift/payout", "shift/get"])
        }
    }

    @Test func wrongPasswordsUnknownAccountsAndAccountsWithoutARoleAreRefused() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            for (body, status, code) in [
                (#"{"account":"ann","password":"wrong horse"}"#, HTTPResponse.Status.unauthorized, "invalid_credentials"),
                (#"{"account":"eve","password":"correct horse"}"#, .unauthorized, "invalid_credentials"),
                // No role: the same answer as a wrong password (nothing tells accounts apart).
                (#"{"account":"nobody","password":"correct horse"}"#, .unauthorized, "invalid_credentials"),
                (#"{"account":"ann"}"#, .badRequest, "invalid_request"),
                (#"{"account":"ann","password":"#, .badRequest, "invalid_request"),
            ] {
                try await client.execute(uri: "/api/login", method: .post, headers: [.contentType: "application/json"],
                                         body: ByteBuffer(string: body)) { response in
                    #expect(response.status == status, "\(body)")
                    #expect(response.headers[.setCookie] == nil, "\(body)")
                    let json = try? JSONCoding.decode(Array(response.body.readableBytesView))
                    #expect(json?["error"]?["code"] == .string(code), "\(body)")
                }
            }
            // A form post (not JSON) is refused before anything is checked.
            try await client.execute(uri: "/api/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: "account=ann&password=correct+horse")) { response in
                #expect(response.status == .unsupportedMediaType)
            }
            #expect(try await client.get("/api/me").status == .unauthorized)
            #expect(try await client.get("/api/me", cookie: "playclock_session=forged").status == .unauthorized)
        }
    }

    @Test func signOutEndsTheSession() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            let cookie = try await client.signIn("max")
            try await client.execute(uri: "/api/logout", method: .post, headers: [.cookie: cookie, .contentType: "application/json"]) {
                #expect($0.status == .ok)
                #expect($0.headers[.setCookie]?.contains("Max-Age=0") == true)
            }
            #expect(try await client.get("/api/me", cookie: cookie).status == .unauthorized)
        }
    }
}

@Suite struct CommandRouteTests {
    @Test func aCashierStartsASessionThroughTheHubsOwnHandlerAndIsNamedInTheAudit() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            let cookie = try await client.signIn("ann")
            let started = try await client.command("session/start", #"{"station":"PC-01","minutes":30,"transaction":"t-1"}"#, cookie: cookie)
            #expect(started.status == .ok)
            #expect(started.json?["status"] == "ok")
            #expect(started.json?["transaction"] == "t-1")
            #expect(started.json?["data"]?["session"]?["granted_s"] == .int(1800))

            // The same effects as a request over MQTT: stored, unlocked, state published.
            #expect(try fixture.store.runningSessions().map(\.station.value) == ["PC-01"])
            #expect(fixture.transport.json(on: "playclock/stations/PC-01/control").last?["action"] == "unlock")
            #expect(fixture.transport.json(on: "playclock/stations/PC-01/state").last?["status"] == "active")

            let events = try await client.get("/api/events?station=PC-01&limit=10", cookie: cookie)
            let started_ = events.json?["events"]?.arrayValue?.first { $0["type"] == "session.started" }
            #expect(started_?["data"]?["by"] == "ann")
        }
    }

    @Test func roleLimitsApplyAndARefusalIsAuditedAndChangesNothing() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            let ann = try await client.signIn("ann")
            let maintenance = try await client.command("station/maintenance", #"{"station":"PC-02","enabled":true}"#, cookie: ann)
            #expect(maintenance.status == .forbidden)
            #expect(maintenance.json?["error"]?["code"] == "forbidden")
            #expect(maintenance.json?["error"]?["message"]?.stringValue?.contains("needs manager") == true)

            let vic = try await client.signIn("vic")
            let start = try await client.command("session/start", #"{"station":"PC-02","minutes":30}"#, cookie: vic)
            #expect(start.status == .forbidden)
            #expect(try fixture.store.runningSessions().isEmpty)
            #expect(try fixture.store.stations().first { $0.id.value == "PC-02" }?.maintenance == false)

            let rejected = try fixture.store.events().filter { $0.type == "command.rejected" }
            #expect(rejected.compactMap { $0.data["by"]?.stringValue }.sorted() == ["ann", "vic"])

            let max = try await client.signIn("max")
            #expect(try await client.command("station/maintenance", #"{"station":"PC-02","enabled":true}"#, cookie: max).status == .ok)
        }
    }

    @Test func badInputGetsAClearErrorAndChangesNothing() async throws {
        var policy = HubPolicy()
        policy.maxRequestBytes = 512
        let fixture = try DashboardFixture(policy: policy)
        try await fixture.test { client in
            let cookie = try await client.signIn("max")
            _ = try await client.command("session/start", #"{"station":"PC-03","minutes":60}"#, cookie: cookie)
            let before = try fixture.store.runningSessions()
            let cases: [(String, String, HTTPResponse.Status, String)] = [
                ("session/start", #"{"station":"PC-01","minutes":"#, .badRequest, "invalid_json"),
                ("session/start", #"{"station":"PC-01","minutes":-5}"#, .badRequest, "invalid_duration"),
                ("session/start", #"{"station":"PC-01","minutes":100000}"#, .badRequest, "invalid_duration"),
                ("session/start", #"{"station":"PC+01","minutes":5}"#, .badRequest, "invalid_station_id"),
                ("session/start", #"{"station":"PC/01","minutes":5}"#, .badRequest, "invalid_station_id"),
                ("session/start", #"{"station":"PC-99","minutes":5}"#, .notFound, "unknown_station"),
                ("session/start", #"{"station":"PC-03","minutes":5}"#, .conflict, "station_busy"),
                ("session/launch", #"{"station":"PC-01"}"#, .badRequest, "unknown_verb"),
                ("session/extend", #"{"station":"PC-03","seconds":1.5}"#, .badRequest, "invalid_duration"),
                ("station/remove", #"{"station":"PC-03"}"#, .conflict, "station_busy"),
                ("session/start", #"{"station":"PC-01","minutes":5,"pad":"\#(String(repeating: "x", count: 2000))"}"#,
                 .contentTooLarge, "payload_too_large"),
            ]
            for (verb, body, status, code) in cases {
                let result = try await client.command(verb, body, cookie: cookie)
                #expect(result.status == status, "\(verb) \(body.prefix(60))")
                #expect(result.json?["status"] == "error", "\(verb) \(body.prefix(60))")
                #expect(result.json?["error"]?["code"] == .string(code), "\(verb) \(body.prefix(60))")
            }
            let notJSON = try await client.command("session/start", #"{"station":"PC-01","minutes":5}"#, cookie: cookie, contentType: "text/plain")
            #expect(notJSON.status == .unsupportedMediaType)
            #expect(try fixture.store.runningSessions() == before)
            #expect(try fixture.store.stations().count == 3)
        }
    }

    @Test func withoutSignInNothingIsReadOrChanged() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            #expect(try await client.get("/api/stations").status == .unauthorized)
            #expect(try await client.get("/api/events").status == .unauthorized)
            #expect(try await client.get("/api/live").status == .unauthorized)
            let start = try await client.command("session/start", #"{"station":"PC-01","minutes":5}"#, cookie: nil)
            #expect(start.status == .unauthorized)
            #expect(try fixture.store.runningSessions().isEmpty)
        }
    }
}

@Suite struct BoardAndOperationsTests {
    @Test func theBoardTokenReadsTheFloorButCannotAct() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            let stations = try await client.get("/api/stations?token=\(DashboardFixture.boardToken)")
            #expect(stations.status == .ok)
            #expect(stations.json?["stations"]?.arrayValue?.compactMap { $0["station"]?.stringValue } == ["PC-01", "PC-02", "PC-03"])
            let bearer = try await client.get("/api/me", headers: [.authorization: "Bearer \(DashboardFixture.boardToken)"])
            #expect(bearer.json?["read_only"] == true)
            #expect(bearer.json?["verbs"] == [])
            #expect(try await client.get("/api/stations?token=wrong-token-0123456789").status == .unauthorized)

            let act = try await client.execute(
                uri: "/api/request/session/start?token=\(DashboardFixture.boardToken)", method: .post,
                headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"station":"PC-01","minutes":5}"#)
            ) { $0.status }
            #expect(act == .forbidden)
            #expect(try fixture.store.runningSessions().isEmpty)
        }
    }

    @Test func pagesAndAssetsAreServedFromTheBinaryWithASelfOnlyPolicy() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            for (path, type, marker) in [
                ("/", "text/html", "id=\"login-form\""), ("/board", "text/html", "board.js"),
                ("/assets/app.js", "text/javascript", "/api/request/"), ("/assets/common.js", "text/javascript", "EventSource"),
                ("/assets/board.js", "text/javascript", "LiveFloor"), ("/assets/style.css", "text/css", ".tile"),
            ] {
                let page = try await client.get(path)
                #expect(page.status == .ok, "\(path)")
                #expect(page.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true, "\(path)")
                #expect(page.text.contains(marker), "\(path)")
                // Nothing is loaded from outside the hub (venues run offline).
                #expect(!page.text.contains("https://"), "\(path)")
            }
            #expect(try await client.get("/assets/missing.js").status == .notFound)
        }
    }

    @Test func healthzTellsWhetherTheHubHasItsBroker() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            let down = try await client.get("/healthz")
            #expect(down.status == .serviceUnavailable)
            #expect(down.json?["broker"] == "disconnected")
            await fixture.hub.connected()
            let up = try await client.get("/healthz")
            #expect(up.status == .ok)
            #expect(up.json?["status"] == "ok")
            #expect(up.json?["stations"] == 3)
        }
    }

    @Test func metricsCountCommandsSessionsAndMessages() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            await fixture.hub.connected()
            let cookie = try await client.signIn("ann")
            _ = try await client.command("session/start", #"{"station":"PC-01","minutes":30}"#, cookie: cookie)
            _ = try await client.command("session/start", #"{"station":"PC-01","minutes":30}"#, cookie: cookie)
            let metrics = try await client.get("/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let lines = metrics.text.split(separator: "\n").map(String.init)
            #expect(lines.contains("playclock_sessions_active 1.0"))
            #expect(lines.contains("playclock_stations 3.0"))
            #expect(lines.contains("playclock_broker_connected 1.0"))
            #expect(lines.contains(#"playclock_stations_by_status{status="active"} 1.0"#))
            #expect(lines.contains { $0.hasPrefix("playclock_commands_total{") && $0.contains(#"verb="session/start""#)
                && $0.contains(#"result="ok""#) && $0.hasSuffix(" 1") })
            #expect(lines.contains { $0.hasPrefix("playclock_commands_total{") && $0.contains(#"result="refused""#) && $0.hasSuffix(" 1") })
            #expect(lines.contains { $0.hasPrefix("playclock_command_duration_seconds_count{") && $0.contains(#"source="http""#) })
            #expect(lines.contains { $0.hasPrefix("playclock_mqtt_messages_published_total") && !$0.hasSuffix(" 0") })
        }
    }

    @Test func eventsAreNewestFirstAndFilteredByStation() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            let cookie = try await client.signIn("max")
            _ = try await client.command("session/start", #"{"station":"PC-01","minutes":30}"#, cookie: cookie)
            _ = try await client.command("session/start", #"{"station":"PC-02","minutes":30}"#, cookie: cookie)
            _ = try await client.command("session/stop", #"{"station":"PC-01"}"#, cookie: cookie)
            let all = try #require(try await client.get("/api/events?limit=1000", cookie: cookie).json?["events"]?.arrayValue)
            let ids = all.compactMap { $0["id"]?.intValue }
            #expect(ids == ids.sorted(by: >))
            let pc1 = try #require(try await client.get("/api/events?station=PC-01", cookie: cookie).json?["events"]?.arrayValue)
            #expect(!pc1.isEmpty && pc1.allSatisfy { $0["station"] == "PC-01" })
            #expect(pc1.first?["type"] == "station.locked" || pc1.first?["type"] == "session.stopped")
            #expect(try await client.get("/api/events?station=PC%2B1", cookie: cookie).status == .badRequest)
            #expect(try await client.get("/api/events?limit=0", cookie: cookie).status == .badRequest)
        }
    }
}
