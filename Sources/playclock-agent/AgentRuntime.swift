import Foundation
import Logging
import PlayclockAgent
import PlayclockContract
import PlayclockMQTT
import Synchronization

/// Runs the agent: turns the broker, the display, the clock and signals into `AgentEvent`s for
/// the core, and carries out the core's actions. All decisions are the core's.
final class AgentRuntime: Sendable {
    enum Input: Sendable {
        case event(AgentEvent)
        /// The display's connection is gone: nothing is locked any more.
        case displayLost
        case stop
    }

    let configuration: AgentConfiguration
    let client: MQTTClient
    let display: any AgentDisplay
    let leaseFile: LeaseFile
    let logger: Logger
    let inputs: AsyncStream<Input>
    let feed: AsyncStream<Input>.Continuation
    /// The core's next wake-up (`AgentCore.nextWakeup`), newest only, for the timer task.
    let wakeups: AsyncStream<Int64?>
    let wakeupFeed: AsyncStream<Int64?>.Continuation
    let desktop: DesktopSession?

    init(configuration: AgentConfiguration, client: MQTTClient, display: any AgentDisplay, leaseFile: LeaseFile, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.display = display
        self.leaseFile = leaseFile
        self.logger = logger
        // Unbounded: every producer is bounded already (the MQTT client's own buffer, one tick per
        // wake-up, a handful of orders), and a control message must never be dropped here.
        (inputs, feed) = AsyncStream.makeStream(of: Input.self)
        (wakeups, wakeupFeed) = AsyncStream.makeStream(of: Int64?.self, bufferingPolicy: .bufferingNewest(1))
        desktop = configuration.sessionCommand.map { DesktopSession(argv: $0, logger: logger) }
    }

    func tamper(_ reason: TamperReason) { feed.yield(.event(.tamper(reason))) }

    /// A key on the lock screen or a press of the sign-out button (never logged: keys are PINs).
    func input(_ input: AgentInput) { feed.yield(.event(.input(input))) }

    func displayLost() { feed.yield(.displayLost) }

    func stop() { feed.yield(.stop) }

    /// Runs until `stop()`, or until the display is gone (then false: the agent must exit with
    /// an error so that its session restarts it locked). The broker's events, the ticker and the
    /// customer's desktop are child tasks.
    func run(version: String) async -> Bool {
        let restored = leaseFile.read()
        if case .rejected(let why) = restored {
            logger.warning("lease file not trusted; starting locked", metadata: ["agent.lease_file": "\(leaseFile.path)", "agent.reason": "\(why)"])
        }
        let start = SystemClocks.now()
        // A fresh prefix per start: sign-in request ids never repeat, even after a restart.
        var core = AgentCore(settings: configuration.settings(version: version, user: SystemClocks.userName()),
                             bootID: SystemClocks.bootID(), restored: restored, now: start,
                             requestPrefix: String(UInt64.random(in: 0...UInt64.max), radix: 36))
        display.show(core.screen(now: start))
        logger.info("agent started", metadata: ["station.id": "\(configuration.station)", "agent.locked": "\(core.isLocked)"])
        for (filter, qos) in core.subscriptions {
            if let f = try? MQTTTopicFilter(filter) { client.subscribe(f, qos: qos == 1 ? .atLeastOnce : .atMostOnce) }
        }
        client.start()

        return await withTaskGroup(of: Void.self) { group in
            group.addTask { [client, feed] in
                for await event in client.events {
                    switch event {
                    case .connected: feed.yield(.event(.connected))
                    case .disconnected: feed.yield(.event(.disconnected))
                    case .message(let m): feed.yield(.event(.message(topic: m.topic, payload: m.payload, retained: m.retain)))
                    }
                }
            }
            group.addTask { await self.runTimer() }
            if let desktop {
                group.addTask { await desktop.run() }
            }

            var ignoredLogged = 0
            var lastIgnoredLog = start.monoNanos
            // Lost before the runtime could be told (between opening the display and now).
            var displayLost = !display.isConnected
            wakeupFeed.yield(core.nextWakeup(now: start))
            loop: for await input in inputs where !displayLost {
                let event: AgentEvent
                switch input {
                case .event(let e): event = e
                case .stop: break loop
                case .displayLost:
                    displayLost = true
                    break loop
                }
                let now = SystemClocks.now()
                let wasLocked = core.isLocked
                let actions = core.handle(event, now: now)
                for action in actions { perform(action, group: &group) }
                wakeupFeed.yield(core.nextWakeup(now: now))
                display.show(core.screen(now: now))
                if wasLocked != core.isLocked {
                    logger.info(core.isLocked ? "station locked" : "station unlocked",
                                metadata: ["station.id": "\(configuration.station)", "session.id": "\(core.session ?? "-")"])
                }
                if core.ignoredMessages > ignoredLogged, now.monoNanos - lastIgnoredLog > 60_000_000_000 {
                    logger.notice("ignored malformed or foreign messages", metadata: ["agent.ignored": "\(core.ignoredMessages - ignoredLogged)"])
                    ignoredLogged = core.ignoredMessages
                    lastIgnoredLog = now.monoNanos
                }
            }
            if displayLost {
                logger.critical("display connection lost; exiting so the session restarts locked",
                                metadata: ["station.id": "\(configuration.station)"])
            }
            // A clean stop: tell the hub (the will is only for crashes), then let go of everything.
            if let topic = try? MQTTTopic(core.will.topic) {
                client.publish(topic, payload: core.will.payload, qos: .atLeastOnce)
                _ = await client.flush(timeout: .seconds(2))
            }
            wakeupFeed.finish()
            group.cancelAll()
            desktop?.stop()
            client.stop()
            return !displayLost
        }
    }

