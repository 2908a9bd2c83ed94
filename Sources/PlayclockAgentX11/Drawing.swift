import CX11
import PlayclockAgent

/// A rectangle in root-window coordinates (a monitor, a window).
struct Rect: Equatable {
    var x: Int32
    var y: Int32
    var width: Int32
    var height: Int32
}

/// Colours as 0xRRGGBB, matching the dashboard's palette (PlayclockWeb's stylesheet).
enum Palette {
    static let background: UInt32 = 0x101318
    static let panel: UInt32 = 0x1a1f28
    static let line: UInt32 = 0x2a303b
    static let text: UInt32 = 0xe8ebf0
    static let muted: UInt32 = 0x9aa3b2
    static let brand: UInt32 = 0x4da3ff
    static let offline: UInt32 = 0xf0a830

    static func accent(_ reason: LockScreenReason) -> UInt32 {
        switch reason {
        case .starting, .idle, .transferred, .stopped: return brand
        case .expired: return 0xee5d50
        case .paused: return 0xf0a020
        case .maintenance: return 0x8296b3
        case .hubOffline: return 0xf0a830
        case .configurationError: return 0xe5343a
        }
    }

    static func tone(_ tone: Overlay.Tone) -> UInt32 {
        switch tone {
        case .green: return 0x3ddc84
        case .orange: return 0xff9f1a
        case .red: return 0xff4d4f
        }
    }
}

enum Face: String {
    case regular = "DejaVu Sans"
    case bold = "DejaVu Sans:bold"
    case light = "DejaVu Sans:style=ExtraLight"
}

/// Xft fonts and colours, opened on demand and kept (sizes follow monitor heights, so few).
final class Ink {
    private let dpy: OpaquePointer
    private let screen: Int32
    private let visual: UnsafeMutablePointer<Visual>
    private let colormap: Colormap
    private var fonts: [String: UnsafeMutablePointer<XftFont>] = [:]
    private var colors: [UInt32: XftColor] = [:]

    init(dpy: OpaquePointer, screen: Int32, visual: UnsafeMutablePointer<Visual>, colormap: Colormap) {
        self.dpy = dpy
        self.screen = screen
        self.visual = visual
        self.colormap = colormap
    }

    func font(_ face: Face, _ pixels: Int32) -> UnsafeMutablePointer<XftFont>? {
        let px = max(6, pixels)
        let name = "\(face.rawValue):pixelsize=\(px):antialias=true:hinting=true"
        if let font = fonts[name] { return font }
        if fonts.count > 64 { releaseFonts() }
        guard let font = XftFontOpenName(dpy, screen, name) ?? XftFontOpenName(dpy, screen, "sans:pixelsize=\(px)")
        else { return nil }
        fonts[name] = font
        return font
    }

    func color(_ rgb: UInt32) -> XftColor {
        if let color = colors[rgb] { return color }
        var value = XRenderColor(
            red: UInt16((rgb >> 16) & 0xff) * 257, green: UInt16((rgb >> 8) & 0xff) * 257,
            blue: UInt16(rgb & 0xff) * 257, alpha: 0xffff)
        var color = XftColor()
        _ = XftColorAllocValue(dpy, visual, colormap, &value, &color)
        colors[rgb] = color
        return color
    }

