import Foundation

/// The rules Roadwatch enforces.
public enum RuleKind: String, Sendable, Codable, CaseIterable, Comparable {
    case redLight = "red_light"
    case speeding
    public static func < (a: RuleKind, b: RuleKind) -> Bool { a.rawValue < b.rawValue }
}

/// One violation as the fines office receives it: schema `roadwatch.violation/1`, one JSON object per line of
/// `violations.jsonl`. Every field is always present (but `input.detections_sha256`, only with an upstream
/// detector's boxes); fields that do not apply to the rule are `null`.
/// Field by field in docs/records.md.
public struct ViolationRecord: Sendable, Equatable, Codable {
    public static let schemaName = "roadwatch.violation/1"

    public struct Input: Sendable, Equatable, Codable {
        public var path: String
        public var sha256: String
        /// SHA-256 of the upstream detector's boxes the record was found in (`detection.source: external`); absent
        /// for the motion detector, whose record depends on the footage alone.
        public var detectionsSha256: String?
        enum CodingKeys: String, CodingKey { case path, sha256, detectionsSha256 = "detections_sha256" }
        public init(path: String, sha256: String, detectionsSha256: String? = nil) {
            self.path = path; self.sha256 = sha256; self.detectionsSha256 = detectionsSha256
        }
    }

    public struct Signal: Sendable, Equatable, Codable {
        /// The phase shown when the front crossed the stop line (always "red" for a record).
        public var phase: String
        /// Red onset, seconds from the input's first frame.
        public var redOnsetS: Double
        /// Seconds into red when the front crossed: the earliest the evidence allows (`crossingWindowS[0] - redOnsetS`).
        public var timeIntoRedS: Double
        /// Duration of the amber phase before this red, when the footage shows all of it.
        public var amberS: Double?
        /// The stretch (seconds from the first frame) within which the front crossed the line.
        public var crossingWindowS: [Double]
        enum CodingKeys: String, CodingKey {
            case phase, redOnsetS = "red_onset_s", timeIntoRedS = "time_into_red_s", amberS = "amber_s", crossingWindowS = "crossing_window_s"
        }
        public init(phase: String, redOnsetS: Double, timeIntoRedS: Double, amberS: Double?, crossingWindowS: [Double]) {
            self.phase = phase; self.redOnsetS = redOnsetS; self.timeIntoRedS = timeIntoRedS; self.amberS = amberS
            self.crossingWindowS = crossingWindowS
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(phase, forKey: .phase)
            try c.encode(redOnsetS, forKey: .redOnsetS)
            try c.encode(timeIntoRedS, forKey: .timeIntoRedS)
            try c.encode(amberS, forKey: .amberS)
            try c.encode(crossingWindowS, forKey: .crossingWindowS)
        }
    }

    public struct Evidence: Sendable, Equatable, Codable {
        /// `still_before`, `still_after`, `still_entry`, `still_exit`, `clip`.
        public var kind: String
        /// Relative to the run folder.
        public var path: String
        public var sha256: String
        public init(kind: String, path: String, sha256: String) { self.kind = kind; self.path = path; self.sha256 = sha256 }
    }

    public struct Severity: Sendable, Equatable, Codable {
        public var band: String
        /// What the band was chosen on: km/h over the limit (speed minus uncertainty minus limit) or null.
        public var excessKmh: Double?
        enum CodingKeys: String, CodingKey { case band, excessKmh = "excess_kmh" }
        public init(band: String, excessKmh: Double?) { self.band = band; self.excessKmh = excessKmh }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(band, forKey: .band)
            try c.encode(excessKmh, forKey: .excessKmh)
        }
    }

    public var schema = ViolationRecord.schemaName
    public var id: String
    public var rule: RuleKind
    public var camera: String
    public var location: String?
    public var input: Input
    public var frame: Int
    public var ptsS: Double
    /// ISO 8601 with the camera's UTC offset: footage clock + pts.
    public var time: String?
    public var track: Int
    /// Track ids joined into this one (an identity switch after an occlusion), in order; `[track]` when none.
    public var tracks: [Int]
    public var lane: String?
    public var box: Box
    public var speedKmh: Double?
    public var speedUncertaintyKmh: Double?
    public var limitKmh: Double?
    public var thresholdKmh: Double?
    public var signal: Signal?
    public var severity: Severity?
    public var evidence: [Evidence]
    public var pipelineSha256: String
    public var version: String

    enum CodingKeys: String, CodingKey {
        case schema, id, rule, camera, location, input, frame, ptsS = "pts_s", time, track, tracks, lane, box
        case speedKmh = "speed_kmh", speedUncertaintyKmh = "speed_uncertainty_kmh", limitKmh = "limit_kmh"
        case thresholdKmh = "threshold_kmh", signal, severity, evidence, pipelineSha256 = "pipeline_sha256", version
    }

    public init(id: String, rule: RuleKind, camera: String, location: String?, input: Input, frame: Int, ptsS: Double,
                time: String?, track: Int, tracks: [Int], lane: String?, box: Box, speedKmh: Double?, speedUncertaintyKmh: Double?,
                limitKmh: Double?, thresholdKmh: Double?, signal: Signal?, severity: Severity?, evidence: [Evidence],
                pipelineSha256: String, version: String) {
        self.id = id; self.rule = rule; self.camera = camera; self.location = location; self.input = input
        self.frame = frame; self.ptsS = ptsS; self.time = time; self.track = track; self.tracks = tracks; self.lane = lane
        self.box = box; self.speedKmh = speedKmh; self.speedUncertaintyKmh = speedUncertaintyKmh; self.limitKmh = limitKmh
        self.thresholdKmh = thresholdKmh; self.signal = signal; self.severity = severity; self.evidence = evidence
        self.pipelineSha256 = pipelineSha256; self.version = version
    }

    /// Writes every key, `null` for what does not apply.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(id, forKey: .id)
        try c.encode(rule, forKey: .rule)
        try c.encode(camera, forKey: .camera)
        try c.encode(location, forKey: .location)
        try c.encode(input, forKey: .input)
        try c.encode(frame, forKey: .frame)
        try c.encode(ptsS, forKey: .ptsS)
        try c.encode(time, forKey: .time)
        try c.encode(track, forKey: .track)
        try c.encode(tracks, forKey: .tracks)
        try c.encode(lane, forKey: .lane)
        try c.encode(box, forKey: .box)
        try c.encode(speedKmh, forKey: .speedKmh)
        try c.encode(speedUncertaintyKmh, forKey: .speedUncertaintyKmh)
        try c.encode(limitKmh, forKey: .limitKmh)
        try c.encode(thresholdKmh, forKey: .thresholdKmh)
        try c.encode(signal, forKey: .signal)
        try c.encode(severity, forKey: .severity)
        try c.encode(evidence, forKey: .evidence)
        try c.encode(pipelineSha256, forKey: .pipelineSha256)
        try c.encode(version, forKey: .version)
    }

    /// One line of violations.jsonl: keys sorted, no spaces, so equal records are equal bytes.
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Rounds to `places` decimals, so records print short and the same on every machine.
@inlinable public func rounded(_ value: Double, _ places: Int) -> Double {
    let scale = [1.0, 10, 100, 1000, 10_000, 100_000, 1_000_000][max(0, min(6, places))]
    return (value * scale).rounded() / scale
}
