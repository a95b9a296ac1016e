import Foundation
import TrafficModel
import VideoIO

/// One lamp of a signal head: which phase it shows, where it is in the image (full-resolution pixels).
public struct LampRegion: Sendable, Equatable, Codable {
    public var phase: SignalPhase
    public var center: Point2
    public var radius: Double
    public init(phase: SignalPhase, center: Point2, radius: Double) {
        self.phase = phase
        self.center = center
        self.radius = radius
    }

    /// The lamp with its glow: a region the motion detector should ignore, since the lamp changes by itself.
    public var surroundings: Box {
        Box(x: center.x - 2 * radius, y: center.y - 2 * radius, width: 4 * radius, height: 4 * radius)
    }
}

public struct SignalReaderOptions: Sendable, Equatable {
    /// The lit lamp's mean luma must exceed the next brightest lamp's by this many 8-bit levels ...
    public var minimumContrast = 20.0
    /// ... and by this factor (bloom at night lights the neighbouring lamps too, but less).
    public var minimumRatio = 1.25
    /// A new state is believed after this many frames in a row (hysteresis against flicker and passing glare).
    public var holdFrames = 2
    public init() {}
}

/// Reads the signal phase from the lamps of a signal head: per frame, the lamp that is clearly the brightest of
/// the three is lit (relative to the others in the same frame, so neither night bloom nor exposure matter);
/// a state holds until another has been seen `holdFrames` frames in a row. Onsets are placed midway between the
/// last frame of the old state and the first frame of the new one, so they are within half a frame of the truth.
public final class SignalReader {
    public let lamps: [LampRegion]
    public let options: SignalReaderOptions
    /// Per frame: time and the state read in that frame alone (before hysteresis).
    public private(set) var readings: [(pts: Double, phase: SignalPhase)] = []

    public init(lamps: [LampRegion], options: SignalReaderOptions = SignalReaderOptions()) {
        self.lamps = lamps
        self.options = options
    }

    /// Reads one frame and remembers it.
    @discardableResult
    public func observe(_ frame: VideoFrame) -> SignalPhase {
        let phase = frame.withLuma { read($0) }
        readings.append((frame.pts, phase))
        return phase
    }

    /// The state shown in one frame's luma plane, `.unknown` when no lamp stands out.
    public func read(_ luma: PlaneView) -> SignalPhase {
        let levels = lamps.map { (phase: $0.phase, level: meanLuma(luma, $0)) }.sorted { $0.level > $1.level }
        guard let first = levels.first else { return .unknown }
        let second = levels.count > 1 ? levels[1].level : 0
        guard first.level - second >= options.minimumContrast, first.level >= second * options.minimumRatio else { return .unknown }
        return first.phase
    }

    private func meanLuma(_ luma: PlaneView, _ lamp: LampRegion) -> Double {
        let r = lamp.radius * 0.75, r2 = r * r
        var sum = 0, count = 0
        // A lamp outside this picture (a damaged or smaller video) reads as dark, never as a crash.
        let y0 = max(0, Int(lamp.center.y - r)), y1 = min(luma.height - 1, Int(lamp.center.y + r))
        let x0 = max(0, Int(lamp.center.x - r)), x1 = min(luma.width - 1, Int(lamp.center.x + r))
        guard y0 <= y1, x0 <= x1 else { return 0 }
        for y in y0...y1 {
            for x in x0...x1 {
                let dx = Double(x) + 0.5 - lamp.center.x, dy = Double(y) + 0.5 - lamp.center.y
                if dx * dx + dy * dy <= r2 { sum += Int(luma[x, y]); count += 1 }
            }
        }
        return count > 0 ? Double(sum) / Double(count) : 0
    }

    /// The phase timeline from everything observed, from the first frame to one frame past the last.
    public func timeline() -> PhaseTimeline {
        guard let firstReading = readings.first else { return PhaseTimeline([]) }
        let frameGap = readings.count > 1 ? (readings.last!.pts - firstReading.pts) / Double(readings.count - 1) : 0.04
        var intervals: [PhaseInterval] = []
        var current: SignalPhase?
        var currentStart = firstReading.pts
        var lastOfCurrent = firstReading.pts  // last frame that showed the current state
        var k = 0
        while k < readings.count {
            let r = readings[k]
            if r.phase == current { lastOfCurrent = r.pts; k += 1; continue }
            // A different reading: does it hold for holdFrames?
            let run = readings[k...].prefix { $0.phase == r.phase }.count
            let atStart = current == nil
            if run >= options.holdFrames || atStart || k + run == readings.count {
                let onset = atStart ? r.pts : (lastOfCurrent + r.pts) / 2
                if let current { intervals.append(PhaseInterval(phase: current, start: currentStart, end: onset)) }
                current = r.phase
                currentStart = onset
                lastOfCurrent = readings[k + run - 1].pts
                k += run
            } else {
                k += run  // flicker: the current state goes on
            }
        }
        if let current { intervals.append(PhaseInterval(phase: current, start: currentStart, end: readings.last!.pts + frameGap)) }
        return PhaseTimeline(intervals)
    }
}

/// A signal controller's log instead of reading lamps: CSV lines `time,phase` (a header line is allowed), time in
/// seconds from the footage's start or as an ISO 8601 instant (then `footageStart` is needed), phase one of
/// red, amber (or yellow), green. Each phase lasts until the next line.
public enum ControllerLog {
    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ text: String, path: String, footageStart: Date? = nil, end: Double) throws -> PhaseTimeline {
        var changes: [(Double, SignalPhase)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || (n == 0 && line.lowercased().hasPrefix("time")) { continue }
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2 else { throw Error(description: "\(path):\(n + 1): expected time,phase") }
            let time: Double
            if let seconds = Double(fields[0]) {
                time = seconds
            } else if let instant = ISO8601Instant.parse(fields[0]) {
                guard let footageStart else { throw Error(description: "\(path):\(n + 1): an ISO time needs the footage's start time") }
                time = instant.timeIntervalSince(footageStart)
            } else {
                throw Error(description: "\(path):\(n + 1): '\(fields[0])' is neither seconds nor an ISO 8601 time")
            }
            let name = fields[1].lowercased() == "yellow" ? "amber" : fields[1].lowercased()
            guard let phase = SignalPhase(rawValue: name), phase != .unknown else {
                throw Error(description: "\(path):\(n + 1): unknown phase '\(fields[1])' (red, amber, green)")
            }
            if let last = changes.last, time < last.0 {
                throw Error(description: "\(path):\(n + 1): time \(fields[0]) goes back")
            }
            changes.append((time, phase))
        }
        return PhaseTimeline(changes.enumerated().map { k, change in
            PhaseInterval(phase: change.1, start: change.0, end: k + 1 < changes.count ? changes[k + 1].0 : max(end, change.0))
        })
    }
}
