import Crypto
import Foundation
import Rules
import TrafficModel
import VideoIO

/// What an event's evidence is to show and be named by.
public struct EvidenceRequest: Sendable {
    public var recordID: String
    public var event: RuleEvent
    /// Data bar lines.
    public var caption: [String]
}

/// Evidence for the events of one input, from a second decode of only the stretches needed, shared between two
/// workers with a decoder each (the analysis never waits for it): stills with the vehicle boxed, the stop line or zone lines drawn and a data bar,
/// and a clip from `clip_before_s` before to `clip_after_s` after the event, re-encoded so that it starts exactly
/// there. Clips are H.264, each encoded by a fresh `roadwatch encode-clip` process fed raw frames through a pipe
/// (byte-reproducible; docs/determinism.md). Files are named by record id, written to a temporary name and
/// renamed into place.
public struct EvidenceWriter: Sendable {
    public let config: PipelineConfig
    public let runner: StageRunner
    /// The run folder; evidence goes to `evidence/` inside it and paths in records are relative to it.
    public let runDirectory: String

    public init(config: PipelineConfig, runner: StageRunner, runDirectory: String) {
        self.config = config
        self.runner = runner
        self.runDirectory = runDirectory
    }

    /// Writes the evidence files and returns, per record id, the evidence entries (kind, relative path, sha256).
    /// `info` is the input's as the analysis read it (its frame rate times the clips).
    public func write(input path: String, info: MediaInfo, requests: [EvidenceRequest], tracks: [Track]) throws -> [String: [ViolationRecord.Evidence]] {
        guard !requests.isEmpty, config.evidence.stills || (config.evidence.clip && runner.clipEncoder != nil) else { return [:] }
        let folder = (runDirectory as NSString).appendingPathComponent("evidence")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // Boxes of every frame of each event's tracks, for drawing on clip frames.
        let byID = Dictionary(tracks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var boxes: [String: [Int: Box]] = [:]
        for r in requests {
            var m: [Int: Box] = [:]
            for id in r.event.tracks { for p in byID[id]?.points ?? [] { m[p.time.index] = p.box } }
            boxes[r.recordID] = m
        }
        // What to take, by time: stills at their frames' times, clips over their stretches.
        struct Still { var request: Int; var kind: String; var frame: Int; var pts: Double; var box: Box }
        var stills: [Still] = []
        if config.evidence.stills {
            for (k, r) in requests.enumerated() { for e in r.event.evidence { stills.append(Still(request: k, kind: e.kind, frame: e.frame, pts: e.pts, box: e.box)) } }
        }
        struct OpenClip { var request: Int; var start: Double; var end: Double; var path: String }
        var clips: [OpenClip] = []
        if config.evidence.clip, runner.clipEncoder != nil {
            for (k, r) in requests.enumerated() {
                clips.append(OpenClip(request: k, start: r.event.pts - config.evidence.clipBeforeSeconds,
                                      end: r.event.pts + config.evidence.clipAfterSeconds,
                                      path: (folder as NSString).appendingPathComponent("\(r.recordID).mp4")))
            }
        }
        // Stretches to decode: each still's and clip's time, joined where less than 3 s apart (cheaper to decode
        // through than to seek). Each stretch is reached by seeking to the key frame before it.
        let sorted = (stills.map { ($0.pts, $0.pts) } + clips.map { ($0.start, $0.end) }).sorted { $0.0 < $1.0 }
        var spans: [(Double, Double)] = []
        for span in sorted {
            if let last = spans.last, span.0 <= last.1 + 3 { spans[spans.count - 1].1 = max(last.1, span.1) } else { spans.append(span) }
        }
        // Every still and clip lies inside one stretch. Stretches are shared out between two workers, each with its
        // own decoder, so that two clip encoders (each a process of one thread) run at once: the evidence pass takes
        // about half the time on two cores. The files do not depend on which worker made them.
        let frameRate = Self.frameRate(info)
        let tolerance = 0.25 / max(1, frameRate.perSecond)
        func inside(_ a: Double, _ b: Double, _ span: (Double, Double)) -> Bool { a >= span.0 - 1e-9 && b <= span.1 + 1e-9 }
        let work = spans.map { span in
            SpanWork(span: span, stills: stills.filter { inside($0.pts, $0.pts, span) }.map {
                SpanWork.Still(recordID: requests[$0.request].recordID, caption: requests[$0.request].caption, kind: $0.kind, frame: $0.frame,
                               pts: $0.pts, box: $0.box)
            }, clips: clips.filter { inside($0.start, $0.end, span) }.map {
                SpanWork.Clip(recordID: requests[$0.request].recordID, caption: requests[$0.request].caption, start: $0.start, end: $0.end,
                              path: $0.path, boxes: boxes[requests[$0.request].recordID] ?? [:])
            })
        }
        let workers = min(2, work.count)
        let outcomes = LockedBox<[Int: Result<[String: [ViolationRecord.Evidence]], Error>]>([:])
        let group = DispatchGroup()
        for w in 0..<workers {
            group.enter()
            let mine = stride(from: w, to: work.count, by: workers).map { work[$0] }
            let thread = Thread { [self] in
                defer { group.leave() }
                let result = Result { try self.take(mine, from: path, folder: folder, frameRate: frameRate, tolerance: tolerance) }
                outcomes.mutate { $0[w] = result }
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        group.wait()
        var results: [String: [ViolationRecord.Evidence]] = [:]
        for w in 0..<workers {
            for (id, files) in try outcomes.value[w]!.get() { results[id, default: []] += files }
        }
        for key in results.keys { results[key]!.sort { $0.kind < $1.kind } }
        return results
    }

    /// The stills and clips of some stretches, from one decoder of their own.
    struct SpanWork: Sendable {
        struct Still: Sendable { var recordID: String; var caption: [String]; var kind: String; var frame: Int; var pts: Double; var box: Box }
        struct Clip: Sendable { var recordID: String; var caption: [String]; var start: Double; var end: Double; var path: String; var boxes: [Int: Box] }
        var span: (Double, Double)
        var stills: [Still]
        var clips: [Clip]
    }

    private func take(_ work: [SpanWork], from path: String, folder: String, frameRate: FrameRate,
                      tolerance: Double) throws -> [String: [ViolationRecord.Evidence]] {
        var results: [String: [ViolationRecord.Evidence]] = [:]
        let reader = try VideoReader(path: path, options: DecodeOptions(threads: max(1, runner.decoderThreads / 2)))
        let jpeg = JPEGWriter(quality: config.evidence.jpegQuality)
        var encoders: [ClipEncoder] = []
        defer { for e in encoders { e.abandon() } }
        for item in work {
            var taken = Set<Int>()
            var clipEncoders = [ClipEncoder?](repeating: nil, count: item.clips.count)
            // A container that cannot seek is read from where it is (the start, for the first stretch).
            _ = try reader.seek(toSeconds: max(0, item.span.0 - 0.001))
            while let frame = try reader.nextFrame() {
                if frame.pts > item.span.1 + tolerance { break }
                let wanted = item.stills.indices.filter { !taken.contains($0) && abs(item.stills[$0].pts - frame.pts) <= tolerance }
                let active = item.clips.indices.filter { item.clips[$0].start <= frame.pts + 1e-6 && frame.pts <= item.clips[$0].end + 1e-6 }
                guard !wanted.isEmpty || !active.isEmpty else { continue }
                let base = frame.picture()
                for i in wanted {
                    taken.insert(i)
                    let want = item.stills[i]
                    var picture = base
                    annotate(&picture, box: want.box, caption: want.caption + ["FRAME \(want.frame)  PTS \(String(format: "%.3f", frame.pts)) S  \(want.kind.uppercased())"])
                    let name = "\(want.recordID)-\(want.kind.replacingOccurrences(of: "still_", with: "")).jpg"
                    let file = (folder as NSString).appendingPathComponent(name)
                    let bytes = try jpeg.write(picture, to: file)
                    results[want.recordID, default: []].append(ViolationRecord.Evidence(kind: want.kind, path: "evidence/\(name)", sha256: Self.sha256(bytes)))
                }
                for c in active {
                    let clip = item.clips[c]
                    if clipEncoders[c] == nil {
                        let encoder = try ClipEncoder(executable: runner.clipEncoder!, path: clip.path, width: base.width, height: base.height, rate: frameRate)
                        encoders.append(encoder)
                        clipEncoders[c] = encoder
                    }
                    var picture = base.format == .yuv420p ? base : Self.toYUV(base)
                    annotate(&picture, box: clip.boxes[frame.index], caption: clip.caption + ["PTS \(String(format: "%.3f", frame.pts)) S"])
                    try clipEncoders[c]!.write(picture)
                }
            }
            for (c, encoder) in clipEncoders.enumerated() {
                guard let encoder else { continue }
                try encoder.finish()
                let clip = item.clips[c]
                let data = try Data(contentsOf: URL(fileURLWithPath: clip.path))
                results[clip.recordID, default: []].append(ViolationRecord.Evidence(kind: "clip", path: "evidence/\((clip.path as NSString).lastPathComponent)",
                                                                                   sha256: Self.sha256(Array(data))))
            }
        }
        return results
    }

    /// Box in red (thick), the rule's lines in yellow, and the data bar.
    private func annotate(_ picture: inout Picture, box: Box?, caption: [String]) {
        if let line = config.redLight?.stopLine {
            picture.drawLine(from: (line.a.x, line.a.y), to: (line.b.x, line.b.y), rgb: (255, 220, 0), thickness: 2)
        }
        if let s = config.speeding {
            for line in [s.entry, s.exit] { picture.drawLine(from: (line.a.x, line.a.y), to: (line.b.x, line.b.y), rgb: (255, 220, 0), thickness: 2) }
        }
        if let box { picture.stroke(box, rgb: (255, 32, 32), thickness: max(2, picture.width / 480)) }
        picture.drawDataBar(caption)
    }

    static func toYUV(_ p: Picture) -> Picture {
        // Gray frames: luma as is, neutral chroma.
        var out = Picture(width: p.width, height: p.height, format: .yuv420p)
        if p.format == .gray8 { out.planes[0] = p.planes[0].map { UInt8(16 + Int($0) * 219 / 255) } }
        return out
    }

    static func frameRate(_ info: MediaInfo) -> FrameRate {
        let fps = info.averageFrameRate ?? info.nominalFrameRate ?? 25
        let rounded = (fps * 1000).rounded()
        return rounded.truncatingRemainder(dividingBy: 1000) == 0 ? FrameRate(Int(rounded / 1000)) : FrameRate(Int(rounded), 1000)
    }

    public static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

/// A child `roadwatch encode-clip` process that reads raw 4:2:0 frames on its standard input and writes an H.264
/// MP4. One encoder per process keeps libx264's output byte-identical from run to run.
final class ClipEncoder {
    private let process = Process()
    private let pipe = Pipe()
    private let path: String
    private var done = false

    init(executable: String, path: String, width: Int, height: Int, rate: FrameRate) throws {
        self.path = path
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["encode-clip", "--width", "\(width)", "--height", "\(height)", "--rate", "\(rate.numerator)/\(rate.denominator)", path]
        process.standardInput = pipe
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw PipelineError.output(path, "cannot start the clip encoder \(executable): \(error.localizedDescription)")
        }
    }

    func write(_ picture: Picture) throws {
        for plane in picture.planes {
            do { try pipe.fileHandleForWriting.write(contentsOf: plane) } catch {
                throw PipelineError.output(path, "the clip encoder stopped: \(error.localizedDescription)")
            }
        }
    }

    func finish() throws {
        guard !done else { return }
        done = true
        try? pipe.fileHandleForWriting.close()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PipelineError.output(path, "the clip encoder failed with status \(process.terminationStatus)")
        }
    }

    /// Stops a clip that will not be finished (an error elsewhere); its temporary file is removed by the child.
    func abandon() {
        guard !done else { return }
        done = true
        process.terminate()
        try? pipe.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
