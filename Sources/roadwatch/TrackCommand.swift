import ArgumentParser
import Detection
import Foundation
import TrafficModel
import Tracking
import VideoIO

struct TrackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "track",
        abstract: "Detect and track vehicles and read the signal: writes NAME.tracks.csv (MOT) and NAME.signal.csv.",
        discussion: """
            The stage on its own, for inspection and scoring (`roadwatch score RECORDS TRUTH --tracks NAME.tracks.csv`). \
            Until pipeline configs exist, the signal's lamps and the regions to ignore are given as options.
            """
    )

    @Argument(help: "Videos.", completion: .file())
    var videos: [String]

    @Option(help: "Output folder.")
    var out: String

    @Option(name: .customLong("lamp"), help: "A signal lamp as PHASE:X,Y,RADIUS in pixels (red, amber, green); give all three.")
    var lamps: [String] = []

    @Option(name: .customLong("ignore"), help: "A region where motion is never a vehicle, X,Y,W,H in pixels (repeatable).")
    var ignore: [String] = []

    @Option(help: "Decoder threads.")
    var threads = 2

    @Option(help: "Boxes from another detector, a MOT CSV (frame,id,x,y,w,h,conf,...; frames from 1), used instead of the motion detector. One video only.")
    var detections: String?

    @Option(help: "With --detections: drop boxes scored lower than this.")
    var minimumConfidence = 0.0

    func validate() throws {
        if detections != nil && videos.count != 1 { throw ValidationError("--detections belongs to one video; give one") }
        _ = try parsedLamps()
        _ = try parsedIgnore()
    }

    func parsedLamps() throws -> [LampRegion] {
        try lamps.map { text in
            let parts = text.split(separator: ":")
            let numbers = parts.count == 2 ? parts[1].split(separator: ",").compactMap { Double($0) } : []
            guard parts.count == 2, let phase = SignalPhase(rawValue: String(parts[0])), phase != .unknown, numbers.count == 3, numbers[2] > 0 else {
                throw ValidationError("--lamp '\(text)': expected PHASE:X,Y,RADIUS, e.g. red:560,190,6")
            }
            return LampRegion(phase: phase, center: Point2(numbers[0], numbers[1]), radius: numbers[2])
        }
    }

    func parsedIgnore() throws -> [Box] {
        try ignore.map { text in
            let n = text.split(separator: ",").compactMap { Double($0) }
            guard n.count == 4, n[2] > 0, n[3] > 0 else { throw ValidationError("--ignore '\(text)': expected X,Y,W,H") }
            return Box(x: n[0], y: n[1], width: n[2], height: n[3])
        }
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let lampRegions = try parsedLamps()
        var options = MotionDetectorOptions()
        // The signal head changes by itself: never a vehicle.
        options.ignore = try parsedIgnore() + lampRegions.map(\.surroundings)
        let external = try detections.map { path -> ExternalDetections in
            do { return try ExternalDetections(path: path, minimumConfidence: minimumConfidence) } catch let error as MOTFormatError {
                throw ValidationError(error.description)
            }
        }
        var failed = 0
        for video in videos {
            do {
                let started = Date()
                let reader = try VideoReader(path: video, options: DecodeOptions(threads: threads))
                let detector = LookaheadDetector(options: options)
                let tracker = Tracker()
                let signal = lampRegions.isEmpty ? nil : SignalReader(lamps: lampRegions)
                var frames = 0
                while let frame = try reader.nextFrame() {
                    for found in external.map({ [$0.detections(at: FrameTime(index: frame.index, pts: frame.pts))] }) ?? detector.push(frame) {
                        tracker.update(found)
                    }
                    signal?.observe(frame)
                    frames += 1
                }
                if external == nil { for found in detector.finish() { tracker.update(found) } }
                let tracks = tracker.finish()
                let name = ((video as NSString).lastPathComponent as NSString).deletingPathExtension
                let tracksPath = (out as NSString).appendingPathComponent("\(name).tracks.csv")
                try motCSV(tracks).write(toFile: tracksPath, atomically: true, encoding: .utf8)
                var summary = String(format: "%@: %d frames, %d detections, %d tracks in %.1f s -> %@", name, frames, tracker.detectionsIn, tracks.count,
                                     Date().timeIntervalSince(started), tracksPath)
                if let signal {
                    let signalPath = (out as NSString).appendingPathComponent("\(name).signal.csv")
                    let rows = signal.timeline().intervals.map { String(format: "%@,%.4f,%.4f", $0.phase.rawValue, $0.start, $0.end) }
                    try (["phase,start_s,end_s"] + rows).joined(separator: "\n").appending("\n").write(toFile: signalPath, atomically: true, encoding: .utf8)
                    summary += ", \(signalPath)"
                }
                for warning in reader.warnings { printError("warning: \(warning)") }
                print(summary)
            } catch {
                failed += 1
                printError("error: \(error)")
            }
        }
        if failed > 0 { throw ExitStatus.someInputsFailed }
    }
}
