import Detection
import Foundation
import Rules
import TrafficModel
import Tracking
import VideoIO

/// What one stage took in and gave out for one input ("frames in, out, dropped").
public struct StageCount: Sendable, Codable, Equatable {
    public var stage: String
    public var input: Int
    public var output: Int
    public var unit: String
    public var note: String?
}

/// Everything the analysis of one input produced that the rules need: kept on disk so rules can be replayed
/// without decoding (`tracks/KEY.json`).
public struct InputAnalysis: Sendable, Codable {
    public var info: MediaInfo
    public var decode: DecodeStats
    public var warnings: [String]
    public var frames: Int
    public var firstPTS: Double
    public var lastPTS: Double
    /// Seconds per tick of the stream's time base.
    public var timeBaseSeconds: Double
    public var tracks: [Track]
    public var timeline: PhaseTimeline?
    public var stages: [StageCount]
    /// SHA-256 of the upstream detector's boxes the tracks were made from (`detection.source: external`); absent
    /// for the motion detector.
    public var detectionsSha256: String?
    /// CPU seconds of the analysis pass: the whole process, and the analysis thread's detection, tracking and signal
    /// reading. Not written to tracks/*.json (those files hold only what the rules need, byte-reproducible).
    public var cpu = AnalysisCPU()

    public struct AnalysisCPU: Sendable {
        public var process = 0.0, detection = 0.0, tracking = 0.0, signal = 0.0
    }

    enum CodingKeys: String, CodingKey {
        case info, decode, warnings, frames, firstPTS, lastPTS, timeBaseSeconds, tracks, timeline, stages, detectionsSha256
    }
}

/// The one place that knows the stage order. For one input:
///
///     decode ─(bounded queue)─▶ detection ─▶ tracking        (one pass over the frames)
///                              └▶ signal reading
///     detections ─▶ backward pass (the same boxes tracked from the last frame back: fragments joined, tracks extended
///                   back in time)
///     tracks + signal timeline ─▶ rules (speed, red light, dedup)
///     events ─▶ evidence (a second decode of just the frames needed; clips encoded in child processes)
///
/// Decoding runs on its own thread ahead of the analysis, through a queue of at most `queueDepth` frames.
/// Each stage counts what went in and came out.
public struct StageRunner: Sendable {
    public let config: PipelineConfig
    public var decoderThreads: Int
    public var queueDepth = 8
    /// A decoder that gives no frame for this long is abandoned and the input failed as stalled (the stall
    /// watchdog). `ROADWATCH_STALL_SECONDS` sets it; 120 s by default.
    public var stallSeconds: Double = ProcessInfo.processInfo.environment["ROADWATCH_STALL_SECONDS"].flatMap(Double.init) ?? 120
    /// The `roadwatch` executable that encodes H.264 clips in a fresh process (libx264 is byte-reproducible only
    /// one encoder per process: docs/determinism.md); nil writes no clips.
    public var clipEncoder: String?

    public init(config: PipelineConfig, decoderThreads: Int, clipEncoder: String?) {
        self.config = config
        self.decoderThreads = decoderThreads
        self.clipEncoder = clipEncoder
    }

    // MARK: - Stage 1: decode, detect, track, read the signal

