import Foundation
/// What the signal head shows.
public enum SignalPhase: String, Sendable, Codable, CaseIterable {
    case green, amber, red, unknown
}

/// One stretch of a phase: from `start` (inclusive) to `end` (exclusive), in seconds of footage time.
public struct PhaseInterval: Sendable, Equatable, Codable {
    public var phase: SignalPhase
    public var start: Double
    public var end: Double
    public init(phase: SignalPhase, start: Double, end: Double) {
        self.phase = phase
        self.start = start
        self.end = end
    }
}

/// A phase timeline: ordered, non-overlapping intervals.
public struct PhaseTimeline: Sendable, Equatable, Codable {
    public var intervals: [PhaseInterval]
    public init(_ intervals: [PhaseInterval]) { self.intervals = intervals }

    /// The timeline as CSV: a `phase,start_s,end_s` header, then one row per interval (seconds from the file's start).
    public var csv: String {
        (["phase,start_s,end_s"] + intervals.map { String(format: "%@,%.4f,%.4f", $0.phase.rawValue, $0.start, $0.end) })
            .joined(separator: "\n") + "\n"
    }

    /// The phase at time `t`, `.unknown` outside the timeline.
    public func phase(at t: Double) -> SignalPhase {
        var lo = 0, hi = intervals.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if intervals[mid].end <= t { lo = mid + 1 } else { hi = mid }
        }
        guard lo < intervals.count, intervals[lo].start <= t else { return .unknown }
        return intervals[lo].phase
    }

    /// The interval holding `t`.
    public func interval(at t: Double) -> PhaseInterval? {
        intervals.first { $0.start <= t && t < $0.end }
    }
}
