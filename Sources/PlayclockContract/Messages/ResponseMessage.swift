/// The answer to every staff request, the same on MQTT (`R/hub/response/<verb>`,
/// `R/users/<account>/response/<verb>`) and over HTTP:
/// `{"status":"ok","data":...,"transaction":...}` or
/// `{"status":"error","error":{"code","message"},"transaction":...}`.
public struct ResponseMessage: ContractMessage {
    public var result: Result<JSONValue, CommandError>
    /// The request's `transaction`, echoed as it was sent (null when it had none).
    public var transaction: JSONValue?

    public init(result: Result<JSONValue, CommandError>, transaction: JSONValue?) {
        self.result = result
        self.transaction = transaction
    }

    public var json: JSONValue {
        var body: [String: JSONValue] = [:]
        switch result {
        case .success(let data):
            body["status"] = "ok"
            body["data"] = data
        case .failure(let error):
            body["status"] = "error"
            body["error"] = ["code": JSONValue(error.code), "message": .string(error.message)]
        }
        body["transaction"] = transaction ?? .null
        return .object(body)
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "a response")
        let transaction = f.object["transaction"].flatMap { $0 == .null ? nil : $0 }
        switch try f.string("status") {
        case "ok":
            self.init(result: .success(f.object["data"] ?? .null), transaction: transaction)
        case "error":
            let e = try Fields(f.object["error"] ?? .null, "\"error\"")
            self.init(result: .failure(CommandError(try e.enumeration("code", ErrorCode.self), try e.string("message"))),
                      transaction: transaction)
        default:
            throw MessageDecodingError("\"status\" must be \"ok\" or \"error\"")
        }
    }
}
