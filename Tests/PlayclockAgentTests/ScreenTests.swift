import Testing
import PlayclockAgent

@Suite struct OverlayClockTests {
    @Test func printsMinutesAndHours() {
        #expect(Overlay.clock(0) == "0:00")
        #expect(Overlay.clock(59) == "0:59")
        #expect(Overlay.clock(2527) == "42:07")
        #expect(Overlay.clock(3723) == "1:02:03")
        #expect(Overlay.clock(-5) == "0:00")
    }
}
