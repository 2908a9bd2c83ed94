import ArgumentParser
import Foundation
import PlayclockContract

// MARK: - Options

/// How a session is paid for on the command line (`session start`, `session extend`).
struct SaleOptions: ParsableArguments {
    @Option(help: "Minutes.") var minutes: Int64?
    @Option(help: "Seconds.") var seconds: Int64?
    @Option(help: "A package id (see `playclock pricing`).") var package: String?
    @Option(help: "How it is paid: cash, card, account (with --member) or later (start only).") var pay: String?
    @Option(help: "A member id: with --pay account, pays from their balance; alone, the session runs on their balance.")
    var member: String?

    private var duration: [String: JSONValue] {
        if let minutes { return ["minutes": .int(minutes)] }
        if let seconds { return ["seconds": .int(seconds)] }
        return [:]
    }

    private func item() throws -> [String: JSONValue] {
        let given = [minutes != nil, seconds != nil, package != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("give one of --minutes, --seconds or --package") }
        return package.map { ["package": .string($0)] } ?? duration
    }

    private func payment() throws -> JSONValue {
        switch pay {
        case "cash"?, "card"?:
            guard member == nil else { throw ValidationError("--member goes with --pay account (or alone, for a balance session)") }
            return ["method": .string(pay!)]
        case "account"?:
            guard let member else { throw ValidationError("--pay account needs --member") }
            return ["method": "account", "member": .string(member)]
        default:
            throw ValidationError("--pay must be cash, card or account")
        }
    }

    func startBody(station: String) throws -> [String: JSONValue] {
        var body: [String: JSONValue] = ["station": .string(station)]
        switch (pay, member) {
        case (nil, nil):
            guard package == nil else { throw ValidationError("a package is sold: give --pay cash, card or account") }
            let d = duration
            guard d.count == 1, minutes == nil || seconds == nil else { throw ValidationError("give --minutes or --seconds") }
            body.merge(d) { $1 }
        case (nil, let member?):
            guard minutes == nil, seconds == nil, package == nil else {
                throw ValidationError("--member alone runs the session on the member's balance: no --minutes or --package (to sell time from the account: --pay account)")
            }
            body["member"] = .string(member)
        case ("later"?, nil):
            guard minutes == nil, seconds == nil, package == nil else { throw ValidationError("--pay later takes no --minutes or --package") }
            body["payment"] = ["method": "later"]
        default:
            body.merge(try item()) { $1 }
            body["payment"] = try payment()
        }
        return body
    }

    func extendBody(station: String) throws -> [String: JSONValue] {
        var body: [String: JSONValue] = ["station": .string(station)]
        if pay == nil && member == nil {
            guard package == nil else { throw ValidationError("a package is sold: give --pay cash, card or account") }
            guard minutes != nil || seconds != nil, minutes == nil || seconds == nil else { throw ValidationError("give --minutes or --seconds") }
            body.merge(duration) { $1 }
            return body
        }
        body.merge(try item()) { $1 }
        body["payment"] = try payment()
        return body
    }
}

