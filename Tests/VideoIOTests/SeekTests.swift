import Foundation
import Testing
import VideoIO

/// Seeking, for evidence from a stretch of a long file: the frames from the target on are the frames a decode from
/// the start gives (same times, same indices, same pixels).
struct SeekTests {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SampleVideo/junction-day.mp4").path

    func luma(_ f: VideoFrame) -> [UInt8] { f.picture().planes[0] }

    @Test("after a seek to 10 s, every frame from 10 s on matches the sequential decode", arguments: [10.0, 0.0, 21.37])
    func seekMatches(_ target: Double) throws {
        let sequential = try VideoReader(path: Self.sample)
        var reference: [Int: (pts: Double, luma: [UInt8])] = [:]
        while let f = try sequential.nextFrame() {
            if f.pts >= target - 1e-9 && f.pts < target + 1.0 { reference[f.index] = (f.pts, luma(f)) }
        }
        let reader = try VideoReader(path: Self.sample)
        #expect(try reader.seek(toSeconds: target))
        var compared = 0, first: Double?
        while let f = try reader.nextFrame(), f.pts < target + 1.0 {
            if first == nil { first = f.pts }
            guard f.pts >= target - 1e-9 else { continue }
            let r = try #require(reference[f.index], "frame \(f.index) at \(f.pts)")
            #expect(r.pts == f.pts)
            #expect(r.luma == luma(f), "frame \(f.index)")
            compared += 1
        }
        // Decoding restarted at a key frame at or before the target.
        #expect(try #require(first) <= target + 1e-9)
        #expect(compared == reference.count && compared >= 24)
    }
}
