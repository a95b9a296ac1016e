internal import CFFmpeg

/// Read-only view of one image plane, valid only inside the closure that receives it.
public struct PlaneView {
    /// First byte of the first row.
    public let base: UnsafePointer<UInt8>
    public let width: Int
    public let height: Int
    /// Bytes from one row to the next (at least `width`).
    public let stride: Int

    /// A view of memory the caller owns for as long as the view is used (tests, pictures of Detection's own).
    public init(base: UnsafePointer<UInt8>, width: Int, height: Int, stride: Int) {
        precondition(width >= 0 && height >= 0 && stride >= width)
        self.base = base; self.width = width; self.height = height; self.stride = stride
    }

    @inlinable
    public subscript(x: Int, y: Int) -> UInt8 {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel outside the plane")
        return base[y &* stride &+ x]
    }

    /// Row `y` as a buffer of `width` bytes.
    @inlinable
    public func row(_ y: Int) -> UnsafeBufferPointer<UInt8> {
        precondition(y >= 0 && y < height, "row outside the plane")
        return UnsafeBufferPointer(start: base + y &* stride, count: width)
    }
}

/// Which plane of a frame.
public enum Plane: Int, Sendable {
    case luma = 0, chromaBlue = 1, chromaRed = 2
}

/// One decoded frame, in presentation order.
///
/// It holds a reference to FFmpeg's frame buffer (no pixel copy) and releases it when the
/// last reference to the `VideoFrame` goes. Pixels are read through `withPlane`, whose view
/// must not leave the closure. The layout is always 8-bit 4:2:0 or 8-bit gray: the reader
/// converts every other pixel format with libswscale before it hands a frame out.
public final class VideoFrame: @unchecked Sendable {
    /// 0-based position in decode output (presentation) order.
    public let index: Int
    /// Presentation time in seconds from the stream's start, strictly increasing within a file.
    public let pts: Double
    public let isKeyFrame: Bool
    /// The decoder flagged this frame as damaged (concealed errors).
    public let isCorrupt: Bool
    public let width: Int
    public let height: Int
    /// `.yuv420p` (3 planes) or `.gray8` (luma only).
    public let layout: Picture.Format
    /// Full-range (JPEG) levels instead of video range.
    public let isFullRange: Bool

    // Immutable after init: the decoder never writes into a frame it has output.
    private let frame: FrameBox

    init(frame: FrameBox, index: Int, pts: Double, layout: Picture.Format, isFullRange: Bool) {
        self.frame = frame
        self.index = index
        self.pts = pts
        self.isKeyFrame = rw_frame_is_key(frame.pointer) != 0
        self.isCorrupt = rw_frame_is_corrupt(frame.pointer) != 0
        self.width = Int(frame.pointer.pointee.width)
        self.height = Int(frame.pointer.pointee.height)
        self.layout = layout
        self.isFullRange = isFullRange
    }

    public var planeCount: Int { layout == .gray8 ? 1 : 3 }

    /// Calls `body` with a view of one plane. Chroma planes exist only for `.yuv420p`.
    public func withPlane<R>(_ plane: Plane, _ body: (PlaneView) throws -> R) rethrows -> R {
        precondition(plane.rawValue < planeCount, "this frame has no \(plane) plane")
        let f = frame.pointer.pointee
        let (w, h) = plane == .luma ? (width, height) : ((width + 1) / 2, (height + 1) / 2)
        let data: UnsafeMutablePointer<UInt8>?
        let linesize: Int32
        switch plane {
        case .luma: (data, linesize) = (f.data.0, f.linesize.0)
        case .chromaBlue: (data, linesize) = (f.data.1, f.linesize.1)
        case .chromaRed: (data, linesize) = (f.data.2, f.linesize.2)
        }
        guard let data else { preconditionFailure("decoded frame without plane data") }
        return try body(PlaneView(base: UnsafePointer(data), width: w, height: h, stride: Int(linesize)))
    }

    /// Calls `body` with the luma plane.
    public func withLuma<R>(_ body: (PlaneView) throws -> R) rethrows -> R {
        try withPlane(.luma, body)
    }

    /// A copy that Swift owns, in the same layout.
    public func picture() -> Picture {
        var picture = Picture(width: width, height: height, format: layout)
        for p in 0..<planeCount {
            withPlane(Plane(rawValue: p)!) { view in
                let rowBytes = picture.stride(ofPlane: p)
                picture.planes[p].withUnsafeMutableBufferPointer { out in
                    for y in 0..<view.height {
                        (out.baseAddress! + y * rowBytes).update(from: view.base + y * view.stride, count: rowBytes)
                    }
                }
            }
        }
        return picture
    }
}
