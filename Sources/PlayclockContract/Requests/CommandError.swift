/// Why a request was refused. `code` is stable (clients switch on it); `message` is for people.
public struct CommandError: Error, Sendable, Equatable {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func invalidJSON() -> CommandError { .init(.invalidJSON, "the request body is not valid JSON") }
    public static func unknownStation(_ id: StationID) -> CommandError {
        .init(.unknownStation, "station \(id) does not exist")
    }
    public static func noSession(_ id: StationID) -> CommandError {
        .init(.noSession, "station \(id) has no session")
    }
}
