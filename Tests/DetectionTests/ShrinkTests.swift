import Testing
import VideoIO
@testable import Detection

/// The analysis image: each pixel the rounded mean of a factor × factor block, the vectorised factor 4 included,
/// checked against the definition on random planes with odd sizes and a stride wider than the width.
struct ShrinkTests {
    @Test("shrinking by 1…5 gives the rounded block mean at every pixel", arguments: [1, 2, 3, 4, 5])
    func blockMeans(factor: Int) {
        var state: UInt64 = 0x9E3779B97F4A7C15 &* UInt64(factor)
        for (width, height) in [(1923, 1081), (1281, 721), (64, 8), (67, 9), (77, 9), (16, 4)] {
            let stride = width + 13
            var bytes = [UInt8](repeating: 0, count: stride * height)
            for i in bytes.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                bytes[i] = UInt8(truncatingIfNeeded: state >> 56)
            }
            let image = bytes.withUnsafeBufferPointer { b in
                GrayImage(shrinking: PlaneView(base: b.baseAddress!, width: width, height: height, stride: stride), by: factor)
            }
            #expect(image.width == width / factor && image.height == height / factor)
            var wrong = 0
            for y in 0..<image.height {
                for x in 0..<image.width {
                    var sum = 0
                    for dy in 0..<factor { for dx in 0..<factor { sum += Int(bytes[(y * factor + dy) * stride + x * factor + dx]) } }
                    let area = factor * factor
                    if Int(image[x, y]) != (sum + area / 2) / area { wrong += 1 }
                }
            }
            #expect(wrong == 0, "\(wrong) wrong pixels at \(width)x\(height) by \(factor)")
        }
    }
}