    /// The input's own boxes from an upstream detector (`detection.external_file`, its pattern filled in for
    /// `path`), read once and hashed; nil for the motion detector. A missing or unreadable file is the input's
    /// error: the other inputs of a batch go on.
    public func externalDetections(for path: String) throws -> UpstreamBoxes? {
        guard let file = config.detection.externalFile(for: path) else { return nil }
        guard FileManager.default.fileExists(atPath: file) else {
            throw PipelineError.input(path, "its upstream detector's boxes are missing: no such file \(file) (detection.external_file)")
        }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            let rows = try MOTFile.parse(String(decoding: data, as: UTF8.self), path: file)
            let sha256 = EvidenceWriter.sha256(Array(data))
            return UpstreamBoxes(sha256: sha256, detections: ExternalDetections(rows: rows, minimumConfidence: config.detection.minimumConfidence))
        } catch {
            throw PipelineError.input(path, "external detections \(file): \(error)")
        }
    }

    /// `progress` is called with the frames done so far and the frames expected (from the container's index or
    /// duration, when known), from the analysis thread, every 25 frames.
    /// `detections`, if given, sees each frame's boxes as they go into tracking (for `roadwatch track --write-detections`);
    /// `inspect`, the motion detector after each frame (for `roadwatch track --masks`).
    /// `external`: the input's upstream boxes as `externalDetections(for:)` gave them (read here when nil).
    public func analyse(path: String, external side: UpstreamBoxes? = nil,
                        progress: (Int, Int?) -> Void = { _, _ in },
                        detections: ((FrameDetections) -> Void)? = nil,
                        inspect: ((FrameTime, MotionDetector) -> Void)? = nil) throws -> InputAnalysis {
        let processCPUStart = CPUClock.process()
        let reader = try VideoReader(path: path, options: DecodeOptions(threads: decoderThreads, forAnalysis: config.detection.fastDecode))
        let info = reader.info
        let expected = info.frameCount ?? info.duration.flatMap { d in (info.averageFrameRate ?? info.nominalFrameRate).map { Int(d * $0) } }
        let side = try side ?? externalDetections(for: path)
        let external = side?.detections
        let detector = LookaheadDetector(options: config.detectorOptions)
        detector.inspect = inspect
        let ground = config.tracking.groundPlane ? config.calibration : nil
        let tracker = Tracker(options: config.trackerOptions, calibration: ground, road: config.calibration)
        let backward = config.tracking.backwardPass ? BackwardPass(options: config.trackerOptions, calibration: ground, road: config.calibration) : nil
        // Every frame's detections as tracked, for the backward pass.
        var tracked: [FrameDetections] = []
        var lampReader: SignalReader?
        if case .lamps(let lamps)? = config.signal { lampReader = SignalReader(lamps: lamps) }

        let queue = BoundedQueue<VideoFrame>(capacity: queueDepth)
        let decodeError = LockedBox<Error?>(nil)
        // The reader belongs to the decode thread until the queue closes; the analysis reads its stats only after.
        let handoff = Handoff(reader)
        // Fault injection for the watchdog's test: a decoder this slow (milliseconds per frame) looks stuck.
        let injectedDelay = ProcessInfo.processInfo.environment["ROADWATCH_TEST_DECODE_DELAY_MS"].flatMap(UInt32.init) ?? 0
        let decodeThread = Thread {
            do {
                while let frame = try handoff.value.nextFrame() {
                    if injectedDelay > 0 { usleep(injectedDelay * 1000) }
                    if !queue.push(frame) { break }
                }
            } catch {
                decodeError.value = error
            }
            queue.close()
        }
        decodeThread.stackSize = 1 << 20
        decodeThread.start()

        var frames = 0, boxesIn = 0, boxesKept = 0, firstPTS = 0.0, lastPTS = 0.0
        var cpu = InputAnalysis.AnalysisCPU()
        let minimumWidth = config.detection.minimumVehicleWidthM
        let calibration = config.calibration
        /// Detection's output into tracking, in frame order: boxes narrower on the ground than any vehicle dropped.
        func track(_ frameDetections: FrameDetections) {
            var found = frameDetections
            boxesIn += found.detections.count
            if minimumWidth > 0 {
                found.detections.removeAll { d in
                    // The box's bottom edge on the ground: narrower than any vehicle is noise (a pedestrian, a bag).
                    guard let width = calibration.groundWidth(d.box) else { return false }
                    return width < minimumWidth
                }
            }
            boxesKept += found.detections.count
            detections?(found)
            if backward != nil { tracked.append(found) }
            let t0 = CPUClock.thread()
            tracker.update(found, feeding: external == nil ? detector : nil)
            cpu.tracking += CPUClock.thread() - t0
        }
        defer { queue.cancel() }
        while true {
            let next = queue.pop(timeout: stallSeconds)
            guard case .item(let frame) = next else {
                if case .timedOut = next {
                    // The decode thread is stuck inside FFmpeg; it is left behind (it stops at its next push).
                    throw PipelineError.input(path, String(format: "stalled: the decoder gave no frame for %.0f s after frame %d; abandoned", stallSeconds, frames))
                }
                break
            }
            let time = FrameTime(index: frame.index, pts: frame.pts)
            if frames == 0 { firstPTS = frame.pts }
            lastPTS = frame.pts
            let t0 = CPUClock.thread()
            let tracking = cpu.tracking
            if let external { track(external.detections(at: time)) } else { detector.push(frame, deliver: track) }
            let t1 = CPUClock.thread()
            lampReader?.observe(frame)
            let t2 = CPUClock.thread()
            // Tracking runs inside the detector's push, each frame's detections handed over as they are found.
            cpu.detection += t1 - t0 - (cpu.tracking - tracking)
            cpu.signal += t2 - t1
            frames += 1
            if frames % 25 == 0 { progress(frames, expected) }
        }
        if let error = decodeError.value { throw error }
        if external == nil {
            let t0 = CPUClock.thread()
            let tracking = cpu.tracking
            detector.finish(deliver: track)
            cpu.detection += CPUClock.thread() - t0 - (cpu.tracking - tracking)
        }
        // A still image, or a file that is all header: not footage.
        guard frames >= 2 else {
            throw PipelineError.input(path, frames == 0 ? "no frame could be decoded (\(info.container), \(info.codec))" :
                "holds a single picture (\(info.container), \(info.codec)), not footage")
        }
        progress(frames, expected)
        let trackingEnd = CPUClock.thread()
        var tracks = tracker.finish()
        var backwardCount: StageCount?
        if let backward {
            let (extended, joined, added) = backward.extend(tracks, detections: tracked)
            backwardCount = StageCount(stage: "backward pass", input: tracks.count, output: extended.count, unit: "tracks → tracks",
                                       note: "\(joined) joined to an earlier fragment, \(added) inferred points added")
            tracks = extended
            tracked = []
        }
        cpu.tracking += CPUClock.thread() - trackingEnd

        var timeline: PhaseTimeline?
        var signalNote = "none configured"
        if let lampReader {
            timeline = lampReader.timeline()
            signalNote = "lamps"
        } else if case .controllerLog(let file)? = config.signal {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw PipelineError.input(path, "controller log \(file): cannot read")
            }
            do { timeline = try ControllerLog.parse(text, path: file, footageStart: nil, end: lastPTS + 1) } catch {
                throw PipelineError.input(path, "\(error)")
            }
            signalNote = "controller log"
        }
        let timeBase: Double = {
            let parts = info.timeBase.split(separator: "/").compactMap { Double($0) }
            return parts.count == 2 && parts[1] > 0 ? parts[0] / parts[1] : 1.0 / 90_000
        }()
        let stats = reader.stats
        let stages = [
            StageCount(stage: "decode", input: stats.packetsRead, output: frames, unit: "packets → frames",
                       note: stats.corruptPackets + stats.corruptFrames > 0 ? "\(stats.corruptPackets) corrupt packets, \(stats.corruptFrames) damaged frames" : nil),
            StageCount(stage: "detection", input: frames, output: boxesKept, unit: "frames → boxes",
                       note: boxesIn > boxesKept ? "\(boxesIn - boxesKept) boxes narrower than \(minimumWidth) m dropped" : nil),
            StageCount(stage: "tracking", input: tracker.detectionsIn, output: tracks.count, unit: "boxes → tracks", note: nil),
        ] + (backwardCount.map { [$0] } ?? []) + [
            StageCount(stage: "signal", input: lampReader == nil ? 0 : frames, output: timeline?.intervals.count ?? 0, unit: "frames → phases", note: signalNote),
        ]
        cpu.process = CPUClock.process() - processCPUStart
        return InputAnalysis(info: info, decode: stats, warnings: reader.warnings, frames: frames, firstPTS: firstPTS, lastPTS: lastPTS,
                             timeBaseSeconds: timeBase, tracks: tracks, timeline: timeline, stages: stages,
                             detectionsSha256: side?.sha256, cpu: cpu)
    }

    // MARK: - Stage 2: rules

    public func applyRules(_ analysis: InputAnalysis) -> (events: [RuleEvent], stats: RuleStats) {
        RuleEngine(rules: config.ruleSet(pictureWidth: analysis.info.width)).evaluate(tracks: analysis.tracks, timeline: analysis.timeline,
                                                                                     timeBaseSeconds: analysis.timeBaseSeconds)
    }
}