/// An amount typed by a person (`12.50`, `12`, `0.5`), in the venue's currency: converted to minor
/// units exactly, digit by digit (never through floating point), with the currency's digits from
/// the hub's `pricing/get`.
enum TypedAmount {
    static func minorUnits(_ text: String, digits: Int) throws -> Int64 {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int64(parts[0]), whole >= 0, parts[0].allSatisfy(\.isASCIIDigit) else {
            throw ValidationError("amount \"\(text)\" must be a number like 12.50")
        }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.allSatisfy(\.isASCIIDigit), fraction.count <= digits, !(parts.count == 2 && fraction.isEmpty) else {
            throw ValidationError("amount \"\(text)\" has more than \(digits) decimal places")
        }
        let padded = fraction + String(repeating: "0", count: digits - fraction.count)
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let (product, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow, let small = Int64(padded.isEmpty ? "0" : padded) else { throw ValidationError("amount \"\(text)\" is too large") }
        return product + small
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Connection {
    /// The venue's currency digits, from the hub's prices (for typed amounts).
    func currencyDigits() async throws -> Int {
        var digits = 2
        try await quietly(.pricingGet, [:]) { data in
            if let code = data["currency"]?.stringValue, let currency = Currency(code) { digits = currency.minorDigits }
        }
        return digits
    }

    /// Sends a request whose answer is used, not printed.
    func quietly(_ verb: Verb, _ body: [String: JSONValue], use: @escaping (JSONValue) -> Void) async throws {
        var silent = self
        silent.json = false
        silent.transaction = nil
        try await silent.send(verb, body, render: { data in
            use(data)
            return ""
        }, printing: false)
    }
}

// MARK: - Rendering

extension Render {
    static func saleLine(_ data: JSONValue) -> String {
        let station = stationLine(data)
        guard let sale = data["sale"], sale != .null else { return station }
        return "\(station)\nsale \(sale["sale"]?.intValue ?? 0): \(sale["kind"]?.stringValue ?? "") \(sale["amount_text"]?.stringValue ?? "") \(sale["method"]?.stringValue ?? "")"
    }

    static func memberLine(_ m: JSONValue) -> String {
        var parts = ["\(m["member"]?.stringValue ?? "?") \(m["name"]?.stringValue ?? "")"]
        if let tier = m["tier"]?.stringValue { parts.append("(\(tier), \(m["discount_percent"]?.intValue ?? 0)% off)") }
        parts.append("balance \(m["balance_text"]?.stringValue ?? "?")")
        if m["available"] != m["balance"], let available = m["available_text"]?.stringValue {
            parts.append("(\(available) available while playing)")
        }
        if m["disabled"] == .bool(true) { parts.append("DISABLED") }
        if let until = m["locked_until"]?.stringValue { parts.append("sign-in locked until \(until)") }
        if let station = m["session"]?["station"]?.stringValue { parts.append("playing on \(station)") }
        return parts.joined(separator: " ")
    }

    static func memberCard(_ m: JSONValue) -> String {
        var lines = [memberLine(m)]
        if let sale = m["sale"], sale != .null { lines.append("sale \(sale["sale"]?.intValue ?? 0): \(sale["kind"]?.stringValue ?? "") \(sale["amount_text"]?.stringValue ?? "")") }
        for h in m["history"]?.arrayValue ?? [] {
            let refers = h["refers_to"]?.intValue.map { " of sale \($0)" } ?? ""
            lines.append("  sale \(h["sale"]?.intValue ?? 0)  \(h["at"]?.stringValue ?? "")  \(h["kind"]?.stringValue ?? "")\(refers)  \(h["amount"]?.intValue ?? 0)  \(h["method"]?.stringValue ?? "")  \(h["station"]?.stringValue ?? "")")
        }
        return lines.joined(separator: "\n")
    }

    static func quote(_ q: JSONValue) -> String {
        var lines = ["\(q["station"]?.stringValue ?? "?"): \(q["amount_text"]?.stringValue ?? "?") for \(duration(q["granted_s"]?.intValue ?? 0))"]
        for s in q["segments"]?.arrayValue ?? [] {
            lines.append("  \(s["from"]?.stringValue ?? "") to \(s["to"]?.stringValue ?? "")  \(s["per_hour"]?.intValue ?? 0)/h  \(s["amount"]?.intValue ?? 0)")
        }
        if let extra = q["minimum_extra"]?.intValue, extra > 0 { lines.append("  minimum charge: +\(extra)") }
        if let pct = q["discount_percent"]?.intValue, pct > 0 { lines.append("  member discount \(pct)%") }
        return lines.joined(separator: "\n")
    }

    static func pricing(_ p: JSONValue) -> String {
        var lines = ["currency \(p["currency"]?.stringValue ?? "?"), timezone \(p["timezone"]?.stringValue ?? "?")"]
        for plan in p["plans"]?.arrayValue ?? [] {
            lines.append("plan \(plan["id"]?.stringValue ?? "?"): \(plan["per_hour"]?.intValue ?? 0)/h, step \(plan["step_s"]?.intValue ?? 0) s, minimum \(plan["minimum"]?.intValue ?? 0), \(plan["rules"]?.arrayValue?.count ?? 0) rule(s)")
        }
        for package in p["packages"]?.arrayValue ?? [] {
            let length = package["minutes"]?.intValue.map { "\($0) min" } ?? "until \(package["until"]?.stringValue ?? "?")"
            lines.append("package \(package["id"]?.stringValue ?? "?"): \(package["name"]?.stringValue ?? ""), \(length), \(package["price"]?.intValue ?? 0)")
        }
        for tier in p["tiers"]?.arrayValue ?? [] {
            lines.append("tier \(tier["id"]?.stringValue ?? "?"): \(tier["discount_percent"]?.intValue ?? 0)% off")
        }
        return lines.joined(separator: "\n")
    }

    static func saleRecord(_ s: JSONValue) -> String {
        "sale \(s["sale"]?.intValue ?? 0): \(s["kind"]?.stringValue ?? "") \(s["amount_text"]?.stringValue ?? "") \(s["method"]?.stringValue ?? "")"
            + (s["refers_to"]?.intValue.map { " of sale \($0)" } ?? "")
    }
}

// MARK: - Commands

struct PricingShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pricing", abstract: "Show the prices: plans, packages, tiers.")
    @OptionGroup var connection: Connection
    func run() async throws { try await connection.send(.pricingGet, [:], render: Render.pricing) }
}

struct PriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "price", abstract: "Quote prices.", subcommands: [Quote.self])

