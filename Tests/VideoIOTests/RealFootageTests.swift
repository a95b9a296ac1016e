import Foundation
import Testing
import VideoIO

/// Decoding the real clips in ../shared/footage: every codec and container there, checked for frame
/// counts, timestamps, sizes and pixels (against the PNG stills that come with each clip).
@Suite(.enabled(if: Footage.available, Footage.skipNote))
struct RealFootageTests {
    struct Clip: Sendable, CustomTestStringConvertible {
        var folder: String
        var file: String
        var codec: String
        var width: Int
        var height: Int
        /// Frames FFmpeg's own CLI decodes from the clip (`ffmpeg -fps_mode passthrough -f null`, no duplicates).
        var frames: Int
        /// PNG stills beside the clip, with the second each was taken at.
        var stills: [(String, Double)]
        var testDescription: String { folder }
    }

    static let clips: [Clip] = [
        Clip(folder: "nl-motorway-overpass-720p", file: "traffic.mp4", codec: "h264", width: 1280, height: 720, frames: 335,
             stills: [("frame_1s.png", 1), ("frame_5s.png", 5), ("frame_10s.png", 10)]),
        Clip(folder: "vn-intersection-1630", file: "16h30.25.9.22.mp4", codec: "h264", width: 640, height: 480, frames: 384,
             stills: [("frame_2s.png", 2), ("frame_30s.png", 30), ("frame_55s.png", 55)]),
        Clip(folder: "arterial-overhead-h264avi", file: "traffic.avi", codec: "h264", width: 640, height: 480, frames: 247,
             stills: [("frame_1s.png", 1), ("frame_10s.png", 10), ("frame_30s.png", 30)]),
        Clip(folder: "cdnet2014-highway", file: "highway_cdnet2014_mjpeg.avi", codec: "mjpeg", width: 320, height: 240, frames: 1700,
             stills: [("frame_5s.png", 5), ("frame_40s.png", 40), ("frame_60s.png", 60)]),
        Clip(folder: "ngsim-us101-seq1", file: "ngsim_us101_seq1_test_mjpeg.avi", codec: "mjpeg", width: 640, height: 480, frames: 177,
             stills: [("frame_1s.png", 1), ("frame_15s.png", 15)]),
        Clip(folder: "highway-cinepak-320", file: "geneseeclip_short.avi", codec: "cinepak", width: 320, height: 240, frames: 135,
             stills: [("frame_1s.png", 1), ("frame_4s.png", 4), ("frame_8s.png", 8)]),
        Clip(folder: "bgs-highway-cctv-320", file: "video02.avi", codec: "mpeg4", width: 320, height: 240, frames: 748,
             stills: [("frame_2s.png", 2), ("frame_15s.png", 15), ("frame_28s.png", 28)]),
    ]

    @Test("decodes every frame with increasing timestamps and the right pixels", arguments: clips)
    func decodesClip(_ clip: Clip) throws {
        let (frames, reader) = try decodeAll(Footage.path(clip.folder, clip.file), threads: 2)
        #expect(reader.info.codec == clip.codec)
        #expect(reader.info.width == clip.width && reader.info.height == clip.height)
        #expect(frames.count == clip.frames, "decoded \(frames.count) frames, FFmpeg's CLI decodes \(clip.frames)")
        #expect(frames.enumerated().allSatisfy { $0.offset == $0.element.index })
        #expect(frames.allSatisfy { $0.width == clip.width && $0.height == clip.height })
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0.pts < $1.pts }, "timestamps must increase")
        #expect(frames.first.map { $0.pts < 0.5 } == true)
        #expect(frames.contains { $0.isKeyFrame })
        if let duration = reader.info.duration, let last = frames.last {
            #expect(abs(last.pts - duration) < 1.0, "last frame at \(last.pts) s, container says \(duration) s")
        }
        #expect(!reader.stats.truncated, "a complete clip must not be reported truncated: \(reader.warnings)")

        for (still, second) in clip.stills {
            let (stillFrames, _) = try decodeAll(Footage.path(clip.folder, still), threads: 1)
            let reference = try #require(stillFrames.first)
            let nearby = frames.filter { abs($0.pts - second) <= 0.6 }
            let differences = nearby.map { videoRangeLumaDifference($0, reference) }
            let best = differences.min() ?? .infinity
            #expect(best < 3, "\(still): no frame near \(second) s matches it (best mean luma difference \(best))")
            // The match must single out a frame: one a few seconds away differs clearly more.
            if let far = frames.first(where: { abs($0.pts - second) > 3 }) {
                #expect(videoRangeLumaDifference(far, reference) > best + 1, "\(still) does not discriminate frames")
            }
        }
    }

    @Test("the H.264 AVI with bitstream errors decodes to the end and counts the damage")
    func damagedStreamIsCounted() throws {
        let (frames, reader) = try decodeAll(Footage.path("arterial-overhead-h264avi", "traffic.avi"))
        #expect(frames.count == 247)
        #expect(reader.stats.decoderErrors > 10, "the clip's damaged NAL units must be counted")
        #expect(reader.warnings.contains { $0.contains("damaged stream") })
        #expect(reader.warnings.allSatisfy { $0.hasPrefix(Footage.path("arterial-overhead-h264avi", "traffic.avi")) })
    }

    @Test("one and two decoder threads give the same pixels")
    func threadCountDoesNotChangePixels() throws {
        let path = Footage.path("nl-motorway-overpass-720p", "traffic.mp4")
        let (one, _) = try decodeAll(path, threads: 1)
        let (two, _) = try decodeAll(path, threads: 2)
        #expect(one.count == two.count)
        for i in Swift.stride(from: 0, to: min(one.count, two.count), by: 37) {
            #expect(one[i].pts == two[i].pts)
            #expect(one[i].picture() == two[i].picture(), "frame \(i) differs between 1 and 2 threads")
        }
    }
}

/// Mean absolute luma difference after bringing both frames to video range (stills are RGB PNGs,
/// some clips are full-range JPEG).
func videoRangeLumaDifference(_ a: VideoFrame, _ b: VideoFrame) -> Double {
    func plane(_ f: VideoFrame) -> [Double] {
        f.withLuma { luma in
            var out = [Double](); out.reserveCapacity(luma.width * luma.height)
            for y in 0..<luma.height {
                for v in luma.row(y) { out.append(f.isFullRange ? 16 + Double(v) * 219 / 255 : Double(v)) }
            }
            return out
        }
    }
    let pa = plane(a), pb = plane(b)
    guard pa.count == pb.count else { return .infinity }
    // The stills were converted from RGB with other coefficients: remove the constant offset first.
    let offset = zip(pa, pb).reduce(0) { $0 + ($1.0 - $1.1) } / Double(pa.count)
    return zip(pa, pb).reduce(0) { $0 + abs($1.0 - $1.1 - offset) } / Double(pa.count)
}
