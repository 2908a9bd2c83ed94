import Foundation
import PlayclockAuth
import Testing

@Suite struct StaffPasswordFileTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("playclock-pw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    @Test func passwordsAreStoredAsBcryptAndVerified() throws {
        var file = StaffPasswordFile()
        try file.setPassword("correct horse", for: "ann", cost: 4)
        let hash = try #require(file.hashes["ann"])
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(!file.text.contains("correct horse"))
        #expect(file.verify("correct horse", for: "ann"))
        #expect(!file.verify("correct horsE", for: "ann"))
        #expect(!file.verify("correct horse", for: "bob"))
    }

    @Test func writeAndReadRoundTripWithPrivateMode() throws {
        let path = directory.appendingPathComponent("dashboard.passwd").path
        var file = StaffPasswordFile()
        try file.setPassword("first password", for: "ann", cost: 4)
        try file.setPassword("second password", for: "max.k", cost: 4)
        try file.write(to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let read = try StaffPasswordFile.read(path)
        #expect(read == file)
        #expect(read.verify("second password", for: "max.k"))

        // A replaced file keeps the mode it was installed with.
        chmod(path, 0o640)
        var changed = read
        try changed.setPassword("third password", for: "ann", cost: 4)
        try changed.write(to: path)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o640)
        #expect(try StaffPasswordFile.read(path).verify("third password", for: "ann"))
        let removed = changed.remove("ann"), removedAgain = changed.remove("ann")
        #expect(removed)
        #expect(!removedAgain)
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["dashboard.passwd"])
    }

    @Test func badPasswordsAndNamesAreRefusedAndChangeNothing() throws {
        var file = StaffPasswordFile()
        try file.setPassword("correct horse", for: "ann", cost: 4)
        let before = file
        for (password, account) in [("short", "ann"), (String(repeating: "x", count: 73), "ann"), ("new\nline pw", "ann"),
                                    ("correct horse", "a/b"), ("correct horse", "a+b"), ("correct horse", "")] {
            #expect(throws: StaffPasswordFile.Error.self) { try file.setPassword(password, for: account, cost: 4) }
        }
        #expect(file == before)
    }

    @Test func aDamagedFileIsRefusedWithTheLineNumber() throws {
        let good = "$2b$04$" + String(repeating: "a", count: 53)
        #expect(try StaffPasswordFile.parse("# staff\n\nann:\(good)\n", source: "f").hashes.keys.sorted() == ["ann"])
        for (text, message) in [
            ("ann \(good)\n", "f line 1: expected account:hash"),
            ("ann:plaintext\n", "f line 1: ann's password is not a bcrypt hash"),
            ("ann:\(good)\nann:\(good)\n", "f line 2: ann appears twice"),
            ("a/b:\(good)\n", "f line 1: account must be"),
        ] {
            #expect {
                try StaffPasswordFile.parse(text, source: "f")
            } throws: { error in
                (error as? StaffPasswordFile.Error)?.description.hasPrefix(message) == true
            }
        }
    }
}
