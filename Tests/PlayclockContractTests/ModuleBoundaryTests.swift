import Foundation
import Testing

/// The import rules of docs/architecture.md, read off the sources: the contract and the core
/// stay pure, and the programs that only talk to the hub (and the password file the CLI shares
/// with the dashboard) see only the contract.
@Suite("Module boundaries")
struct ModuleBoundaryTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    /// Every module imported by the Swift files under `Sources/<folder>`.
    private func imports(of folder: String) throws -> Set<String> {
        let root = Self.sources.appendingPathComponent(folder)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var found: Set<String> = []
        var files = 0
        for case let url as URL in walker where url.pathExtension == "swift" {
            files += 1
            for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
                let words = line.split(separator: " ")
                if let i = words.firstIndex(of: "import"), i + 1 < words.count, words[..<i].allSatisfy({ $0.hasPrefix("@") }) {
                    found.insert(String(words[i + 1]))
                }
            }
        }
        #expect(files > 0, "no sources under \(folder)")
        return found
    }

    @Test func theContractImportsOnlyFoundation() throws {
        #expect(try imports(of: "PlayclockContract").isSubset(of: ["Foundation"]))
    }

    @Test func theCoreImportsOnlyTheContractAndHeap() throws {
        #expect(try imports(of: "PlayclockCore").isSubset(of: ["PlayclockContract", "HeapModule"]))
    }

    @Test func theAgentsCoreImportsOnlyTheContract() throws {
        #expect(try imports(of: "PlayclockAgent") == ["PlayclockContract"])
    }

    @Test(arguments: ["PlayclockSim", "playclock-sim", "playclock-bench", "PlayclockAuth", "PlayclockAgentX11", "playclock-agent"])
    func clientsOfTheHubSeeOnlyTheContract(_ folder: String) throws {
        let used = try imports(of: folder)
        #expect(used.isDisjoint(with: ["PlayclockCore", "PlayclockHub", "PlayclockWeb"]), "\(folder) imports \(used)")
        #expect(used.contains("PlayclockContract"))
    }
}
