import Hummingbird
import PlayclockContract
import PlayclockCore

/// JSON responses of the dashboard API, written with the hub's own JSON writer so that the
/// browser sees byte for byte what MQTT clients see.
enum APIResponse {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: JSONCoding.encode(value))))
    }


    /// The HTTP status for a hub refusal code. The body carries the code itself.
    static func status(for code: ErrorCode) -> HTTPResponse.Status {
        switch code {
        case .forbidden: return .forbidden
        case .unauthenticated: return .unauthorized
        case .unknownStation: return .notFound
        case .payloadTooLarge: return .contentTooLarge
        case .storageFailed: return .serviceUnavailable
        case _ where code.isMalformedRequest: return .badRequest
        default: return .conflict
        }
    }

    /// `{"status":"error","error":{"code","message"},"transaction":null}`: the contract's response
    /// envelope, the same as every refusal on MQTT.
    static func error(_ status: HTTPResponse.Status, _ code: ErrorCode, _ message: String, headers: HTTPFields = [:]) -> Response {
        json(ResponseMessage(result: .failure(CommandError(code, message)), transaction: nil).json, status: status, headers: headers)
    }
}
