import Crypto
import Foundation
import Rules
import TrafficModel
import VideoIO

/// Turns what the rules found into records: ids, wall-clock times, the pipeline's identity. Shared by `run` and
/// `replay`, so a replay with the same pipeline gives the same records.
public struct RecordBuilder: Sendable {
    public let config: PipelineConfig
    public let version: String
    public init(config: PipelineConfig, version: String) {
        self.config = config
        self.version = version
    }

    /// The record for one event, without evidence.
    /// `detectionsSha256`: the upstream detector's boxes the event was found in, if any (`InputAnalysis`).
    public func record(_ e: RuleEvent, inputPath path: String, inputSha256: String, detectionsSha256: String? = nil, clockStart: Date?) -> ViolationRecord {
        let absolute = clockStart.map { $0.addingTimeInterval(e.pts) }
        return ViolationRecord(
            id: recordID(rule: e.rule, inputSha256: inputSha256, frame: e.frame, pts: e.pts), rule: e.rule, camera: config.camera.id,
            location: config.camera.location, input: .init(path: path, sha256: inputSha256, detectionsSha256: detectionsSha256), frame: e.frame, ptsS: e.pts,
            time: absolute.map { Self.formatTime($0, offset: config.camera.utcOffsetSeconds) }, track: e.track, tracks: e.tracks,
            lane: e.lane, box: Box(x: rounded(e.box.x, 1), y: rounded(e.box.y, 1), width: rounded(e.box.width, 1), height: rounded(e.box.height, 1)),
            speedKmh: e.speedKmh, speedUncertaintyKmh: e.speedUncertaintyKmh, limitKmh: e.limitKmh, thresholdKmh: e.thresholdKmh,
            signal: e.signal, severity: e.severity, evidence: [], pipelineSha256: config.sha256, version: version)
    }

    /// `sha256("roadwatch.violation/1|camera|rule|input sha256|frame|pts to 4 decimals")`, first 32 hex digits:
    /// the same event in the same input under the same camera gives the same id on every run and machine.
    public func recordID(rule: RuleKind, inputSha256: String, frame: Int, pts: Double) -> String {
        Self.recordID(camera: config.camera.id, rule: rule, inputSha256: inputSha256, frame: frame, pts: pts)
    }

    public static func recordID(camera: String, rule: RuleKind, inputSha256: String, frame: Int, pts: Double) -> String {
        let text = "\(ViolationRecord.schemaName)|\(camera)|\(rule.rawValue)|\(inputSha256)|\(frame)|\(String(format: "%.4f", pts))"
        return String(SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined().prefix(32))
    }

    /// The wall-clock time of the input's first frame, from the configured clock.
    public func footageStart(path: String, info: MediaInfo) -> Date? {
        switch config.camera.clock {
        case .creationTime: return info.creationTime
        case .fixed(let d): return d
        case .fileName(let pattern): return Self.parseFileNameTime((path as NSString).lastPathComponent, pattern: pattern, offset: config.camera.utcOffsetSeconds)
        }
    }

    /// Matches `name` against a pattern of literal text and %Y %m %d %H %M %S fields (local time at `offset`).
    public static func parseFileNameTime(_ name: String, pattern: String, offset: Int) -> Date? {
        let n = Array(name), p = Array(pattern)
        var fields: [Character: Int] = [:]
        var i = 0, j = 0
        while j < p.count {
            if p[j] == "%", j + 1 < p.count, let width = ["Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2][String(p[j + 1])] {
                guard i + width <= n.count, let v = Int(String(n[i..<(i + width)])) else { return nil }
                fields[p[j + 1]] = v
                i += width
                j += 2
            } else {
                guard i < n.count, n[i] == p[j] else { return nil }
                i += 1
                j += 1
            }
        }
        guard let y = fields["Y"], let mo = fields["m"], let d = fields["d"], let h = fields["H"], let mi = fields["M"], let s = fields["S"] else { return nil }
        let text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d%@", y, mo, d, h, mi, s, formatOffset(offset))
        return ISO8601Instant.parse(text)
    }

    static func formatOffset(_ offset: Int) -> String {
        offset == 0 ? "Z" : String(format: "%@%02d:%02d", offset < 0 ? "-" : "+", abs(offset) / 3600, abs(offset) % 3600 / 60)
    }

    /// ISO 8601 with milliseconds at the camera's UTC offset: `2026-03-14T08:30:10.828+01:00`.
    public static func formatTime(_ date: Date, offset: Int) -> String {
        let local = date.addingTimeInterval(Double(offset))
        let utc = ISO8601Instant.format(local) // 2026-03-14T07:30:10.828000Z, read as local time
        let trimmed = String(utc.prefix(23))
        return trimmed + Self.formatOffset(offset)
    }

    /// The data bar burned into evidence.
    public static func caption(_ r: ViolationRecord) -> [String] {
        var first = "CAMERA \(r.camera)"
        if let l = r.location { first += "  \(l)" }
        var second = "\(r.time ?? String(format: "PTS %.3f S", r.ptsS))  \(r.rule == .redLight ? "RED LIGHT" : "SPEEDING")"
        if let lane = r.lane { second += "  LANE \(lane)" }
        if r.rule == .speeding, let v = r.speedKmh, let u = r.speedUncertaintyKmh, let limit = r.limitKmh {
            second += String(format: "  SPEED %.1f +/- %.1f KM/H  LIMIT %.0f", v, u, limit)
        } else if let s = r.signal {
            second += String(format: "  %.2f S INTO RED", s.timeIntoRedS)
            if let v = r.speedKmh { second += String(format: "  %.0f KM/H", v) }
        }
        return [first, second, "RECORD \(r.id)"]
    }
}
