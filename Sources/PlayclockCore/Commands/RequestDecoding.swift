import PlayclockContract

extension Request {
    /// Decodes a request against the venue policy's limits.
    public static func decode(verb: String, payload: [UInt8], policy: HubPolicy) -> Result<Request, RequestDecodeError> {
        decode(verb: verb, payload: payload, limits: policy.requestLimits)
    }

    public static func parse(verb: String, body: [String: JSONValue], policy: HubPolicy) throws(CommandError) -> Command {
        try parse(verb: verb, body: body, limits: policy.requestLimits)
    }
}
