@testable import PlayclockHub

extension Hub {
    /// `start()`, then the hub's timer loop and alive recorder (`run()`) in a task of their own,
    /// as `HubService` runs them. The task ends at `shutdown()` (or when cancelled).
    @discardableResult
    func startRunning() async throws -> Task<Void, Never> {
        try start()
        return Task { await run() }
    }
}
