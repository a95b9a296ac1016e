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
        var stillsWanted: [Int: [(request: Int, kind: String, box: Box)]] = [:]
        if config.evidence.stills {
            for (k, r) in requests.enumerated() { for e in r.event.evidence { stillsWanted[e.frame, default: []].append((k, e.kind, e.box)) } }
        }
        struct OpenClip { var request: Int; var start: Double; var end: Double; var encoder: ClipEncoder?; var path: String }
        var clips: [OpenClip] = []
        if config.evidence.clip, runner.clipEncoder != nil {
            for (k, r) in requests.enumerated() {
                clips.append(OpenClip(request: k, start: r.event.pts - config.evidence.clipBeforeSeconds,
                                      end: r.event.pts + config.evidence.clipAfterSeconds, encoder: nil,
                                      path: (folder as NSString).appendingPathComponent("\(r.recordID).mp4")))
            }
        }
        let lastFrame = stillsWanted.keys.max() ?? -1
        let lastTime = clips.map(\.end).max() ?? -.infinity
        var results: [String: [ViolationRecord.Evidence]] = [:]
        let reader = try VideoReader(path: path, options: DecodeOptions(threads: runner.decoderThreads))
        let frameRate = Self.frameRate(reader.info)
        let jpeg = JPEGWriter(quality: config.evidence.jpegQuality)
        defer { for c in clips { c.encoder?.abandon() } }
        while let frame = try reader.nextFrame() {
            let wantStill = stillsWanted[frame.index] != nil
            let active = clips.indices.filter { clips[$0].start <= frame.pts + 1e-6 && frame.pts <= clips[$0].end + 1e-6 }
            if wantStill || !active.isEmpty {
                let base = frame.picture()
                for want in stillsWanted[frame.index] ?? [] {
                    let r = requests[want.request]
                    var picture = base
                    annotate(&picture, box: want.box, caption: r.caption + ["FRAME \(frame.index)  PTS \(String(format: "%.3f", frame.pts)) S  \(want.kind.uppercased())"])
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
                    annotate(&picture, box: boxes[r.recordID]?[frame.index], caption: r.caption + ["FRAME \(frame.index)  PTS \(String(format: "%.3f", frame.pts)) S"])
                    try clips[c].encoder!.write(picture)
                }
            }
            for c in clips.indices where clips[c].encoder != nil && frame.pts > clips[c].end {
                try finishClip(&clips[c].encoder, request: requests[clips[c].request], path: clips[c].path, results: &results)
            }
            if frame.index >= lastFrame && frame.pts > lastTime { break }
        }
        for c in clips.indices where clips[c].encoder != nil {
            try finishClip(&clips[c].encoder, request: requests[clips[c].request], path: clips[c].path, results: &results)
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