    /// The advance width of `text` in `font`.
    func width(_ text: String, _ font: UnsafeMutablePointer<XftFont>) -> Int32 {
        var bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return 0 }
        var info = XGlyphInfo()
        XftTextExtentsUtf8(dpy, font, &bytes, Int32(bytes.count), &info)
        return Int32(info.xOff)
    }

    /// `text` broken at spaces into lines no wider than `maxWidth` (a word wider than that gets
    /// its own line), at most `maxLines` (the last one ends with an ellipsis when cut).
    func wrap(_ text: String, _ font: UnsafeMutablePointer<XftFont>, maxWidth: Int32, maxLines: Int = 4) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                let candidate = line.isEmpty ? String(word) : line + " " + word
                if line.isEmpty || width(candidate, font) <= maxWidth {
                    line = candidate
                } else {
                    lines.append(line)
                    line = String(word)
                }
            }
            lines.append(line)
        }
        if lines.count > maxLines {
            lines = Array(lines.prefix(maxLines))
            lines[maxLines - 1] += " …"
        }
        return lines
    }

    func releaseFonts() {
        for font in fonts.values { XftFontClose(dpy, font) }
        fonts = [:]
    }

    func release() {
        releaseFonts()
        for var color in colors.values { XftColorFree(dpy, visual, colormap, &color) }
        colors = [:]
    }
}

/// An off-screen buffer (a pixmap with an Xft draw) a window is painted into, then copied to the
/// window in one `XCopyArea`: no flicker of half-drawn frames.
final class Canvas {
    private let dpy: OpaquePointer
    private let ink: Ink
    private let visual: UnsafeMutablePointer<Visual>
    private let colormap: Colormap
    private let depth: UInt32
    private let window: Window
    private let gc: GC
    private(set) var pixmap: Pixmap = 0
    private var draw: OpaquePointer?
    private(set) var width: Int32 = 0
    private(set) var height: Int32 = 0

    init(dpy: OpaquePointer, ink: Ink, window: Window, visual: UnsafeMutablePointer<Visual>, colormap: Colormap,
         depth: Int32) {
        self.dpy = dpy
        self.ink = ink
        self.window = window
        self.visual = visual
        self.colormap = colormap
        self.depth = UInt32(depth)
        gc = XCreateGC(dpy, window, 0, nil)
    }

    /// Makes the buffer `width` x `height` (a new pixmap only when the size changed).
    func resize(width: Int32, height: Int32) {
        guard width != self.width || height != self.height || draw == nil else { return }
        freeBuffer()
        self.width = max(1, width)
        self.height = max(1, height)
        pixmap = XCreatePixmap(dpy, window, UInt32(self.width), UInt32(self.height), depth)
        draw = XftDrawCreate(dpy, pixmap, visual, colormap)
    }

    func fill(_ rect: Rect, _ rgb: UInt32) {
        guard let draw, rect.width > 0, rect.height > 0 else { return }
        var color = ink.color(rgb)
        XftDrawRect(draw, &color, rect.x, rect.y, UInt32(rect.width), UInt32(rect.height))
    }

    /// Draws `text` with its baseline at `y`, starting at `x`.
    func text(_ text: String, x: Int32, y: Int32, _ font: UnsafeMutablePointer<XftFont>, _ rgb: UInt32) {
        guard let draw, !text.isEmpty else { return }
        var color = ink.color(rgb)
        var bytes = Array(text.utf8)
        XftDrawStringUtf8(draw, &color, font, x, y, &bytes, Int32(bytes.count))
    }

    /// Draws `text` centred on `centerX`, baseline at `y`.
    func centred(_ text: String, centerX: Int32, y: Int32, _ font: UnsafeMutablePointer<XftFont>, _ rgb: UInt32) {
        self.text(text, x: centerX - ink.width(text, font) / 2, y: y, font, rgb)
    }

    /// Copies the buffer (or the exposed part of it) to the window.
    func present(_ area: Rect? = nil) {
        guard pixmap != 0 else { return }
        let r = area ?? Rect(x: 0, y: 0, width: width, height: height)
        XCopyArea(dpy, pixmap, window, gc, r.x, r.y, UInt32(max(0, r.width)), UInt32(max(0, r.height)), r.x, r.y)
    }

    private func freeBuffer() {
        if let draw { XftDrawDestroy(draw) }
        if pixmap != 0 { XFreePixmap(dpy, pixmap) }
        draw = nil
        pixmap = 0
    }

    func release() {
        freeBuffer()
        XFreeGC(dpy, gc)
    }
}
