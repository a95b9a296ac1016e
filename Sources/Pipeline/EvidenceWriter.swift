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

/// Evidence for the events of one input, from a second decode that stops after the last frame needed (the
/// analysis never waits for it): stills with the vehicle boxed, the stop line or zone lines drawn and a data bar,
/// and a clip from `clip_before_s` before to `clip_after_s` after the event, re-encoded so that it starts exactly
/// there. Clips are H.264, each encoded by a fresh `roadwatch encode-clip` process fed raw frames through a pipe
/// (byte-reproducible; docs/determinism.md). Files are named by record id, written to a temporary name and
/// renamed into place.
public struct EvidenceWriter {
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
    public func write(input path: String, requests: [EvidenceRequest], tracks: [Track]) throws -> [String: [ViolationRecord.Evidence]] {
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
        struct OpenClip { var request: Int; var start: Double; var end: Double; var encoder: ClipEncoder?; var path: String; var done = false }
        var clips: [OpenClip] = []
        if config.evidence.clip, runner.clipEncoder != nil {
            for (k, r) in requests.enumerated() {
                clips.append(OpenClip(request: k, start: r.event.pts - config.evidence.clipBeforeSeconds,
                                      end: r.event.pts + config.evidence.clipAfterSeconds, encoder: nil,
                                      path: (folder as NSString).appendingPathComponent("\(r.recordID).mp4")))
            }
        }
        // Stretches to decode: each still's and clip's time, joined where less than 3 s apart (cheaper to decode
        // through than to seek). Each stretch is reached by seeking to the key frame before it.
        var spans = (stills.map { ($0.pts, $0.pts) } + clips.map { ($0.start, $0.end) }).sorted { $0.0 < $1.0 }
        var merged: [(Double, Double)] = []
        for span in spans {
            if let last = merged.last, span.0 <= last.1 + 3 { merged[merged.count - 1].1 = max(last.1, span.1) } else { merged.append(span) }
        }
        spans = merged
        var results: [String: [ViolationRecord.Evidence]] = [:]
        let reader = try VideoReader(path: path, options: DecodeOptions(threads: runner.decoderThreads))
        let frameRate = Self.frameRate(reader.info)
        let tolerance = 0.25 / max(1, frameRate.perSecond)
        let jpeg = JPEGWriter(quality: config.evidence.jpegQuality)
        var taken = Set<Int>()
        defer { for c in clips { c.encoder?.abandon() } }
        for span in spans {
            // A container that cannot seek is read from where it is (the start, for the first stretch).
            _ = try reader.seek(toSeconds: max(0, span.0 - 0.001))
            while let frame = try reader.nextFrame() {
                if frame.pts > span.1 + tolerance { break }
                let wanted = stills.indices.filter { !taken.contains($0) && abs(stills[$0].pts - frame.pts) <= tolerance }
                let active = clips.indices.filter { !clips[$0].done && clips[$0].start <= frame.pts + 1e-6 && frame.pts <= clips[$0].end + 1e-6 }
                guard !wanted.isEmpty || !active.isEmpty else { continue }
                let base = frame.picture()
                for i in wanted {
                    taken.insert(i)
                    let want = stills[i], r = requests[want.request]
                    var picture = base
                    annotate(&picture, box: want.box, caption: r.caption + ["FRAME \(want.frame)  PTS \(String(format: "%.3f", frame.pts)) S  \(want.kind.uppercased())"])
                    let name = "\(r.recordID)-\(want.kind.replacingOccurrences(of: "still_", with: "")).jpg"
                    let file = (folder as NSString).appendingPathComponent(name)
                    let bytes = try jpeg.write(picture, to: file)
                    results[r.recordID, default: []].append(ViolationRecord.Evidence(kind: want.kind, path: "evidence/\(name)", sha256: Self.sha256(bytes)))
                }
                for c in active {
                    let r = requests[clips[c].request]
                    if clips[c].encoder == nil {
                        clips[c].encoder = try ClipEncoder(executable: runner.clipEncoder!, path: clips[c].path, width: base.width, height: base.height,
                                                           rate: frameRate)
                    }
                    var picture = base.format == .yuv420p ? base : Self.toYUV(base)
                    annotate(&picture, box: boxes[r.recordID]?[frame.index], caption: r.caption + ["PTS \(String(format: "%.3f", frame.pts)) S"])
                    try clips[c].encoder!.write(picture)
                }
            }
            for c in clips.indices where clips[c].encoder != nil && !clips[c].done && clips[c].end <= span.1 + tolerance {
                try finishClip(&clips[c].encoder, request: requests[clips[c].request], path: clips[c].path, results: &results)
                clips[c].done = true
            }
        }
        for c in clips.indices where clips[c].encoder != nil && !clips[c].done {
            try finishClip(&clips[c].encoder, request: requests[clips[c].request], path: clips[c].path, results: &results)
            clips[c].done = true
        }
        for key in results.keys { results[key]!.sort { $0.kind < $1.kind } }
        return results
    }

    private func finishClip(_ encoder: inout ClipEncoder?, request: EvidenceRequest, path: String, results: inout [String: [ViolationRecord.Evidence]]) throws {
        try encoder!.finish()
        encoder = nil
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        results[request.recordID, default: []].append(ViolationRecord.Evidence(kind: "clip", path: "evidence/\((path as NSString).lastPathComponent)",
                                                                               sha256: Self.sha256(Array(data))))
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
