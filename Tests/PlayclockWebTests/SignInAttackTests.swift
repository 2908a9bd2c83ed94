import Foundation
import HTTPTypes
import Hummingbird
import PlayclockAuth
import PlayclockContract
import PlayclockCore
import Synchronization
import Testing

@testable import PlayclockHub
@testable import PlayclockWeb

/// A password check that waits at a gate until the test opens it, counting who came in: the
/// test holds the first checks "in flight" while the rest of a burst arrives.
final class GatedVerifier: Sendable {
    private let open = Mutex(false)
    private let entered = Mutex(0)

    var count: Int { entered.withLock { $0 } }
    func release() { open.withLock { $0 = true } }

    var verifier: @Sendable (StaffPasswordFile, String, String) async -> Bool {
        { [self] file, account, password in
            entered.withLock { $0 += 1 }
            // Bounded so that code which lets the whole burst in still ends (and fails) rather than hangs.
            let deadline = ContinuousClock.now + .seconds(20)
            while !open.withLock({ $0 }), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(5))
            }
            return file.verify(password, for: account)
        }
    }
}

final class SharedCount: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}

private func loginBody(_ account: String, _ password: String) -> ByteBuffer {
    ByteBuffer(bytes: JSONCoding.encode(["account": .string(account), "password": .string(password)]))
}

extension WebTestClient {
    func login(_ account: String, _ password: String) async throws -> TestResponse {
        try await execute(uri: "/api/login", method: .post, headers: [.contentType: "application/json"], body: loginBody(account, password)) { $0 }
    }
}

private func rawLogin(port: Int, from source: String, _ account: String, _ password: String) async throws -> RawHTTP.Reply {
    try await RawHTTP.exchange(port: port, from: source, method: "POST", path: "/api/login", headers: ["Content-Type": "application/json"],
                               body: String(decoding: JSONCoding.encode(["account": .string(account), "password": .string(password)]), as: UTF8.self))
}

private func proxyLogin(_ client: WebTestClient, forwardedFor forwarded: String, _ password: String) async throws -> HTTPResponse.Status {
    try await client.execute(uri: "/api/login", method: .post,
                             headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: forwarded],
                             body: loginBody("max", password)) { $0.status }
}

