import CX11
import PlayclockAgent

/// The lock screen, drawn the same on every monitor: venue, a big clock, the headline and detail,
/// the staff message in a box, the station and the hub status at the bottom.
enum LockLayout {
    static func paint(_ lock: LockScreen, clock: String, monitors: [Rect], canvas: Canvas, ink: Ink) {
        canvas.fill(Rect(x: 0, y: 0, width: canvas.width, height: canvas.height), Palette.background)
        for monitor in monitors { paint(lock, clock: clock, in: monitor, canvas: canvas, ink: ink) }
    }

    private static func paint(_ lock: LockScreen, clock: String, in m: Rect, canvas: Canvas, ink: Ink) {
        let s = Double(m.height) / 1080
        func px(_ v: Double) -> Int32 { Int32((v * s).rounded()) }
        let accent = Palette.accent(lock.reason)
        let cx = m.x + m.width / 2
        let textWidth = Int32(Double(m.width) * 0.78)

        // A thin accent band along the top edge.
        canvas.fill(Rect(x: m.x, y: m.y, width: m.width, height: max(3, px(6))), accent)

        if let venue = ink.font(.bold, px(30)) {
            canvas.centred(lock.venueName.uppercased(), centerX: cx, y: m.y + px(104), venue, Palette.muted)
        }
        if let big = ink.font(.light, px(210)) {
            canvas.centred(clock, centerX: cx, y: m.y + px(390), big, Palette.text)
        }
        canvas.fill(Rect(x: cx - px(48), y: m.y + px(448), width: px(96), height: max(2, px(5))), accent)

        var y = m.y + px(560)
        if let font = ink.font(.bold, px(62)) {
            for line in ink.wrap(lock.headline, font, maxWidth: textWidth, maxLines: 3) {
                canvas.centred(line, centerX: cx, y: y, font, Palette.text)
                y += px(78)
            }
        }
        if let detail = lock.detail, !detail.isEmpty, let font = ink.font(.regular, px(32)) {
            y += px(6)
            for line in ink.wrap(detail, font, maxWidth: textWidth, maxLines: 3) {
                canvas.centred(line, centerX: cx, y: y, font, Palette.muted)
                y += px(46)
            }
        }
        if let message = lock.staffMessage, !message.isEmpty,
           let font = ink.font(.regular, px(32)), let label = ink.font(.bold, px(18)) {
            let pad = px(28)
            let maxBox = Int32(Double(m.width) * 0.6)
            let lines = ink.wrap(message, font, maxWidth: maxBox - 2 * pad, maxLines: 4)
            let widest = lines.map { ink.width($0, font) }.max() ?? 0
            let boxWidth = min(maxBox, max(px(420), widest + 2 * pad))
            let lineHeight = px(44)
            let boxHeight = pad + px(24) + px(14) + Int32(lines.count) * lineHeight + pad - px(10)
            let top = y + px(30)
            let box = Rect(x: cx - boxWidth / 2, y: top, width: boxWidth, height: boxHeight)
            canvas.fill(box, Palette.panel)
            canvas.fill(Rect(x: box.x, y: box.y, width: max(3, px(6)), height: box.height), accent)
            canvas.centred("MESSAGE FROM STAFF", centerX: cx, y: top + pad + px(16), label, accent)
            var ly = top + pad + px(24) + px(14) + px(30)
            for line in lines {
                canvas.centred(line, centerX: cx, y: ly, font, Palette.text)
                ly += lineHeight
            }
        }

        if let font = ink.font(.regular, px(26)) {
            canvas.centred(lock.stationName, centerX: cx, y: m.y + m.height - px(60), font, Palette.muted)
        }
        if !lock.hubReachable, let font = ink.font(.bold, px(22)) {
            canvas.centred("●  Hub offline", centerX: cx, y: m.y + m.height - px(108), font, Palette.offline)
        }
    }
}

/// The countdown overlay: the time left, large and coloured by tone, the station name, and when
/// set the notice, the staff message and the offline line (the window grows to show them).
enum OverlayLayout {
    struct Line {
        var text: String
        var face: Face
        var size: Double
        var rgb: UInt32
        /// Space above the line: more before a new item than between the lines of one.
        var gapBefore: Int32 = 0
    }

    /// The window's size for `overlay` on a monitor of `monitorHeight`, and how to paint it.
    static func size(_ overlay: Overlay, monitorHeight: Int32, ink: Ink) -> (width: Int32, height: Int32) {
        let (width, height, _) = layout(overlay, monitorHeight: monitorHeight, ink: ink)
        return (width, height)
    }

    static func paint(_ overlay: Overlay, monitorHeight: Int32, canvas: Canvas, ink: Ink) {
        let s = scale(monitorHeight)
        func px(_ v: Double) -> Int32 { Int32((v * s).rounded()) }
        let (width, height, extra) = layout(overlay, monitorHeight: monitorHeight, ink: ink)
        let tone = Palette.tone(overlay.tone)
        let pad = px(16)
        canvas.fill(Rect(x: 0, y: 0, width: width, height: height), Palette.line)
        canvas.fill(Rect(x: 1, y: 1, width: width - 2, height: height - 2), Palette.background)
        canvas.fill(Rect(x: 0, y: 0, width: max(3, px(5)), height: height), tone)

        let left = pad + px(6)
        // The station above the time left, so a long name never runs into `1:02:03`.
        if let font = ink.font(.regular, px(14)) {
            canvas.text(overlay.stationName, x: left, y: px(28), font, Palette.muted)
        }
        if let font = ink.font(.bold, px(44)) {
            canvas.text(Overlay.clock(overlay.remainingSeconds), x: left - px(2), y: px(74), font, tone)
        }
        var y = px(90)
        for (line, font) in extra {
            y += line.gapBefore + Int32(font.pointee.ascent)
            canvas.text(line.text, x: left, y: y, font, line.rgb)
            y += Int32(font.pointee.descent)
        }
    }

    private static func scale(_ monitorHeight: Int32) -> Double { max(0.6, Double(monitorHeight) / 1080) }

    private static func layout(_ overlay: Overlay, monitorHeight: Int32, ink: Ink)
        -> (Int32, Int32, [(Line, UnsafeMutablePointer<XftFont>)]) {
        let s = scale(monitorHeight)
        func px(_ v: Double) -> Int32 { Int32((v * s).rounded()) }
        let width = px(300)
        let textWidth = width - px(16) * 2 - px(6)
        var wanted: [Line] = []
        if let notice = overlay.notice, !notice.isEmpty {
            wanted.append(Line(text: notice, face: .bold, size: 17, rgb: Palette.tone(overlay.tone)))
        }
        if let message = overlay.staffMessage, !message.isEmpty {
            wanted.append(Line(text: message, face: .regular, size: 16, rgb: Palette.text))
        }
        if !overlay.hubReachable, !overlay.offlineText.isEmpty {
            wanted.append(Line(text: overlay.offlineText, face: .regular, size: 14, rgb: Palette.offline))
        }
        var lines: [(Line, UnsafeMutablePointer<XftFont>)] = []
        var height = px(90)
        for item in wanted {
            guard let font = ink.font(item.face, px(item.size)) else { continue }
            for (index, text) in ink.wrap(item.text, font, maxWidth: textWidth, maxLines: 3).enumerated() {
                var line = item
                line.text = text
                line.gapBefore = index == 0 ? px(8) : px(1)
                lines.append((line, font))
                height += line.gapBefore + Int32(font.pointee.ascent + font.pointee.descent)
            }
        }
        if !lines.isEmpty { height += px(14) }
        return (width, height, lines)
    }
}
