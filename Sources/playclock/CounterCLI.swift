import ArgumentParser
import Foundation
import PlayclockContract

/// The counter from the terminal: products, a basket sale, and the cash shift.
struct ProductCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "product", abstract: "The counter's products: list, set (manager), remove (manager).",
        subcommands: [List.self, Set.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the products with their prices and stock.")
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.productList, [:]) { data in
                (data["products"]?.arrayValue ?? []).map { p in
                    let stock = p["stock"]?.intValue.map { " stock \($0)" } ?? ""
                    let active = p["active"]?.boolValue == false ? " (inactive)" : ""
                    return "\(p["product"]?.stringValue ?? "")  \(p["category"]?.stringValue ?? "")  \(p["name"]?.stringValue ?? "")  \(p["price"]?.intValue ?? 0)\(stock)\(active)"
                }.joined(separator: "\n")
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or replace a product.")
        @Argument(help: "Product id: 1-64 of A-Z a-z 0-9 _ -.") var product: String
        @Option(help: "Display name (default: the id).") var name: String?
        @Option(help: "Category id (drinks, snacks, ...): taxes and reports use it.") var category: String
        @Option(help: "Price in the venue's currency, e.g. 2.50.") var price: String
        @Option(help: "Counted stock (omit: not counted).") var stock: Int64?
        @Option(help: "Warn (product.low_stock) when a sale takes the stock to this.") var lowStock: Int64?
        @Flag(help: "List it but do not sell it.") var inactive = false
        @OptionGroup var connection: Connection
        func run() async throws {
            var p: [String: JSONValue] = [
                "product": .string(product), "name": .string(name ?? product), "category": .string(category),
                "price": .int(try TypedAmount.minorUnits(price, digits: try await connection.currencyDigits())), "active": .bool(!inactive),
            ]
            if let stock { p["stock"] = .int(stock) }
            if let lowStock { p["low_stock"] = .int(lowStock) }
            try await connection.send(.productSet, ["product": .object(p)]) { d in "product \(d["product"]?.stringValue ?? "") set" }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a product off the catalogue (its sales keep its name and price).")
        @Argument var product: String
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.productRemove, ["product": .string(product)]) { _ in "product \(product) removed" }
        }
    }
}

struct SellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sell", abstract: "Sell a basket at the counter (sale/create).",
        discussion: """
            Items: PRODUCT or PRODUCT:QTY for products, STATION=MINUTES (e.g. PC-01=90) or STATION=@PACKAGE \
            (e.g. PC-01=@3h) for time. Pay with --cash (optionally --tendered 20.00), --card, or --account MEMBER; \
            or split with --split cash:5.00 --split card:3.50 --split account:m-1001:2.00.
              playclock sell cola:2 chips PC-01=@30m --cash --tendered 20
            """)
    @Argument(help: "Items (see above).") var items: [String]
    @Flag(help: "Pay the whole total in cash.") var cash = false
    @Flag(help: "Pay the whole total by card.") var card = false
    @Option(help: "Pay the whole total from this member's balance.") var account: String?
    @Option(help: "Cash handed over (with --cash), for the change.") var tendered: String?
    @Option(help: "One part of a split payment: cash:AMOUNT, card:AMOUNT or account:MEMBER:AMOUNT (repeatable).") var split: [String] = []
    @Option(help: "Member whose tier discount applies to time.") var member: String?
    @OptionGroup var connection: Connection

    func run() async throws {
        var lines: [JSONValue] = []
        for item in items {
            if let eq = item.firstIndex(of: "=") {
                let station = String(item[..<eq]), what = String(item[item.index(after: eq)...])
                if what.hasPrefix("@") {
                    lines.append(["station": .string(station), "package": .string(String(what.dropFirst()))])
                } else if let minutes = Int64(what) {
                    lines.append(["station": .string(station), "minutes": .int(minutes)])
                } else {
                    throw ValidationError("\(item): time is STATION=MINUTES or STATION=@PACKAGE")
                }
            } else {
                let parts = item.split(separator: ":")
                guard (1...2).contains(parts.count), let qty = parts.count == 2 ? Int64(parts[1]) : 1 else {
                    throw ValidationError("\(item): a product is PRODUCT or PRODUCT:QTY")
                }
                lines.append(["product": .string(String(parts[0])), "qty": .int(qty)])
            }
        }
        let digits = try await connection.currencyDigits()
        var body: [String: JSONValue] = ["items": .array(lines)]
        let whole = [cash, card, account != nil].filter { $0 }.count
        if !split.isEmpty {
            guard whole == 0 else { throw ValidationError("give --split parts or one of --cash/--card/--account, not both") }
            body["payments"] = .array(try split.map { part in
                let f = part.split(separator: ":").map(String.init)
                switch (f.first, f.count) {
                case ("cash"?, 2), ("card"?, 2): return ["method": .string(f[0]), "amount": .int(try TypedAmount.minorUnits(f[1], digits: digits))]
                case ("account"?, 3): return ["method": "account", "member": .string(f[1]), "amount": .int(try TypedAmount.minorUnits(f[2], digits: digits))]
                default: throw ValidationError("\(part): a split part is cash:AMOUNT, card:AMOUNT or account:MEMBER:AMOUNT")
                }
            })
        } else {
            guard whole == 1 else { throw ValidationError("pay with exactly one of --cash, --card, --account (or --split)") }
            var payment: [String: JSONValue] = ["method": .string(cash ? "cash" : card ? "card" : "account")]
            if let account { payment["member"] = .string(account) }
            if let tendered {
                guard cash else { throw ValidationError("--tendered goes with --cash") }
                payment["tendered"] = .int(try TypedAmount.minorUnits(tendered, digits: digits))
            }
            body["payment"] = .object(payment)
        }
        if let member { body["member"] = .string(member) }
        try await connection.send(.saleCreate, body) { d in
            let lines = (d["lines"]?.arrayValue ?? []).map { "  \($0["qty"]?.intValue ?? 1) x \($0["name"]?.stringValue ?? "")  \($0["amount"]?.intValue ?? 0)" }
            return (["sale \(d["sale"]?.intValue ?? 0): \(d["amount_text"]?.stringValue ?? "") \(d["method"]?.stringValue ?? "")"] + lines
                + ["change: \(d["change_text"]?.stringValue ?? "0")"]).joined(separator: "\n")
        }
    }
}

