import ArgumentParser
import Foundation
import PlayclockAuth
import PlayclockContract
import PlayclockHub

/// Dashboard sign-in accounts and the wall board's token: files on the hub box.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Manage dashboard sign-in passwords and the wall board token (run on the hub box).",
        discussion: """
            Passwords are stored as bcrypt hashes in the file named by http.users_file in the hub's \
            config (or playclockd --dashboard-users). An account's role comes from "roles" in the \
            same config, as for MQTT requests: an account without a role cannot sign in. Changes \
            take effect at the next sign-in; no restart is needed.
            """,
        subcommands: [Passwd.self, Remove.self, BoardToken.self])

    static let defaultFile = "/etc/playclock/dashboard.passwd"

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account or change its password.",
            discussion: "Without --password-file a random password is generated and printed once.")
        @Argument(help: "Account name: 1-64 of A-Z a-z 0-9 _ - .") var account: String
        @Option(help: "Dashboard password file (created with mode 0600 if missing).") var file: String = DashboardCommand.defaultFile
        @Option(help: "File whose first line is the password to set (8 to 72 bytes).") var passwordFile: String?
        @Option(help: "bcrypt cost, 10 to 16 (default 12; each step doubles the time a sign-in takes).") var cost: UInt8 = 12

        func validate() throws {
            guard StaffPasswordFile.isValidAccount(account) else { throw ValidationError("account must be 1-64 of A-Z a-z 0-9 _ - .") }
            guard (10...16).contains(cost) else { throw ValidationError("--cost must be 10 to 16") }
        }

        func run() throws {
            let password: String
            if let passwordFile {
                do { password = try HubConfiguration.readPassword(passwordFile) } catch { throw ValidationError(error.description) }
            } else {
                password = randomSecret(length: 16)
            }
            do {
                var accounts = FileManager.default.fileExists(atPath: file) ? try StaffPasswordFile.read(file) : StaffPasswordFile()
                try accounts.setPassword(password, for: account, cost: cost)
                try accounts.write(to: file)
            } catch {
                throw ValidationError(error.description)
            }
            print(passwordFile == nil ? "\(account) \(password)" : "\(account) updated")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an account's dashboard password (it can no longer sign in).",
            discussion: "Browsers already signed in as the account keep their session until it expires or the hub restarts.")
        @Argument(help: "Account name.") var account: String
        @Option(help: "Dashboard password file.") var file: String = DashboardCommand.defaultFile

        func run() throws {
            do {
                var accounts = try StaffPasswordFile.read(file)
                guard accounts.remove(account) else { throw ValidationError("\(account) is not in \(file)") }
                try accounts.write(to: file)
            } catch let error as StaffPasswordFile.Error {
                throw ValidationError(error.description)
            }
            print("\(account) removed")
        }
    }

    struct BoardToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "board-token",
            abstract: "Create the wall board's read-only token and print the board's link.",
            discussion: """
                Point http.board_token_file (or playclockd --board-token-file) at the file and \
                restart the hub. The board link shows the floor without signing in and cannot \
                change anything; make a new token (--force) to revoke a leaked link.
                """)
        @Option(help: "Token file to write (mode 0600).") var out: String = "/etc/playclock/board.token"
        @Option(help: "The dashboard's address, for the printed link.") var url: String = "http://127.0.0.1:8080"
        @Flag(help: "Replace an existing token (the old board link stops working after a hub restart).") var force = false

        func run() throws {
            guard force || !FileManager.default.fileExists(atPath: out) else {
                throw ValidationError("\(out) exists; use --force to replace it")
            }
            let token = randomSecret(length: 32)
            guard FileManager.default.createFile(atPath: out, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
            else {
                throw ValidationError("cannot write \(out)")
            }
            print("\(url)/board?token=\(token)")
        }
    }
}
