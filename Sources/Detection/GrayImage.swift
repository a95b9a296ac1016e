import VideoIO

/// An 8-bit single-channel image that Detection owns (tightly packed rows).
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int, value: UInt8 = 0) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: value, count: width * height))
    }

    /// The plane shrunk by `factor` in both directions, each pixel the mean of a factor × factor block.
    public init(shrinking plane: PlaneView, by factor: Int) {
        let f = max(1, factor)
        let w = plane.width / f, h = plane.height / f
        var out = [UInt8](repeating: 0, count: w * h)
        let area = UInt32(f * f), half = area / 2
        out.withUnsafeMutableBufferPointer { dst in
            var sums = [UInt32](repeating: 0, count: w)
            sums.withUnsafeMutableBufferPointer { sum in
                for y in 0..<h {
                    for i in 0..<w { sum[i] = 0 }
                    for dy in 0..<f {
                        let row = plane.base + (y * f + dy) * plane.stride
                        switch f {
                        case 1: for i in 0..<w { sum[i] &+= UInt32(row[i]) }
                        case 2: for i in 0..<w { sum[i] &+= UInt32(row[2 * i]) &+ UInt32(row[2 * i + 1]) }
                        case 3: for i in 0..<w { sum[i] &+= UInt32(row[3 * i]) &+ UInt32(row[3 * i + 1]) &+ UInt32(row[3 * i + 2]) }
                        case 4:
                            for i in 0..<w {
                                sum[i] &+= UInt32(row[4 * i]) &+ UInt32(row[4 * i + 1]) &+ UInt32(row[4 * i + 2]) &+ UInt32(row[4 * i + 3])
                            }
                        default:
                            for i in 0..<w { for k in 0..<f { sum[i] &+= UInt32(row[f * i + k]) } }
                        }
                    }
                    for i in 0..<w { dst[y * w + i] = UInt8((sum[i] + half) / area) }
                }
            }
        }
        self.init(width: w, height: h, pixels: out)
    }

    @inlinable public subscript(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }
}