    struct Quote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What time or a package on a station costs now, segment by segment (sells nothing).")
        @Argument var station: String
        @Option(help: "Minutes.") var minutes: Int64?
        @Option(help: "A package id.") var package: String?
        @Option(help: "A member (their tier's discount applies).") var member: String?
        @OptionGroup var connection: Connection
        func run() async throws {
            guard (minutes == nil) != (package == nil) else { throw ValidationError("give --minutes or --package") }
            var body: [String: JSONValue] = ["station": .string(station)]
            if let minutes { body["minutes"] = .int(minutes) }
            if let package { body["package"] = .string(package) }
            if let member { body["member"] = .string(member) }
            try await connection.send(.priceQuote, body, render: Render.quote)
        }
    }
}

/// A JSON object given inline or as `@file`.
func jsonArgument(_ text: String) throws -> JSONValue {
    let bytes: [UInt8]
    if text.hasPrefix("@") {
        guard let data = FileManager.default.contents(atPath: String(text.dropFirst())) else {
            throw ValidationError("cannot read \(text.dropFirst())")
        }
        bytes = Array(data)
    } else {
        bytes = Array(text.utf8)
    }
    guard let value = try? JSONCoding.decode(bytes), value.objectValue != nil else { throw ValidationError("not a JSON object: \(text.prefix(80))") }
    return value
}

struct RateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rate", abstract: "Set or remove a rate plan (manager).",
        discussion: "The plan is JSON as in topics.md, \"Money\": {\"id\",\"name\",\"per_hour\",\"step_s\",\"minimum\",\"rules\",...}.",
        subcommands: [Set.self, Remove.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a plan or replace the one with its id (JSON, or @file).")
        @Argument var plan: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.rateSet, ["plan": try jsonArgument(plan)], render: Render.pricing) }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a plan (refused while a package names it).")
        @Argument var id: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.rateRemove, ["plan": .string(id)], render: Render.pricing) }
    }
}

struct PackageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package", abstract: "Set or remove a package (manager).", subcommands: [Set.self, Remove.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a package or replace the one with its id (JSON, or @file).")
        @Argument var package: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.packageSet, ["package": try jsonArgument(package)], render: Render.pricing) }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a package.")
        @Argument var id: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.packageRemove, ["package": .string(id)], render: Render.pricing) }
    }
}

struct TierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tier", abstract: "Set or remove a member tier (manager).", subcommands: [Set.self, Remove.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a tier or replace the one with its id (JSON, or @file).")
        @Argument var tier: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.tierSet, ["tier": try jsonArgument(tier)], render: Render.pricing) }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a tier (refused while members have it).")
        @Argument var id: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.tierRemove, ["tier": .string(id)], render: Render.pricing) }
    }
}

/// A PIN from a file's first line or standard input, never from the command line (where `ps` shows it).
func readPIN(file: String?) throws -> String {
    let text: String
    if let file {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        text = String(decoding: data, as: UTF8.self)
    } else {
        text = readLine(strippingNewline: true) ?? ""
    }
    let pin = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "").trimmingCharacters(in: .whitespaces)
    guard SignInRequest.isWellFormedPIN(pin) else { throw ValidationError("a PIN is 4-12 digits") }
    return pin
}

