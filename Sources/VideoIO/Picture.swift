/// An image that Swift owns: planes in plain arrays, tightly packed (stride = plane width).
///
/// Pictures are what Roadwatch draws on and encodes: evidence stills, rendered sample
/// scenes and annotated frames. Decoded frames become pictures by copying (`VideoFrame.picture()`).
public struct Picture: Sendable, Equatable {
    public enum Format: String, Sendable, Codable {
        /// 8-bit Y, U, V; chroma at half width and height; limited (video) range.
        case yuv420p
        /// 8-bit interleaved R, G, B, full range.
        case rgb24
        /// 8-bit luma only, full range (as FFmpeg's gray format).
        case gray8
    }

    public let width: Int
    public let height: Int
    public let format: Format
    /// One array per plane: Y, U, V for yuv420p; a single RGB or gray plane otherwise.
    public var planes: [[UInt8]]

    /// A picture filled with one value per plane (for yuv420p: Y, U, V; for rgb24: R, G, B).
    public init(width: Int, height: Int, format: Format, fill: (UInt8, UInt8, UInt8) = (16, 128, 128)) {
        precondition(width > 0 && height > 0, "a picture needs a positive size")
        self.width = width
        self.height = height
        self.format = format
        switch format {
        case .yuv420p:
            let cw = (width + 1) / 2, ch = (height + 1) / 2
            planes = [
                [UInt8](repeating: fill.0, count: width * height),
                [UInt8](repeating: fill.1, count: cw * ch),
                [UInt8](repeating: fill.2, count: cw * ch),
            ]
        case .rgb24:
            var plane = [UInt8](repeating: 0, count: width * height * 3)
            for i in Swift.stride(from: 0, to: plane.count, by: 3) {
                plane[i] = fill.0
                plane[i + 1] = fill.1
                plane[i + 2] = fill.2
            }
            planes = [plane]
        case .gray8:
            planes = [[UInt8](repeating: fill.0, count: width * height)]
        }
    }

    /// A picture over existing planes (tightly packed, as `stride(ofPlane:)` says).
    public init(width: Int, height: Int, format: Format, planes: [[UInt8]]) {
        self.width = width
        self.height = height
        self.format = format
        self.planes = planes
        for i in planes.indices { precondition(planes[i].count == stride(ofPlane: i) * rows(ofPlane: i), "plane \(i) has the wrong size") }
    }

    /// Bytes per row of plane `index`.
    public func stride(ofPlane index: Int) -> Int {
        switch format {
        case .yuv420p: return index == 0 ? width : (width + 1) / 2
        case .rgb24: return width * 3
        case .gray8: return width
        }
    }

    /// Rows in plane `index`.
    public func rows(ofPlane index: Int) -> Int {
        format == .yuv420p && index > 0 ? (height + 1) / 2 : height
    }
}
