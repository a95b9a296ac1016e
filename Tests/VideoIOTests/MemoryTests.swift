import Foundation
import Testing
import VideoIO

/// Every FFmpeg object VideoIO creates is freed exactly once: opening, decoding, failing to open, and writing
/// many files in a loop leaves no object alive (a double free would crash the test process instead).
struct MemoryTests {
    @Test("decode and re-open many files: no FFmpeg object outlives its owner")
    func noLeaks() async throws {
        try withTemporaryDirectory { dir in
            let clip = dir.appendingPathComponent("loop.mp4").path
            try BadInputTests.writeClip(clip, frames: 30)
            let bogus = dir.appendingPathComponent("bogus.mp4").path
            try "not a video".write(toFile: bogus, atomically: true, encoding: .utf8)
            var paths = [clip]
            if Footage.available {
                paths += [Footage.path("highway-cinepak-320", "geneseeclip_short.avi"), Footage.path("bgs-highway-cctv-320", "video02.avi")]
            }
            let tracker = LiveObjectTracker()
            try VideoIODiagnostics.$tracker.withValue(tracker) {
                for iteration in 0..<25 {
                    var kept: [VideoFrame] = []
                    for path in paths {
                        let reader = try VideoReader(path: path, options: DecodeOptions(threads: 2))
                        var n = 0
                        // Stop early on some iterations: an unfinished reader must free as much as a finished one.
                        while let frame = try reader.nextFrame(), iteration % 3 != 1 || n < 7 {
                            if n % 10 == 0 { kept.append(frame) }
                            n += 1
                        }
                        #expect(tracker.liveObjects > 0)
                    }
                    #expect(throws: VideoIOError.self) { try VideoReader(path: bogus) }
                    let still = try JPEGWriter().encode(kept[0].picture())
                    #expect(!still.isEmpty)
                    kept.removeAll()
                    #expect(tracker.liveObjects == 0, "iteration \(iteration): \(tracker.liveObjects) FFmpeg objects still alive")
                }
                let out = dir.appendingPathComponent("out.mkv").path
                do {
                    let writer = try VideoWriter(path: out, width: 160, height: 120, settings: EncoderSettings(codec: .mpeg4))
                    for i in 0..<10 { try writer.write(testPattern(width: 160, height: 120, frame: i)) }
                    try writer.finish()
                }
                #expect(tracker.liveObjects == 0, "\(tracker.liveObjects) FFmpeg objects alive after writing")
            }
        }
    }

    @Test("a frame keeps its pixels after its reader is gone")
    func frameOutlivesReader() throws {
        try withTemporaryDirectory { dir in
            let clip = dir.appendingPathComponent("short.mp4").path
            try BadInputTests.writeClip(clip, frames: 5)
            var frame: VideoFrame?
            do {
                let reader = try VideoReader(path: clip)
                frame = try reader.nextFrame()
            }
            let kept = try #require(frame)
            let expected = lumaOf(testPattern(width: 320, height: 240, frame: 0))
            #expect(meanAbsoluteLumaDifference(kept, expected) < 3)
        }
    }
}
