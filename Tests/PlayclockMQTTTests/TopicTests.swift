import PlayclockMQTT
import Testing

@Suite struct TopicNameTests {
    @Test(arguments: ["a", "sport/tennis/player1", "/", "//", "/finance", "sport/", "$SYS/broker/load", "a b/ü/🎾"])
    func validTopicNames(_ name: String) throws {
        #expect(try MQTTTopic(name).value == name)
    }

    @Test func emptyIsRejected() {
        #expect(throws: MQTTTopicError.empty) { try MQTTTopic("") }
    }

    @Test(arguments: ["+", "sport/+", "sport/#", "#", "a+b", "a#b", "sport/tennis/#"])
    func wildcardsAreRejectedInNames(_ name: String) {
        #expect(throws: MQTTTopicError.wildcardInTopicName(name)) { try MQTTTopic(name) }
    }

    @Test func nulIsRejected() {
        #expect(throws: MQTTTopicError.containsNUL) { try MQTTTopic("a\u{0}b") }
        #expect(throws: MQTTTopicError.containsNUL) { try MQTTTopicFilter("a/\u{0}/#") }
    }

    @Test func lengthIsCountedInUTF8Bytes() throws {
        _ = try MQTTTopic(String(repeating: "a", count: 65535))
        #expect(throws: MQTTTopicError.tooLong(byteCount: 65536)) {
            try MQTTTopic(String(repeating: "a", count: 65536))
        }
        // 21846 × "é" is 43692 bytes; 32768 × "é" is 65536 bytes although only 32768 characters.
        _ = try MQTTTopic(String(repeating: "é", count: 21846))
        #expect(throws: MQTTTopicError.tooLong(byteCount: 65536)) {
            try MQTTTopic(String(repeating: "é", count: 32768))
        }
        #expect(throws: MQTTTopicError.tooLong(byteCount: 65537)) {
            try MQTTTopicFilter(String(repeating: "a", count: 65535) + "/#")
        }
    }

    @Test func equalityIsByteWise() throws {
        let composed = try MQTTTopic("caf\u{E9}")
        let decomposed = try MQTTTopic("cafe\u{301}")
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
        #expect(try MQTTTopic("a/b") == MQTTTopic("a/b"))
        #expect(composed.description == "caf\u{E9}")
    }

    @Test func errorsHaveReadableDescriptions() {
        #expect(MQTTTopicError.empty.description == "MQTT topic must not be empty")
        #expect(MQTTTopicError.wildcardInTopicName("a/+").description.contains("'a/+'"))
        #expect(MQTTTopicError.tooLong(byteCount: 70000).description.contains("70000"))
        #expect(MQTTTopicError.misplacedMultiLevelWildcard("a/#/b").description.contains("'#'"))
        #expect(MQTTTopicError.misplacedSingleLevelWildcard("a+").description.contains("'+'"))
    }
}

@Suite struct TopicFilterValidationTests {
    @Test(arguments: [
        "#", "+", "+/+", "/+", "+/", "sport/#", "sport/tennis/#", "sport/+/player1", "+/tennis/#",
        "sport/tennis/player1", "$SYS/#", "//", "/#", "a//+//#",
    ])
    func validFilters(_ filter: String) throws {
        #expect(try MQTTTopicFilter(filter).value == filter)
    }

    @Test(arguments: ["sport/tennis#", "sport/tennis/#/ranking", "#/", "##", "a/#b", "#/#", "a#"])
    func misplacedMultiLevelWildcard(_ filter: String) {
        #expect(throws: MQTTTopicError.misplacedMultiLevelWildcard(filter)) { try MQTTTopicFilter(filter) }
    }

    @Test(arguments: ["sport+", "sport/+tennis", "++", "a/b+/c", "+a/#"])
    func misplacedSingleLevelWildcard(_ filter: String) {
        #expect(throws: MQTTTopicError.misplacedSingleLevelWildcard(filter)) { try MQTTTopicFilter(filter) }
    }

    @Test func emptyIsRejected() {
        #expect(throws: MQTTTopicError.empty) { try MQTTTopicFilter("") }
    }
}

