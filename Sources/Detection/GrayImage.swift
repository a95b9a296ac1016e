import Foundation
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

    /// The plane's pixels in columns `x ..< x + width` and rows `y ..< y + height` (inside the plane), unshrunk.
    public init(cropping plane: PlaneView, x: Int, y: Int, width: Int, height: Int) {
        precondition(x >= 0 && y >= 0 && width > 0 && height > 0 && x + width <= plane.width && y + height <= plane.height)
        var out = [UInt8](repeating: 0, count: width * height)
        out.withUnsafeMutableBufferPointer { dst in
            for row in 0..<height {
                (dst.baseAddress! + row * width).update(from: plane.base + (y + row) * plane.stride + x, count: width)
            }
        }
        self.init(width: width, height: height, pixels: out)
    }

    /// The plane shrunk by `factor` in both directions, each pixel the mean of a factor × factor block.
    public init(shrinking plane: PlaneView, by factor: Int) {
        let f = max(1, factor)
        let w = plane.width / f, h = plane.height / f
        var out = [UInt8](repeating: 0, count: w * h)
        let area = UInt32(f * f), half = area / 2
        let reciprocal = ((UInt64(1) << 32) + UInt64(area) - 1) / UInt64(area)
        out.withUnsafeMutableBufferPointer { dst in
            var sums = [UInt32](repeating: 0, count: w)
            var columns = [UInt16](repeating: 0, count: w * f + 16)
            var blockSums = [SIMD16<UInt16>](repeating: SIMD16<UInt16>(), count: f == 4 ? w / 8 : 0)
            blockSums.withUnsafeMutableBufferPointer { pairs in
            columns.withUnsafeMutableBufferPointer { column in
            sums.withUnsafeMutableBufferPointer { sum in
                for y in 0..<h {
                    // 1080p's factor, vectorised: 32 source bytes of a row to 16 pair sums at a time, the four rows
                    // one after another (each read front to back, so the whole plane is one stream through memory:
                    // the plane is mostly out of cache, and reading the four rows side by side stalled on it), then
                    // 8 output pixels from each block's sums, with the same rounding as below (the scalar loop
                    // finishes the row).
                    var done = 0
                    if f == 4 {
                        let blocks = w / 8
                        for dy in 0..<4 {
                            let row = UnsafeRawPointer(plane.base + (y * 4 + dy) * plane.stride)
                            for k in 0..<blocks {
                                let sums = Self.pairSums(row + 32 * k)
                                pairs[k] = dy == 0 ? sums : pairs[k] &+ sums
                            }
                        }
                        let out = dst.baseAddress! + y * w
                        for k in 0..<blocks {
                            // Adjacent pair sums added as 32-bit lanes: the sums of four columns (at most 4080).
                            let quads = unsafeBitCast(pairs[k], to: SIMD8<UInt32>.self)
                            let mean = (((quads & 0xFFFF) &+ (quads &>> 16)) &+ 8) &>> 4
                            for i in 0..<8 { out[8 * k + i] = UInt8(truncatingIfNeeded: mean[i]) }
                        }
                        done = 8 * blocks
                        if done == w { continue }
                    }
                    if f >= 2 && f <= 16 {
                        // Other factors (720p's 3): the f rows summed column by column, 16 columns at a time, then
                        // each output pixel the sum of its f column sums (f × f × 255 fits 16 bits up to f = 16).
                        let n = w * f
                        var x = 0
                        let top = plane.base + y * f * plane.stride
                        while x + 16 <= n {
                            var acc = SIMD16<UInt16>(truncatingIfNeeded: UnsafeRawPointer(top + x).loadUnaligned(as: SIMD16<UInt8>.self))
                            for dy in 1..<f {
                                acc &+= SIMD16<UInt16>(truncatingIfNeeded: UnsafeRawPointer(top + dy * plane.stride + x).loadUnaligned(as: SIMD16<UInt8>.self))
                            }
                            UnsafeMutableRawPointer(column.baseAddress! + x).storeBytes(of: acc, as: SIMD16<UInt16>.self)
                            x += 16
                        }
                        while x < n {
                            var v: UInt16 = 0
                            for dy in 0..<f { v &+= UInt16(top[dy * plane.stride + x]) }
                            column[x] = v
                            x += 1
                        }
                        // Division by the area as a multiplication by its rounded-up reciprocal: exact here (sums below
                        // 2^17, area at most 256), and a hardware divide per pixel was the shrink's largest cost.
                        let out = dst.baseAddress! + y * w
                        @inline(__always) func mean(_ total: UInt32) -> UInt8 {
                            UInt8(truncatingIfNeeded: (UInt64(total &+ half) &* reciprocal) &>> 32)
                        }
                        switch f {
                        case 2: for i in 0..<w { out[i] = mean(UInt32(column[2 * i]) &+ UInt32(column[2 * i + 1])) }
                        case 3: for i in 0..<w { out[i] = mean(UInt32(column[3 * i]) &+ UInt32(column[3 * i + 1]) &+ UInt32(column[3 * i + 2])) }
                        default:
                            for i in done..<w {
                                var total: UInt32 = 0
                                for k in 0..<f { total &+= UInt32(column[f * i + k]) }
                                out[i] = mean(total)
                            }
                        }
                        continue
                    }
                    // Factor 1 (a copy) and factors above 16, whose sums outgrow 16 bits.
                    for i in 0..<w { sum[i] = 0 }
                    for dy in 0..<f {
                        let row = plane.base + (y * f + dy) * plane.stride
                        for i in 0..<w { for k in 0..<f { sum[i] &+= UInt32(row[f * i + k]) } }
                    }
                    for i in 0..<w { dst[y * w + i] = UInt8((sum[i] + half) / area) }
                }
            }
            }
            }
        }
        self.init(width: w, height: h, pixels: out)
    }

    /// The sums of each 2 consecutive bytes of the 32 at `p`, as 16 lanes: the bytes read as 16-bit lanes (little
    /// endian), low byte plus high byte. Masks and shifts only: the compiler neither inlined the stdlib's widening
    /// conversion nor vectorised the even/odd shuffles it replaced (measured: the shrink was 40 % of detection).
    @inline(__always)
    static func pairSums(_ p: UnsafeRawPointer) -> SIMD16<UInt16> {
        let v = p.loadUnaligned(as: SIMD16<UInt16>.self)
        return (v & 0x00FF) &+ (v &>> 8)
    }

    @inlinable public subscript(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }
}

extension GrayImage {
    /// The image as a binary PGM file (P5, 8 bits), which image viewers and converters read.
    public var pgm: Data {
        var data = Data("P5\n\(width) \(height)\n255\n".utf8)
        data.append(contentsOf: pixels)
        return data
    }
}
