import PlayclockContract
@testable import PlayclockCore
import Testing

/// Hostile or broken plug firmware must not raise alarms: readings that are no plain number,
/// negative, not finite or beyond what a plug can carry change nothing.
@Suite("Plug: implausible readings")
struct PlugReadingPlausibilityTests {
    static let hostile: [(topic: String, payload: String)] = [
        ("shellies/shelly1-AB12/relay/0/power", "inf"),
        ("shellies/shelly1-AB12/relay/0/power", "-inf"),
        ("shellies/shelly1-AB12/relay/0/power", "nan"),
        ("shellies/shelly1-AB12/relay/0/power", "0x10"),
        ("shellies/shelly1-AB12/relay/0/power", "1e3"),
        ("shellies/shelly1-AB12/relay/0/power", "-20"),
        ("shellies/shelly1-AB12/relay/0/power", "12.5.1"),
        ("shellies/shelly1-AB12/relay/0/power", "5000"),
        ("shellies/shelly1-AB12/relay/0/power", ""),
        ("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":1e308}}"#),
        ("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":-65}}"#),
        ("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":"inf"}}"#),
        ("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":"0x10"}}"#),
        ("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":4000.5}}"#),
        ("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":[1e308]}}"#),
        ("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":true}}"#),
        ("venue/shellyplus-01/events/rpc",
         #"{"src":"d","method":"NotifyStatus","params":{"switch:0":{"id":0,"apower":1e300}}}"#),
        ("venue/shellyplus-01/events/rpc",
         #"{"src":"d","method":"NotifyStatus","params":{"switch:0":{"id":0,"apower":"Infinity"}}}"#),
        ("venue/shellyplus-01/events/rpc",
         #"{"src":"d","method":"NotifyStatus","params":{"switch:0":{"id":0,"apower":-3}}}"#),
    ]

    @Test(arguments: hostile)
    func anImplausibleReadingChangesNothingAndRaisesNoAlarm(_ reading: (topic: String, payload: String)) throws {
        var hub = PlugHub()
        let station = reading.topic.hasPrefix("shellies/") ? sh1Station : reading.topic.hasPrefix("tele/") ? tasStation : sh2Station
        let before = hub.plug(station)?["watts"]
        let counted = hub.core.implausiblePlugReadings
        let actions = hub.report(reading.topic, reading.payload)
        #expect(actions.events("plug.bypass").isEmpty, "\(reading.payload) raised a bypass")
        #expect(actions.events.isEmpty, "\(reading.payload): \(actions.eventTypes)")
        #expect(hub.plug(station)?["watts"] == before, "watts changed by \(reading.payload)")
        #expect(hub.core.implausiblePlugReadings == counted + 1, "\(reading.payload) not counted")
    }

    @Test func plausibleReadingsStillCount() throws {
        var hub = PlugHub()
        #expect(hub.report("shellies/shelly1-AB12/relay/0/power", "64.81").events("plug.bypass").count == 1)
        #expect(hub.plug(sh1Station)?["watts"]?.doubleValue == 64.8)  // shown to a tenth
        #expect(hub.report("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":3999}}"#).events("plug.bypass").count == 1)
        #expect(hub.report("shellies/shelly1-AB12/relay/0/power", "0").events.isEmpty)
        #expect(hub.core.implausiblePlugReadings == 0)
    }

    @Test func theMaximumFollowsThePolicy() throws {
        var policy = HubPolicy()
        policy.plugMaxWatts = 100
        var hub = PlugHub(policy: policy)
        #expect(hub.report("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":150}}"#).events.isEmpty)
        #expect(hub.core.implausiblePlugReadings == 1)
        #expect(hub.report("tele/ps5plug/SENSOR", #"{"ENERGY":{"Power":90}}"#).events("plug.bypass").count == 1)
    }

    @Test func plainDecimalAcceptsOnlyDigitsAndOneDot() {
        #expect(PlugReading.plainDecimal("64.81") == 64.81)
        #expect(PlugReading.plainDecimal("0") == 0)
        for text in ["", ".", "1.", ".5", "0x10", "inf", "nan", "1e3", "+1", "-1", " 1", "1 ", "1,5", String(repeating: "9", count: 33)] {
            #expect(PlugReading.plainDecimal(text) == nil, "\(text)")
        }
    }
}