@Suite struct TopicFilterMatchingTests {
    private func matches(_ filter: String, _ topic: String) throws -> Bool {
        try MQTTTopicFilter(filter).matches(topic)
    }

    // MQTT 5 §4.7.1.2: "sport/tennis/player1/#" examples.
    @Test func multiLevelWildcardSpecExamples() throws {
        #expect(try matches("sport/tennis/player1/#", "sport/tennis/player1"))
        #expect(try matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"))
        #expect(try matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"))
        #expect(try matches("sport/#", "sport"))
        #expect(try matches("sport/#", "sport/"))
        #expect(try !matches("sport/tennis/player1/#", "sport/tennis/player2"))
        #expect(try !matches("sport/tennis/player1/#", "sport/tennis"))
        #expect(try !matches("sport/#", "sports"))
    }

    @Test func multiLevelWildcardAloneMatchesEverythingNotStartingWithDollar() throws {
        for topic in ["a", "/", "a/b/c", "/finance", "//", "x/"] {
            #expect(try matches("#", topic), "\(topic)")
        }
    }

    // MQTT 5 §4.7.1.3: single-level wildcard examples.
    @Test func singleLevelWildcardSpecExamples() throws {
        #expect(try matches("sport/tennis/+", "sport/tennis/player1"))
        #expect(try matches("sport/tennis/+", "sport/tennis/player2"))
        #expect(try !matches("sport/tennis/+", "sport/tennis/player1/ranking"))
        #expect(try !matches("sport/+", "sport"))
        #expect(try matches("sport/+", "sport/"))
        #expect(try matches("+", "sport"))
        #expect(try !matches("+", "/finance"))
        #expect(try matches("+/+", "/finance"))
        #expect(try matches("/+", "/finance"))
        #expect(try matches("+/tennis/#", "sport/tennis/player1/ranking"))
        #expect(try matches("sport/+/player1", "sport/tennis/player1"))
        #expect(try !matches("sport/+/player1", "sport/tennis/player2"))
    }

    @Test func emptyLevelsAreLevels() throws {
        #expect(try matches("a//b", "a//b"))
        #expect(try !matches("a/b", "a//b"))
        #expect(try matches("a/+/b", "a//b"))
        #expect(try matches("+", "x"))
        #expect(try matches("+/", "x/"))
        #expect(try !matches("+", "x/"))
        #expect(try matches("/", "/"))
        #expect(try matches("+/+", "/"))
        #expect(try !matches("+", "/"))
        #expect(try matches("//#", "//"))
    }

    // MQTT 5 §4.7.2: topics beginning with '$'.
    @Test func dollarTopicsAreNotMatchedByLeadingWildcards() throws {
        #expect(try !matches("#", "$SYS/broker/clients"))
        #expect(try !matches("+/monitor/Clients", "$SYS/monitor/Clients"))
        #expect(try !matches("+", "$SYS"))
        #expect(try matches("$SYS/#", "$SYS/monitor/Clients"))
        #expect(try matches("$SYS/#", "$SYS"))
        #expect(try matches("$SYS/monitor/+", "$SYS/monitor/Clients"))
        #expect(try matches("$SYS/+/Clients", "$SYS/monitor/Clients"))
        // Only the first character counts.
        #expect(try matches("+/x", "a$/x"))
        #expect(try matches("a/#", "a/$SYS"))
    }

    @Test func exactMatchIsByteWiseAndCaseSensitive() throws {
        #expect(try matches("Sport/Tennis", "Sport/Tennis"))
        #expect(try !matches("sport/tennis", "Sport/Tennis"))
        #expect(try !matches("sport/tennis", "sport/tennis "))
        #expect(try !matches("caf\u{E9}", "cafe\u{301}"))
        #expect(try matches("caf\u{E9}/+", "caf\u{E9}/\u{1F3BE}"))
    }

    @Test func lengthMismatchesDoNotMatch() throws {
        #expect(try !matches("a/b", "a"))
        #expect(try !matches("a", "a/b"))
        #expect(try !matches("a/b/c", "a/b"))
        #expect(try !matches("a/+", "a/b/c"))
        #expect(try !matches("a", ""))
        #expect(try !matches("#", ""))
    }
}
