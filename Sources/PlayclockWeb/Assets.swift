import HTTPTypes
import Hummingbird

/// The dashboard's browser files, embedded in the binary at build time from `Assets/` (plain
/// HTML, CSS and JavaScript modules; nothing is fetched from anywhere else).
struct Asset: Sendable {
    let path: String
    let contentType: String
    let bytes: [UInt8]

    func response() -> Response {
        Response(status: .ok, headers: [
            .contentType: contentType,
            // Pages and scripts change with the binary: always revalidate.
            .cacheControl: "no-cache",
            .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

enum Assets {
    static let all: [Asset] = [
        Asset(path: "/", contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html),
        Asset(path: "/board", contentType: "text/html; charset=utf-8", bytes: PackageResources.board_html),
        Asset(path: "/assets/style.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.style_css),
        Asset(path: "/assets/common.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.common_js),
        Asset(path: "/assets/app.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.app_js),
        Asset(path: "/assets/board.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.board_js),
    ]
}