    /// Sleeps until the core's next wake-up and then feeds it a tick. The main loop publishes a
    /// wake-up after every event (the tick's too), which replaces the one being waited for, so
    /// nothing wakes the agent between events unless the core asked. Ends with the stream.
    private func runTimer() async {
        var changes = wakeups.makeAsyncIterator()
        var next = await changes.next()
        while let published = next {
            guard let wakeup = published else {
                next = await changes.next()
                continue
            }
            next = await withDiscardingTaskGroup { group in
                group.addTask {
                    let wait = wakeup - SystemClocks.now().monoNanos
                    if wait > 0 {
                        do { try await Task.sleep(for: .nanoseconds(wait)) } catch { return }
                    }
                    self.feed.yield(.event(.tick))
                }
                let moved = await changes.next()
                group.cancelAll()
                return moved
            }
        }
    }

    private func perform(_ action: AgentAction, group: inout TaskGroup<Void>) {
        switch action {
        case .publish(let p):
            guard let topic = try? MQTTTopic(p.topic) else { return }
            client.publish(topic, payload: p.payload, qos: p.qos == 1 ? .atLeastOnce : .atMostOnce)
        case .saveLease(let record):
            do { try leaseFile.write(record) } catch {
                logger.error("cannot save the lease", metadata: ["agent.lease_file": "\(leaseFile.path)", "agent.error": "\(error)"])
            }
        case .runOrder(let order):
            logger.notice("carrying out an order", metadata: ["agent.order": "\(order.action.rawValue)", "agent.command": "\(order.command)"])
            group.addTask { [self] in
                let failure = await carryOut(order)
                feed.yield(.event(.orderFinished(order, failure: failure)))
            }
        case .endDesktopSession:
            group.addTask { [self] in
                if let argv = configuration.commands[.logout] {
                    _ = await runCommand(argv)
                } else {
                    await desktop?.restart()
                }
            }
        }
    }

    /// nil when done, else why not.
    private func carryOut(_ order: ControlMessage.Order) async -> String? {
        if let argv = configuration.commands[order.action] { return await runCommand(argv) }
        if order.action == .logout, let desktop {
            await desktop.restart()
            return nil
        }
        return "no \(order.action.rawValue) command is configured on this PC"
    }

    private func runCommand(_ argv: [String]) async -> String? {
        do {
            let child = try ChildProcess(argv: argv)
            return await child.wait()
        } catch {
            return error.description
        }
    }
}

/// The customer's desktop (`session_command`): started as the agent's child, restarted when it
/// exits; `restart()` ends its whole process group (SIGTERM, SIGKILL after 5 s) and starts a
/// fresh one, so the next customer never sees the last one's programs.
final class DesktopSession: Sendable {
    let argv: [String]
    let logger: Logger
    private let state = Mutex<(child: ChildProcess?, stopped: Bool, generation: Int)>((nil, false, 0))

    init(argv: [String], logger: Logger) {
        self.argv = argv
        self.logger = logger
    }

    func run() async {
        var failures = 0
        while !Task.isCancelled, !state.withLock({ $0.stopped }) {
            let child: ChildProcess
            do { child = try ChildProcess(argv: argv) } catch {
                logger.error("cannot start the session command", metadata: ["agent.error": "\(error)"])
                failures += 1
                try? await Task.sleep(for: .seconds(min(30, failures * 2)))
                continue
            }
            state.withLock { $0.child = child }
            let started = ContinuousClock.now
            let how = await child.wait()
            state.withLock { if $0.child === child { $0.child = nil } }
            if state.withLock({ $0.stopped }) { return }
            logger.notice("session command ended; starting it again", metadata: ["agent.exit": "\(how ?? "exit status 0")"])
            // A command that dies at once is not restarted in a tight loop.
            failures = ContinuousClock.now - started < .seconds(10) ? failures + 1 : 0
            if failures > 0 { try? await Task.sleep(for: .seconds(min(30, failures * 2))) }
        }
    }

    /// Ends the running desktop; `run()` starts it again.
    func restart() async {
        guard let child = state.withLock({ $0.child }) else { return }
        child.signalGroup(SIGTERM)
        for _ in 0..<50 {
            try? await Task.sleep(for: .milliseconds(100))
            if state.withLock({ $0.child !== child }) { return }
        }
        child.signalGroup(SIGKILL)
    }

    /// Ends the desktop for good (the agent is exiting): SIGTERM, SIGKILL 3 s later.
    func stop() {
        let child = state.withLock { s -> ChildProcess? in
            s.stopped = true
            return s.child
        }
        guard let child else { return }
        child.signalGroup(SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + 3) { child.signalGroup(SIGKILL) }
    }
}