@Suite(.serialized) struct SignInAttackTests {
    @Test(.timeLimit(.minutes(2))) func sixtyOneSimultaneousGuessesGetAHandfulOfChecksAndTheStaffMemberStillSignsIn() async throws {
        let gate = GatedVerifier()
        let fixture = try DashboardFixture(verifier: gate.verifier)
        try await fixture.test { client in
            let answered = SharedCount()
            let burst = Task {
                try await withThrowingTaskGroup(of: TestResponse.self) { group in
                    for i in 0..<60 {
                        group.addTask {
                            let response = try await client.login("max", "guess number \(i)")
                            answered.add()
                            return response
                        }
                    }
                    var all: [TestResponse] = []
                    for try await response in group { all.append(response) }
                    return all
                }
            }
            // Every wrong guess has either been answered or is being checked...
            #expect(await eventually(within: 60) { answered.value + gate.count >= 60 })
            // ...when the right password arrives from the same address: it is not checked.
            let right = try await client.login("max", DashboardFixture.password)
            #expect(right.status == .tooManyRequests)
            #expect(right.headers[.setCookie] == nil)
            #expect(right.headers[.retryAfter] != nil)
            gate.release()
            let responses = try await burst.value

            #expect(gate.count <= 2, "bcrypt comparisons for the burst: \(gate.count)")
            let statuses = responses.map(\.status)
            #expect(statuses.filter { $0 == .unauthorized }.count == gate.count)
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 60 - gate.count)
            #expect(!statuses.contains(.ok))
            let refusal = try #require(responses.first { $0.status == .tooManyRequests })
            #expect(refusal.headers[.retryAfter] != nil)
            #expect((try? JSONCoding.decode(Array(refusal.body.readableBytesView)))?["error"]?["code"] == "too_many_attempts")

            // The manager at the counter PC (another address) signs in at once.
            let checked = gate.count
            let counter = try await rawLogin(port: client.serverPort, from: "127.0.0.2", "max", DashboardFixture.password)
            #expect(counter.status == 200)
            #expect(counter.headers["set-cookie"]?.hasPrefix("playclock_session=") == true)
            #expect(gate.count == checked + 1)
        }
    }

    @Test(.timeLimit(.minutes(1))) func wrongPasswordsFromOneDeviceMakeThatDeviceWaitNotTheAccount() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            for i in 0..<5 {
                #expect(try await client.login("max", "guess guess \(i)").status == .unauthorized)
            }
            let waiting = try await client.login("max", DashboardFixture.password)
            #expect(waiting.status == .tooManyRequests)
            #expect(waiting.headers[.retryAfter] == "1")
            // The manager is not locked out: from another device the right password works.
            let other = try await rawLogin(port: client.serverPort, from: "127.0.0.2", "max", DashboardFixture.password)
            #expect(other.status == 200)
            // And other accounts are not affected from a clean device either.
            #expect(try await rawLogin(port: client.serverPort, from: "127.0.0.3", "ann", DashboardFixture.password).status == 200)
        }
    }

    @Test(.timeLimit(.minutes(1))) func forwardedForIsBelievedOnlyFromATrustedProxy() async throws {
        // Without trusted proxies the header is ignored: a guesser cannot pose as many devices.
        let plain = try DashboardFixture()
        try await plain.test { (client: WebTestClient) async throws in
            for i in 0..<5 { #expect(try await proxyLogin(client, forwardedFor: "10.9.9.\(i)", "guess guess") == .unauthorized) }
            #expect(try await proxyLogin(client, forwardedFor: "10.9.9.200", DashboardFixture.password) == .tooManyRequests)
        }
        // Behind a trusted proxy (here: loopback), each forwarded client is counted on its own.
        let proxied = try DashboardFixture(configure: { $0.trustedProxies = ["127.0.0.1"] })
        try await proxied.test { (client: WebTestClient) async throws in
            for _ in 0..<5 { #expect(try await proxyLogin(client, forwardedFor: "192.0.2.1, 10.9.9.9", "guess guess") == .unauthorized) }
            #expect(try await proxyLogin(client, forwardedFor: "10.9.9.9", DashboardFixture.password) == .tooManyRequests)
            // Only the proxy's own entry (the last) counts: a client cannot pick its address.
            #expect(try await proxyLogin(client, forwardedFor: "10.9.9.77, 10.9.9.9", DashboardFixture.password) == .tooManyRequests)
            #expect(try await proxyLogin(client, forwardedFor: "10.9.9.10", DashboardFixture.password) == .ok)
        }
    }

    @Test(.timeLimit(.minutes(1))) func unknownAccountsWrongOrOverlongPasswordsAndAccountsWithoutARoleAnswerAlike() async throws {
        let counter = CountingVerifier()
        let fixture = try DashboardFixture(verifier: counter.verifier)
        try await fixture.test { client in
            var bodies: [String] = []
            for (account, password) in [
                ("max", "wrong horse"), ("eve", DashboardFixture.password), ("max", String(repeating: "correct horse ", count: 10)),
                ("nobody", DashboardFixture.password),
            ] {
                let before = counter.count
                let response = try await client.login(account, password)
                #expect(response.status == .unauthorized, "\(account)")
                #expect(response.headers[.setCookie] == nil, "\(account)")
                #expect(counter.count == before + 1, "\(account): one password check")
                bodies.append(String(buffer: response.body))
            }
            #expect(Set(bodies).count == 1, "\(bodies)")
            #expect(bodies.first?.contains("invalid_credentials") == true)
        }
    }
}

@Suite(.serialized) struct ConnectionCapTests {
    @Test(.timeLimit(.minutes(1))) func liveFeedsOverTheCapGet503WithRetryAfter() async throws {
        let fixture = try DashboardFixture(configure: { $0.maxLiveFeeds = 2 }, keepAlive: .milliseconds(100))
        try await fixture.test { client in
            let cookie = try await client.signIn("ann")
            let port = client.serverPort
            let request = RawHTTP.request(method: "GET", path: "/api/live", headers: ["Cookie": cookie])
            let feeds = try await RawHTTP.onThread { () -> [Int32] in
                try (0..<2).map { _ in
                    let fd = try RawHTTP.connect(port: port)
                    guard RawHTTP.send(fd, request), let head = RawHTTP.readReply(fd, headOnly: true), head.status == 200 else {
                        throw TestFailure("live feed not opened")
                    }
                    return fd
                }
            }
            let third = try await RawHTTP.exchange(port: port, from: "127.0.0.1", method: "GET", path: "/api/live", headers: ["Cookie": cookie])
            #expect(third.status == 503)
            #expect(third.headers["retry-after"] == "5")
            let json = try? JSONCoding.decode(Array(third.body.utf8))
            #expect(json?["error"]?["code"] == "too_many_live_feeds")
            // Other requests are still served.
            #expect(try await client.get("/api/stations", cookie: cookie).status == .ok)

            // A feed that goes away frees its place.
            close(feeds[0])
            #expect(await eventually { fixture.dashboard.liveFeeds.count == 1 })
            let again = try await RawHTTP.onThread { () -> Int in
                let fd = try RawHTTP.connect(port: port)
                defer { close(fd) }
                guard RawHTTP.send(fd, request), let head = RawHTTP.readReply(fd, headOnly: true) else { return 0 }
                return head.status
            }
            #expect(again == 200)
            close(feeds[1])
        }
    }

    @Test(.timeLimit(.minutes(1))) func connectionsOverTheCapAreClosedAndThoseUnderItAreServed() async throws {
        let fixture = try DashboardFixture(configure: { $0.maxConnections = 4; $0.maxLiveFeeds = 1 })
        try await fixture.test { client in
            let port = client.serverPort
            let held = try await RawHTTP.onThread { try (0..<4).map { _ in try RawHTTP.connect(port: port) } }
            var stillOpen = Set(held)
            defer { stillOpen.forEach { close($0) } }
            #expect(await eventually { fixture.dashboard.connections.open == 4 })

            let excess = try await RawHTTP.onThread { () -> Bool in
                let fd = try RawHTTP.connect(port: port)
                defer { close(fd) }
                _ = RawHTTP.send(fd, RawHTTP.request(method: "GET", path: "/healthz"))
                return RawHTTP.isClosedByServer(fd, within: 5)
            }
            #expect(excess, "the fifth connection was not closed")
            #expect(fixture.dashboard.connections.refused >= 1)

            // The four under the cap are served.
            let served = try await RawHTTP.onThread { () -> [Int] in
                held.map { fd in
                    guard RawHTTP.send(fd, RawHTTP.request(method: "GET", path: "/healthz")), let reply = RawHTTP.readReply(fd) else { return 0 }
                    return reply.status
                }
            }
            #expect(served == [503, 503, 503, 503])  // /healthz answers: 503 only because this hub has no broker

            // A closed connection makes room for a new one.
            close(held[0])
            stillOpen.remove(held[0])
            #expect(await eventually { fixture.dashboard.connections.open == 3 })
            let fresh = try await RawHTTP.exchange(port: port, from: "127.0.0.1", method: "GET", path: "/healthz")
            #expect(fresh.status == 503)
            #expect(fresh.body.contains("\"broker\""))
        }
    }
}
