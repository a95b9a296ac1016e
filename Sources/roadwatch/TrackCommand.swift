import ArgumentParser
import Detection
import Foundation
import Pipeline
import TrafficModel
import Tracking
import VideoIO

struct TrackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "track",
        abstract: "Detect and track vehicles and read the signal: writes NAME.tracks.csv (MOT) and NAME.signal.csv.",
        discussion: """
            The stage on its own, for inspection and scoring (`roadwatch score RECORDS TRUTH --tracks NAME.tracks.csv`). \
            Given a pipeline file first (PIPELINE.yaml [VIDEO...]), it runs that camera's stages exactly as `roadwatch run` \
            does (detection, tracking and signal settings, calibration, lamps or controller log) and stops before the \
            rules; without videos, on the pipeline's inputs, as `run` does. Without a pipeline file, defaults are used and \
            the lamps, regions to ignore or external boxes are given as options.
            """
    )

    @Argument(help: ArgumentHelp("A pipeline file (.yaml), optionally, then videos (with a pipeline file, default: its inputs).", valueName: "pipeline.yaml|video"), completion: .file())
    var arguments: [String]

    /// The pipeline file when the first argument is one.
    var pipelinePath: String? {
        guard let first = arguments.first, [".yaml", ".yml"].contains(where: { first.lowercased().hasSuffix($0) }) else { return nil }
        return first
    }
    var videos: [String] { pipelinePath == nil ? arguments : Array(arguments.dropFirst()) }

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

    @Flag(help: "Also write the detector's boxes as they go into tracking, NAME.detections.csv (MOT, id -1, with their confidence; weak boxes that only continue tracks included).")
    var writeDetections = false

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Also write the motion detector's masks in these frames (numbered from 1, as in the MOT files), NAME.mask-FRAME.pgm at the analysis scale: white decides boxes, grey only joins a blob's parts (shadow, glow, closing).", valueName: "frame"))
    var masks: [Int] = []

    func validate() throws {
        if masks.contains(where: { $0 < 1 }) { throw ValidationError("--masks: frames are numbered from 1, as in the MOT files") }
        if !masks.isEmpty && detections != nil { throw ValidationError("--masks shows the motion detector's masks; there are none with --detections") }
        if pipelinePath != nil && (!lamps.isEmpty || !ignore.isEmpty || detections != nil) {
            throw ValidationError("--lamp, --ignore and --detections are set in the pipeline file (signal.lamps, detection.ignore, detection.external_file)")
        }
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

    /// A video's name: its file name without the extension.
    func name(_ video: String) -> String { ((video as NSString).lastPathComponent as NSString).deletingPathExtension }

    /// Where one video's outputs go, by its name.
    func outputPath(_ video: String, _ suffix: String) -> String {
        (out as NSString).appendingPathComponent("\(name(video)).\(suffix)")
    }

    /// What the stages gave for one video.
    struct Stages {
        var frames: Int, detections: Int
        var tracks: [Track]
        /// With --write-detections: each frame's boxes into tracking.
        var boxes: [FrameDetections]
        var timeline: PhaseTimeline?
        var warnings: [String]
        /// The pipeline's, for the tracks' ground coordinates.
        var calibration: Calibration?
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let config = try pipelinePath.map(loadPipeline)
        let analyse = try config.map(pipelineStages) ?? optionStages()
        var videos = videos
        if let config, let pipelinePath, videos.isEmpty {
            // The pipeline's inputs, as `roadwatch run` takes them.
            videos = footage([], of: config)
            guard !videos.isEmpty else { throw noFootage(pipelinePath) }
        }
        if let config, let pipelinePath { try checkAgainstInputs(config, videos, pipelinePath) }
        var failed = 0
        for video in videos {
            do {
                let started = Date()
                let result = try analyse(video)
                let tracksPath = outputPath(video, "tracks.csv")
                try MOTFile.text(result.tracks, calibration: result.calibration).write(toFile: tracksPath, atomically: true, encoding: .utf8)
                var summary = String(format: "%@: %d frames, %d detections, %d tracks in %.1f s -> %@", name(video),
                                     result.frames, result.detections, result.tracks.count, Date().timeIntervalSince(started), tracksPath)
                if writeDetections {
                    let detectionsPath = outputPath(video, "detections.csv")
                    try MOTFile.text(result.boxes).write(toFile: detectionsPath, atomically: true, encoding: .utf8)
                    summary += ", \(detectionsPath)"
                }
                if let timeline = result.timeline {
                    let signalPath = outputPath(video, "signal.csv")
                    try timeline.csv.write(toFile: signalPath, atomically: true, encoding: .utf8)
                    summary += ", \(signalPath)"
                }
                for warning in result.warnings { printError("warning: \(warning)") }
                print(summary)
            } catch {
                failed += 1
                printError("error: \(error)")
            }
        }
        if failed > 0 { throw ExitStatus.someInputsFailed }
    }

    /// The first mask picture that could not be written, to fail its video once the analysis is done.
    final class MaskFailure { var error: Error? }

    /// Writes the detector's mask picture for the frames asked for with --masks (nil when none are).
    func maskWriter(_ video: String, failure: MaskFailure) -> ((FrameTime, MotionDetector) -> Void)? {
        let wanted = Set(masks)
        guard !wanted.isEmpty else { return nil }
        return { time, detector in
            guard wanted.contains(time.index + 1), failure.error == nil else { return }
            let path = outputPath(video, "mask-\(time.index + 1).pgm")
            do { try detector.maskPicture.pgm.write(to: URL(fileURLWithPath: path)) } catch {
                failure.error = ValidationError("\(path): cannot write: \(error.localizedDescription)")
            }
        }
    }

    /// With a pipeline file: the stage runner's analysis (the same stages and settings as a run), without the rules.
    func pipelineStages(_ config: PipelineConfig) throws -> (String) throws -> Stages {
        if !masks.isEmpty, let file = config.detection.externalFile {
            throw ValidationError("--masks shows the motion detector's masks; this pipeline takes its boxes from \(file) (detection.source: external)")
        }
        return { video in
            var boxes: [FrameDetections] = []
            let failure = MaskFailure()
            let analysis = try StageRunner(config: config, decoderThreads: threads, clipEncoder: nil)
                .analyse(path: video, detections: writeDetections ? { boxes.append($0) } : nil, inspect: maskWriter(video, failure: failure))
            if let error = failure.error { throw error }
            return Stages(frames: analysis.frames, detections: analysis.stages.first { $0.stage == "detection" }?.output ?? 0,
                          tracks: analysis.tracks, boxes: boxes, timeline: analysis.timeline, warnings: analysis.warnings, calibration: config.calibration)
        }
    }

    /// Without one: the default detector and tracker (and the backward pass), the lamps, regions and external boxes
    /// given as options.
    func optionStages() throws -> (String) throws -> Stages {
        let lampRegions = try parsedLamps()
        var options = MotionDetectorOptions()
        // The signal head changes by itself: never a vehicle.
        options.ignore = try parsedIgnore() + lampRegions.map(\.surroundings)
        let external = try detections.map { path -> ExternalDetections in
            do { return try ExternalDetections(path: path, minimumConfidence: minimumConfidence) } catch let error as MOTFormatError {
                throw ValidationError(error.description)
            }
        }
        return { video in
            let reader = try VideoReader(path: video, options: DecodeOptions(threads: threads))
            let detector = LookaheadDetector(options: options)
            let failure = MaskFailure()
            detector.inspect = maskWriter(video, failure: failure)
            var trackerOptions = TrackerOptions()
            trackerOptions.wholeDetections = external != nil
            let tracker = Tracker(options: trackerOptions)
            let signal = lampRegions.isEmpty ? nil : SignalReader(lamps: lampRegions)
            var frames = 0
            var boxes: [FrameDetections] = []
            func track(_ found: FrameDetections) {
                boxes.append(found)
                tracker.update(found, feeding: external == nil ? detector : nil)
            }
            while let frame = try reader.nextFrame() {
                if let external { track(external.detections(at: FrameTime(index: frame.index, pts: frame.pts))) } else { detector.push(frame, deliver: track) }
                signal?.observe(frame)
                frames += 1
            }
            if external == nil { detector.finish(deliver: track) }
            if let error = failure.error { throw error }
            // The backward pass, as `run` does by default (`StageRunner`).
            let tracks = BackwardPass(options: trackerOptions, calibration: nil, road: nil).extend(tracker.finish(), detections: boxes).tracks
            return Stages(frames: frames, detections: tracker.detectionsIn, tracks: tracks, boxes: writeDetections ? boxes : [], timeline: signal?.timeline(),
                          warnings: reader.warnings, calibration: nil)
        }
    }
}
