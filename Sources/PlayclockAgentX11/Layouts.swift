import CX11
import PlayclockAgent

/// The lock screen, drawn the same on every monitor: venue, a big clock, the headline and detail,
/// the staff message in a box, the station and the hub status at the bottom. The monitor `formOn`
/// (an index into `monitors`, -1 for none) also gets the sign-in form, with a smaller clock.
enum LockLayout {
    static func paint(_ lock: LockScreen, clock: String, monitors: [Rect], formOn: Int = -1, canvas: Canvas, ink: Ink) {
        canvas.fill(Rect(x: 0, y: 0, width: canvas.width, height: canvas.height), Palette.background)
        for (index, monitor) in monitors.enumerated() {
            paint(lock, clock: clock, in: monitor, form: index == formOn ? lock.signIn : nil, canvas: canvas, ink: ink)
        }
    }

    private static func paint(_ lock: LockScreen, clock: String, in m: Rect, form: SignInForm?, canvas: Canvas, ink: Ink) {
        let s = Double(m.height) / 1080
        func px(_ v: Double) -> Int32 { Int32((v * s).rounded()) }
        let accent = Palette.accent(lock.reason)
        let cx = m.x + m.width / 2
        let textWidth = Int32(Double(m.width) * 0.78)
        // With the form, everything above it moves up and the clock shrinks to make room.
        let compact = form != nil

        // A thin accent band along the top edge.
        canvas.fill(Rect(x: m.x, y: m.y, width: m.width, height: max(3, px(6))), accent)

        if let venue = ink.font(.bold, px(30)) {
            canvas.centred(lock.venueName.uppercased(), centerX: cx, y: m.y + px(compact ? 84 : 104), venue, Palette.muted)
        }
        if let big = ink.font(.light, px(compact ? 130 : 210)) {
            canvas.centred(clock, centerX: cx, y: m.y + px(compact ? 250 : 390), big, Palette.text)
        }
        canvas.fill(Rect(x: cx - px(48), y: m.y + px(compact ? 288 : 448), width: px(96), height: max(2, px(5))), accent)

        var y = m.y + px(compact ? 370 : 560)
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
            y = top + boxHeight
        }
        if let form {
            SignInLayout.paint(form, centerX: cx, top: y + px(44), scale: s, canvas: canvas, ink: ink)
        }

        if let font = ink.font(.regular, px(26)) {
            canvas.centred(lock.stationName, centerX: cx, y: m.y + m.height - px(60), font, Palette.muted)
        }
        if !lock.hubReachable, let font = ink.font(.bold, px(22)) {
            canvas.centred("●  Hub offline", centerX: cx, y: m.y + m.height - px(108), font, Palette.offline)
        }
    }
}

/// The sign-in form: a title, the member id and PIN fields side by side (the PIN as dots, a caret
/// in the focused field), the note (`Signing in...`, the hub's refusal) and how to use the keys.
enum SignInLayout {
    static let errorRGB: UInt32 = 0xee5d50
    static let okRGB: UInt32 = 0x3ddc84

    static func paint(_ form: SignInForm, centerX cx: Int32, top: Int32, scale s: Double, canvas: Canvas, ink: Ink) {
        func px(_ v: Double) -> Int32 { Int32((v * s).rounded()) }
        let fieldWidth = px(380), gap = px(40), fieldHeight = px(66)
        let left = cx - fieldWidth - gap / 2
        if let font = ink.font(.bold, px(20)) {
            canvas.centred(form.title.uppercased(), centerX: cx, y: top + px(20), font, Palette.brand)
        }
        let labelY = top + px(66), boxY = top + px(80)
        let fields: [(SignInForm.Field, String, Int32)] = [(.member, form.memberLabel, left), (.pin, form.pinLabel, left + fieldWidth + gap)]
        for (field, label, x) in fields {
            if let font = ink.font(.regular, px(20)) { canvas.text(label, x: x, y: labelY, font, Palette.muted) }
            let focused = form.accepting && form.focus == field
            let border = max(1, focused ? px(3) : px(1))
            canvas.fill(Rect(x: x, y: boxY, width: fieldWidth, height: fieldHeight), focused ? Palette.brand : Palette.line)
            canvas.fill(Rect(x: x + border, y: boxY + border, width: fieldWidth - 2 * border, height: fieldHeight - 2 * border),
                        Palette.panel)
            let pad = px(20)
            var caretX = x + pad
            if field == .member, let font = ink.font(.regular, px(32)) {
                // A long id shows its end, where the typing happens.
                var shown = form.member
                while !shown.isEmpty, ink.width(shown, font) > fieldWidth - 2 * pad - px(8) { shown.removeFirst() }
                canvas.text(shown, x: x + pad, y: boxY + px(45), font, form.accepting ? Palette.text : Palette.muted)
                caretX += ink.width(shown, font) + px(3)
            }
            if field == .pin, let font = ink.font(.regular, px(26)) {
                let spacing = px(26)
                for i in 0..<form.pinLength {
                    canvas.text("●", x: x + pad + Int32(i) * spacing, y: boxY + px(43), font, form.accepting ? Palette.text : Palette.muted)
                }
                caretX += Int32(form.pinLength) * spacing
            }
            if focused {
                canvas.fill(Rect(x: caretX, y: boxY + px(15), width: max(2, px(3)), height: fieldHeight - px(30)), Palette.brand)
            }
        }
        var y = boxY + fieldHeight + px(50)
        if let note = form.note, !note.isEmpty, let font = ink.font(form.tone == .error ? .bold : .regular, px(26)) {
            let rgb: UInt32 = switch form.tone {
            case .error: errorRGB
            case .progress: Palette.brand
            case .info: okRGB
            }
            for line in ink.wrap(note, font, maxWidth: 2 * fieldWidth + gap, maxLines: 2) {
                canvas.centred(line, centerX: cx, y: y, font, rgb)
                y += px(34)
            }
        } else {
            y += px(34)
        }
        if let font = ink.font(.regular, px(18)) {
            canvas.centred(form.hint, centerX: cx, y: y + px(8), font, Palette.muted)
        }
    }
}

/// The sign-out button's window under the overlay, as wide as the overlay.
enum SignOutLayout {
    static func size(monitorHeight: Int32, overlayWidth: Int32) -> (width: Int32, height: Int32, gap: Int32) {
        let s = max(0.6, Double(monitorHeight) / 1080)
        return (overlayWidth, Int32((44 * s).rounded()), Int32((8 * s).rounded()))
    }

    static func paint(_ button: SignOutButton, monitorHeight: Int32, canvas: Canvas, ink: Ink) {
        let s = max(0.6, Double(monitorHeight) / 1080)
        func px(_ v: Double) -> Int32 { Int32((v * s).rounded()) }
        canvas.fill(Rect(x: 0, y: 0, width: canvas.width, height: canvas.height), button.enabled ? Palette.brand : Palette.line)
        canvas.fill(Rect(x: 2, y: 2, width: canvas.width - 4, height: canvas.height - 4), Palette.panel)
        if let font = ink.font(.bold, px(18)) {
            canvas.centred(button.label, centerX: canvas.width / 2, y: canvas.height / 2 + px(7), font,
                           button.enabled ? Palette.text : Palette.muted)
        }
    }
}

/// The countdown overlay: the time left, large and coloured by tone, the station name, and when
/// set the member and their balance, the notice, the staff message and the offline line (the
/// window grows to show them).
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
        if let member = overlay.member {
            let text = member.balanceText.isEmpty ? member.name : "\(member.name) · \(member.balanceText)"
            wanted.append(Line(text: text, face: .bold, size: 16, rgb: Palette.text))
        }
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