struct MemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "member", abstract: "Members: add, look up, top up, set a PIN, update, disable.",
        subcommands: [Add.self, Get.self, Find.self, Topup.self, SetPIN.self, Update.self, Disable.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a member (id: 1-64 of A-Z a-z 0-9 _ -).")
        @Argument var member: String
        @Option(help: "Display name (default: the id).") var name: String?
        @Option(help: "Phone or e-mail.") var contact: String?
        @Option(help: "Tier id.") var tier: String?
        @Option(help: "File whose first line is the member's PIN (4-12 digits); - reads standard input.") var pinFile: String?
        @OptionGroup var connection: Connection
        func run() async throws {
            var body: [String: JSONValue] = ["member": .string(member), "name": .string(name ?? member)]
            if let contact { body["contact"] = .string(contact) }
            if let tier { body["tier"] = .string(tier) }
            if let pinFile { body["pin"] = .string(try readPIN(file: pinFile == "-" ? nil : pinFile)) }
            try await connection.send(.memberAdd, body, render: Render.memberLine)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a member, with their newest sales.")
        @Argument var member: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.memberGet, ["member": .string(member)], render: Render.memberCard) }
    }

    struct Find: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find members by part of their id or name.")
        @Argument var query: String
        @Option(help: "At most this many (1-50).") var limit: Int64 = 20
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.memberFind, ["query": .string(query), "limit": .int(limit)]) { data in
                (data["members"]?.arrayValue ?? []).map(Render.memberLine).joined(separator: "\n")
            }
        }
    }

    struct Topup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put money on a member's balance.",
            discussion: "AMOUNT in the venue's currency (12.50). Use --transaction ID to retry safely: the hub applies one id once.")
        @Argument var member: String
        @Argument var amount: String
        @Option(help: "cash or card.") var method: String
        @OptionGroup var connection: Connection
        func run() async throws {
            guard PaymentTender(rawValue: method) != nil else { throw ValidationError("--method must be cash or card") }
            let minor = try TypedAmount.minorUnits(amount, digits: try await connection.currencyDigits())
            try await connection.send(.memberTopup, ["member": .string(member), "amount": .int(minor), "method": .string(method)],
                                      render: Render.memberCard)
        }
    }

    struct SetPIN: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-pin", abstract: "Set a member's PIN for signing in at stations.")
        @Argument var member: String
        @Option(help: "File whose first line is the PIN (default: standard input).") var pinFile: String?
        @OptionGroup var connection: Connection
        func run() async throws {
            let pin = try readPIN(file: pinFile)
            try await connection.send(.memberSetPIN, ["member": .string(member), "pin": .string(pin)], render: Render.memberLine)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a member's name, contact or tier (manager).")
        @Argument var member: String
        @Option var name: String?
        @Option var contact: String?
        @Flag(help: "Clear the contact.") var noContact = false
        @Option var tier: String?
        @Flag(help: "Clear the tier.") var noTier = false
        @OptionGroup var connection: Connection
        func run() async throws {
            var body: [String: JSONValue] = ["member": .string(member)]
            if let name { body["name"] = .string(name) }
            if noContact { body["contact"] = .null } else if let contact { body["contact"] = .string(contact) }
            if noTier { body["tier"] = .null } else if let tier { body["tier"] = .string(tier) }
            try await connection.send(.memberUpdate, body, render: Render.memberLine)
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a member (no sales, top-ups or sign-ins), or --enable again (manager).")
        @Argument var member: String
        @Flag(help: "Enable the member again.") var enable = false
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.memberDisable, ["member": .string(member), "disabled": .bool(!enable)], render: Render.memberLine)
        }
    }
}

struct SaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sale", abstract: "Refund or void a sale (manager).", subcommands: [Refund.self, Void.self])

    struct Refund: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give back part (--amount) or all that is left of a sale, the way it was paid.")
        @Argument var sale: Int64
        @Option(help: "Amount in the venue's currency (default: all that is left).") var amount: String?
        @Option(help: "Why (kept with the refund).") var reason: String
        @OptionGroup var connection: Connection
        func run() async throws {
            var body: [String: JSONValue] = ["sale": .int(sale), "reason": .string(reason)]
            if let amount { body["amount"] = .int(try TypedAmount.minorUnits(amount, digits: try await connection.currencyDigits())) }
            try await connection.send(.saleRefund, body, render: Render.saleRecord)
        }
    }

    struct Void: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reverse a sale made by mistake, whole, within the void window.")
        @Argument var sale: Int64
        @Option(help: "Why (kept with the void).") var reason: String
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.send(.saleVoid, ["sale": .int(sale), "reason": .string(reason)], render: Render.saleRecord) }
    }
}
