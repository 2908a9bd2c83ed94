import Foundation

public enum MQTTURLError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupportedScheme(String)
    case missingHost(String)
    case invalidPort(String)
    case unexpectedPath(String)

    public var description: String {
        switch self {
        case .unsupportedScheme(let url):
            "MQTT URL '\(url)' must start with mqtt:// or mqtts://"
        case .missingHost(let url):
            "MQTT URL '\(url)' has no host"
        case .invalidPort(let url):
            "MQTT URL '\(url)' has an invalid port (expected 1...65535)"
        case .unexpectedPath(let url):
            "MQTT URL '\(url)' must be scheme://host[:port] with no path, user or query"
        }
    }
}

public struct MQTTClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var clientID: String
    public var username: String?
    public var password: String?
    /// 0 disables keepalive; libmosquitto rejects 1...4.
    public var keepAliveSeconds: Int = 10
    public var will: MQTTWill?
    public var cleanStart: Bool = true
    public var reconnectDelayMin: Duration = .milliseconds(100)
    public var reconnectDelayMax: Duration = .seconds(5)
    /// If set, TLS is used and the broker is verified against this CA file.
    public var tlsCAFile: String? = nil
    public var tlsCertFile: String? = nil
    public var tlsKeyFile: String? = nil
    /// Non-coalescing entries (messages, connection events) waiting for a consumer that falls
    /// behind at which the client stops reading from the broker (backpressure: TCP pushes back)
    /// until the consumer has taken half of them. None of them is ever dropped; a single read may
    /// exceed the bound by a few messages. A simulator that multiplexes thousands of stations over
    /// one connection wants more. Reading paused for longer than about twice the keepalive ends in
    /// a keepalive timeout and a reconnect, as on a stalled network.
    public var eventBufferSize: Int = 4096
    /// Messages of coalescing subscriptions (`MQTTSubscriptionOptions.coalescing`) that may wait
    /// at once; beyond it, and whenever one on the same topic is already waiting, new ones are
    /// shed (counted in `MQTTClient.statistics`, a warning at most every `shedReportInterval`).
    public var coalescingBufferSize: Int = 16384
    /// At most one warning per interval about shed messages or paused reading.
    public var shedReportInterval: Duration = .seconds(10)
    /// Set by an mqtts:// URL: TLS is used even without `tlsCAFile`, trusting the OS CA store.
    var tlsRequired = false

    public init(host: String, port: Int, clientID: String) {
        self.host = host
        self.port = port
        self.clientID = clientID
    }

    /// Parses `mqtt://host[:port]` (default 1883) or `mqtts://host[:port]` (default 8883, TLS).
    /// IPv6 hosts are written in brackets: `mqtt://[::1]:1883`.
    public init(url: String, clientID: String) throws {
        let authority: Substring
        if url.hasPrefix("mqtt://") {
            authority = url.dropFirst("mqtt://".count)
        } else if url.hasPrefix("mqtts://") {
            authority = url.dropFirst("mqtts://".count)
            tlsRequired = true
        } else {
            throw MQTTURLError.unsupportedScheme(url)
        }
        let trimmed = authority.hasSuffix("/") ? authority.dropLast() : authority
        if trimmed.contains(where: { "/?#@".contains($0) }) { throw MQTTURLError.unexpectedPath(url) }

        var host = trimmed
        var portText: Substring?
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { throw MQTTURLError.missingHost(url) }
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw MQTTURLError.invalidPort(url) }
                portText = rest.dropFirst()
            }
        } else if let colon = trimmed.lastIndex(of: ":") {
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
        }
        guard !host.isEmpty else { throw MQTTURLError.missingHost(url) }

        var port = tlsRequired ? 8883 : 1883
        if let portText {
            guard portText.allSatisfy(\.isASCII), let parsed = Int(portText), (1...65535).contains(parsed) else {
                throw MQTTURLError.invalidPort(url)
            }
            port = parsed
        }
        self.host = String(host)
        self.port = port
        self.clientID = clientID
    }
}

/// A password file that cannot be used.
public struct MQTTPasswordFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
}

extension MQTTClientConfiguration {
    /// Reads a broker password from a file: its first line, without the line ending.
    /// Keeps passwords out of command lines, which other users of the box can read.
    public static func password(fromFile path: String) throws(MQTTPasswordFileError) -> String {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw MQTTPasswordFileError(description: "cannot read password file \(path)")
        }
        let line = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !line.isEmpty else { throw MQTTPasswordFileError(description: "password file \(path) is empty") }
        return line
    }
}
