import Foundation
import Rules
import TrafficModel
import VideoIO

/// The debug video of `roadwatch render`: every frame with its tracks' boxes and ids, the zone speed of measured
/// tracks, the signal state, the pipeline's lines, and each violation boxed in red with its rule for two seconds
/// from the event. Shared boxes (a vehicle inside one blob with others, its box inferred; see `Tracker`) are magenta
/// and say SHARED. Runs the same stages as `run` (analysis, rules), then a second decode to draw.
public enum DebugRender {
    public struct Summary: Sendable {
        public var frames: Int
        public var tracks: Int
        public var violations: Int
    }

    public static func render(config: PipelineConfig, video: String, out: String, threads: Int) throws -> Summary {
        let runner = StageRunner(config: config, decoderThreads: threads, clipEncoder: nil)
        let analysis = try runner.analyse(path: video)
        let (events, _) = runner.applyRules(analysis)
        // Per frame: the boxes of every track, and which belong to a violation shown at that time.
        var boxes: [Int: [(id: Int, box: Box, shared: Bool)]] = [:]
        for t in analysis.tracks { for p in t.points where !p.coasted { boxes[p.time.index, default: []].append((t.id, p.box, p.shared)) } }
        var trackToEvent: [Int: RuleEvent] = [:]
        for e in events { for id in e.tracks { trackToEvent[id] = e } }

        let reader = try VideoReader(path: video, options: DecodeOptions(threads: threads))
        let rate = EvidenceWriter.frameRate(reader.info)
        let writer = try VideoWriter(path: out, width: reader.info.width, height: reader.info.height,
                                     settings: EncoderSettings(codec: .h264, frameRate: rate, quality: 23, threads: 2))
        let scale = max(1, reader.info.width / 640)
        var frames = 0
        while let frame = try reader.nextFrame() {
            var picture = frame.layout == .yuv420p ? frame.picture() : EvidenceWriter.toYUV(frame.picture())
            if let r = config.redLight {
                picture.drawLine(from: (r.stopLine.a.x, r.stopLine.a.y), to: (r.stopLine.b.x, r.stopLine.b.y), rgb: (255, 40, 40), thickness: 2)
            }
            if let s = config.speeding {
                for line in [s.entry, s.exit] { picture.drawLine(from: (line.a.x, line.a.y), to: (line.b.x, line.b.y), rgb: (255, 220, 0), thickness: 2) }
            }
            for (id, box, shared) in boxes[frame.index] ?? [] {
                let event = trackToEvent[id]
                let active = event.map { frame.pts >= $0.pts - 0.2 && frame.pts <= $0.pts + 2 } ?? false
                let rgb: (UInt8, UInt8, UInt8) = active ? (255, 32, 32) : shared ? (230, 80, 230) : (40, 220, 255)
                picture.stroke(box, rgb: rgb, thickness: active ? 3 : 1)
                var label = shared ? "\(id) SHARED" : "\(id)"
                if let e = event, e.rule == .speeding, let v = e.speedKmh { label += String(format: " %.0f KM/H", v) }
                if active, let e = event { label += e.rule == .redLight ? " RED LIGHT" : " SPEEDING" }
                picture.draw(text: label, x: Int(box.x), y: max(0, Int(box.y) - 9 * scale), scale: scale, rgb: rgb)
            }
            let phase = analysis.timeline?.phase(at: frame.pts).rawValue.uppercased() ?? "NO SIGNAL"
            picture.drawDataBar([String(format: "%@  FRAME %d  PTS %.3f S  SIGNAL %@  TRACKS %d", config.camera.id, frame.index, frame.pts, phase,
                                        boxes[frame.index]?.count ?? 0)])
            try writer.write(picture)
            frames += 1
        }
        try writer.finish()
        return Summary(frames: frames, tracks: analysis.tracks.count, violations: events.count)
    }
}