/// One input's boxes from an upstream detector (`detection.source: external`), read once and hashed: the hash is
/// part of the input's identity and of its records (`InputProcessor.inputKey`, `ViolationRecord.Input`).
public struct UpstreamBoxes: Sendable {
    public let sha256: String
    public let detections: ExternalDetections
}

/// Why an input or a run failed, with the file named first.
public enum PipelineError: Error, CustomStringConvertible {
    case input(String, String)
    case output(String, String)
    case usage(String)

    public var description: String {
        switch self {
        case .input(let path, let why): return "\(path): \(why)"
        case .output(let path, let why): return "\(path): \(why)"
        case .usage(let why): return why
        }
    }
}

/// A first-in first-out queue of at most `capacity` items between two threads. `push` waits while full and
/// returns false once the consumer has cancelled; `pop` waits while empty and returns nil once closed and drained.
final class BoundedQueue<Element>: @unchecked Sendable {
    /// Taken items are set to nil at once: a popped frame must not stay referenced here until the next compaction
    /// (that kept about 70 decoded frames alive, 220 MB at 1080p).
    private var items: [Element?] = []
    private var head = 0
    private let capacity: Int
    private var closed = false, cancelled = false
    private let condition = NSCondition()

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func push(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    func pop() -> Element? {
        if case .item(let e) = pop(timeout: .infinity) { return e }
        return nil
    }

    enum Popped { case item(Element), closed, timedOut }

    /// The next item; `.closed` once closed and drained; `.timedOut` when nothing came for `timeout` seconds.
    func pop(timeout: Double) -> Popped {
        condition.lock()
        defer { condition.unlock() }
        // No deadline without a finite timeout (Foundation on Linux traps converting distantFuture to a timespec).
        let deadline = timeout.isFinite ? Date(timeIntervalSinceNow: timeout) : nil
        while items.count - head == 0 && !closed {
            guard let deadline else { condition.wait(); continue }
            if !condition.wait(until: deadline) && items.count - head == 0 && !closed { return .timedOut }
        }
        guard items.count - head > 0 else { return .closed }
        let item = items[head]!
        items[head] = nil
        head += 1
        if head > 64 && head * 2 > items.count { items.removeFirst(head); head = 0 }
        condition.broadcast()
        return .item(item)
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// The consumer gives up: the producer's next push returns false.
    func cancel() {
        condition.lock()
        cancelled = true
        closed = true
        items.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }
}

/// Hands a non-thread-safe object to another thread that becomes its only user until a synchronising event
/// (here: the frame queue closing).
final class Handoff<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A value shared between threads behind a lock.
final class LockedBox<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
    func mutate<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&stored) }
}

extension Tracker {
    /// Tracks one frame's detections, then tells the motion detector that found them where the tracked vehicles are
    /// for the frames that follow (`MotionDetector.hold(_:apart:)`): the one path from tracking back to detection.
    @discardableResult
    public func update(_ found: FrameDetections, feeding detector: (any FollowsTracks)?) -> [(id: Int, box: Box)] {
        let tracked = update(found)
        detector?.hold(tracked.map(\.box), apart: seenApart)
        return tracked
    }
}
