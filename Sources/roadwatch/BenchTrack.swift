import ArgumentParser
import Detection
import Foundation
import Pipeline
import TrafficModel
import Tracking
import VideoIO

struct BenchTrack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "track",
        abstract: "Per-stage cost of detection and tracking against decoding, in CPU milliseconds per frame.",
        discussion: "Decodes each clip alone and with the motion detector and tracker behind the decoder, alternately --repeats times, and times each stage's own work (thread CPU time of the analysis thread); each figure is the median of the repeats, the ratio that of the medians."
    )

    @Option(help: "Decoder threads.")
    var threads = 2

    @Option(help: "Runs of each kind per clip, alternated; the table gives their medians (the machine's own state moves a single run's figures by 10–20 %).")
    var repeats = 1

    @Option(help: "Write the result table into this Markdown file (its track section is replaced).")
    var markdown: String?

    @Argument(help: "Clips.", completion: .file())
    var clips: [String]

    func run() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        var lines = [
            "Measured \(DecodeBenchmark.timestamp()) at commit \(DecodeBenchmark.commit()) on \(DecodeBenchmark.machine()); decoder threads: \(threads); medians of \(repeats) alternated runs.",
            "",
            "| clip | size | frames | decode only, wall ms/frame | detection, CPU ms/frame | tracking (both passes), CPU ms/frame | (detection + tracking) / decode |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for clip in clips {
            var decode: [Double] = [], detect: [Double] = [], track: [Double] = []
            var frames = 0, info: (width: Int, height: Int) = (0, 0)
            for _ in 0..<repeats {
                // Decode alone.
                var start = DecodeBenchmark.monotonicSeconds()
                let plain = try VideoReader(path: clip, options: DecodeOptions(threads: threads))
                frames = 0
                while try plain.nextFrame() != nil { frames += 1 }
                info = (plain.info.width, plain.info.height)
                decode.append((DecodeBenchmark.monotonicSeconds() - start) * 1000 / Double(max(1, frames)))
                // Decode with detection and tracking, each timed on this thread's CPU clock.
                let reader = try VideoReader(path: clip, options: DecodeOptions(threads: threads))
                let detector = MotionDetector()
                let tracker = Tracker()
                var detectSeconds = 0.0, trackSeconds = 0.0
                var all: [FrameDetections] = []
                while let frame = try reader.nextFrame() {
                    start = CPUClock.thread()
                    let detections = detector.detect(frame)
                    let middle = CPUClock.thread()
                    tracker.update(detections, feeding: detector)
                    all.append(detections)
                    trackSeconds += CPUClock.thread() - middle
                    detectSeconds += middle - start
                }
                // The backward pass, as `run` makes it by default, counts as tracking.
                start = CPUClock.thread()
                _ = BackwardPass(options: TrackerOptions(), calibration: nil, road: nil).extend(tracker.finish(), detections: all)
                trackSeconds += CPUClock.thread() - start
                detect.append(detectSeconds * 1000 / Double(max(1, frames)))
                track.append(trackSeconds * 1000 / Double(max(1, frames)))
            }
            func median(_ values: [Double]) -> Double {
                let sorted = values.sorted(), k = sorted.count / 2
                return sorted.count % 2 == 1 ? sorted[k] : (sorted[k - 1] + sorted[k]) / 2
            }
            let decodeMs = median(decode), detectMs = median(detect), trackMs = median(track)
            let name = (clip as NSString).lastPathComponent
            let line = String(format: "| %@ | %dx%d | %d | %.2f | %.2f | %.3f | %.2f |", name, info.width, info.height, frames,
                              decodeMs, detectMs, trackMs, (detectMs + trackMs) / decodeMs)
            print(line)
            lines.append(line)
        }
        if let markdown {
            try DecodeBenchmark.replaceSection(in: markdown, name: "track", with: lines.joined(separator: "\n"))
            print("wrote \(markdown)")
        }
    }
}