struct ShiftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shift", abstract: "Your cash shift: open, pay in, pay out, report (X), close (Z).",
        subcommands: [Open.self, PayIn.self, PayOut.self, Report.self, Close.self])

    static func report(_ d: JSONValue) -> String {
        let r = d["report"] ?? d
        let cash = r["cash"]
        var out = ["shift \(d["shift"]?.intValue ?? 0) (\(d["staff"]?.stringValue ?? "")), \(r["type"]?.stringValue ?? "") report",
                   "sales: \(r["sales_count"]?.intValue ?? 0) for \(r["sales_total"]?.intValue ?? 0); net \(r["net_sales"]?.intValue ?? 0)"]
        for (method, amount) in (r["sales_by_method"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) { out.append("  \(method): \(amount.intValue ?? 0)") }
        for c in r["sales_by_category"]?.arrayValue ?? [] {
            out.append("  \(c["category"]?.stringValue ?? ""): \(c["qty"]?.intValue ?? 0) for \(c["amount"]?.intValue ?? 0) (tax \(c["tax"]?.intValue ?? 0))")
        }
        out.append("top-ups \(r["topups_total"]?.intValue ?? 0), refunds \(r["refunds_total"]?.intValue ?? 0), voids \(r["voids_total"]?.intValue ?? 0)")
        for v in r["voids"]?.arrayValue ?? [] {
            out.append("  void of sale \(v["refers_to"]?.intValue ?? 0) by \(v["by"]?.stringValue ?? "?"): \(v["reason"]?.stringValue ?? "")")
        }
        out.append("cash: float \(cash?["float"]?.intValue ?? 0) + in \(cash?["cash_in"]?.intValue ?? 0) - out \(cash?["cash_out"]?.intValue ?? 0) = expected \(cash?["expected"]?.intValue ?? 0)")
        if let counted = cash?["counted"]?.intValue { out.append("counted \(counted), difference \(cash?["difference"]?.intValue ?? 0)") }
        return out.joined(separator: "\n")
    }

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open your shift with the float counted into the drawer.")
        @Option(help: "The float, e.g. 100.00.") var float: String
        @Option(help: "A note kept with the shift.") var note: String?
        @OptionGroup var connection: Connection
        func run() async throws {
            var body: [String: JSONValue] = ["float": .int(try TypedAmount.minorUnits(float, digits: try await connection.currencyDigits()))]
            if let note { body["note"] = .string(note) }
            try await connection.send(.shiftOpen, body) { d in "shift \(d["shift"]?.intValue ?? 0) open, float \(d["float"]?.intValue ?? 0)" }
        }
    }

    struct PayIn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "payin", abstract: "Put cash into the drawer outside a sale.")
        @Option(help: "Amount, e.g. 50.00.") var amount: String
        @Option(help: "Why.") var reason: String
        @OptionGroup var connection: Connection
        func run() async throws {
            let minor = try TypedAmount.minorUnits(amount, digits: try await connection.currencyDigits())
            try await connection.send(.shiftPayIn, ["amount": .int(minor), "reason": .string(reason)], render: Render.saleRecord)
        }
    }

    struct PayOut: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "payout", abstract: "Take cash out of the drawer outside a sale.")
        @Option(help: "Amount, e.g. 12.00.") var amount: String
        @Option(help: "Why.") var reason: String
        @OptionGroup var connection: Connection
        func run() async throws {
            let minor = try TypedAmount.minorUnits(amount, digits: try await connection.currencyDigits())
            try await connection.send(.shiftPayOut, ["amount": .int(minor), "reason": .string(reason)], render: Render.saleRecord)
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Your open shift's X report, or a closed shift's Z report (--shift).")
        @Option(help: "A shift number.") var shift: Int64?
        @OptionGroup var connection: Connection
        func run() async throws {
            try await connection.send(.shiftGet, shift.map { ["shift": .int($0)] } ?? [:], render: ShiftCommand.report)
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close your shift with the cash counted: prints the Z report.")
        @Option(help: "Cash counted in the drawer, e.g. 412.50.") var counted: String
        @Option(help: "A note kept with the Z report.") var note: String?
        @OptionGroup var connection: Connection
        func run() async throws {
            var body: [String: JSONValue] = ["counted": .int(try TypedAmount.minorUnits(counted, digits: try await connection.currencyDigits()))]
            if let note { body["note"] = .string(note) }
            try await connection.send(.shiftClose, body, render: ShiftCommand.report)
        }
    }
}
