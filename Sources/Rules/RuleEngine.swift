import TrafficModel

/// A frame to keep as evidence: which, where the vehicle is in it.
public struct EvidenceFrame: Sendable, Equatable, Codable {
    public var kind: String
    public var frame: Int
    public var pts: Double
    public var box: Box
}

/// A violation as the rules find it in one input: everything a record says except the identities (ids, hashes,
/// wall-clock time) that the pipeline adds.
public struct RuleEvent: Sendable, Equatable, Codable {
    public var rule: RuleKind
    public var track: Int
    public var tracks: [Int]
    public var frame: Int
    public var pts: Double
    public var box: Box
    public var lane: String?
    public var speedKmh: Double?
    public var speedUncertaintyKmh: Double?
    public var limitKmh: Double?
    public var thresholdKmh: Double?
    public var signal: ViolationRecord.Signal?
    public var severity: ViolationRecord.Severity?
    public var evidence: [EvidenceFrame]
    /// How good the evidence is (observed points of the track): dedup keeps the best.
    public var quality: Int
}

/// What went in and came out of the rules, and why candidates were dropped.
public struct RuleStats: Sendable, Equatable, Codable {
    public var tracksIn = 0
    public var pointsIn = 0
    public var fragmentsJoined = 0
    public var zoneSpeeds = 0
    public var zoneNotCovered = 0
    public var speedInconsistent = 0
    /// Candidates dropped because the vehicle's box changed shape where it was measured.
    public var boxUnsteady = 0
    public var speedWithinThreshold = 0
    public var stopLineCrossings = 0
    public var crossedNotRed = 0
    public var crossedInGrace = 0
    public var crossedTooSlow = 0
    public var crossedExempt = 0
    public var duplicatesMerged = 0
    public var eventsOut = 0
    /// Stop-line crossings dropped because the track was not seen whole (a box at least half as tall as wide) in the
    /// half second before: a piece of a vehicle, whose front edge is not the vehicle's.
    public var boxNotWhole = 0
    /// Stop-line crossings dropped because the boxes either side of them were more than 0.25 s apart.
    public var crossedUnseen = 0
    public init() {}
}

/// Applies the speed and red-light rules to one input's tracks and signal timeline, then deduplicates.
/// Pure and deterministic: the same tracks, timeline and rules give the same events, in (time, rule, track) order.
public struct RuleEngine: Sendable {
    public let rules: RuleSet
    public init(rules: RuleSet) { self.rules = rules }

    public func evaluate(tracks: [Track], timeline: PhaseTimeline?, timeBaseSeconds: Double = 1.0 / 90_000) -> (events: [RuleEvent], stats: RuleStats) {
        var stats = RuleStats()
        stats.tracksIn = tracks.count
        let raw = TrackTable(tracks: tracks, calibration: rules.calibration)
        stats.pointsIn = raw.pointCount
        let table = raw.stitched(window: rules.dedupWindowSeconds) { rules.lane(at: $0)?.id }
        stats.fragmentsJoined = raw.count - table.count
        return evaluate(table: table, timeline: timeline, timeBaseSeconds: timeBaseSeconds, stats: stats)
    }

    /// The rules over tracks already in columns (the benchmark's entry point).
    public func evaluate(table: TrackTable, timeline: PhaseTimeline?, timeBaseSeconds: Double = 1.0 / 90_000,
                         stats initial: RuleStats = RuleStats()) -> (events: [RuleEvent], stats: RuleStats) {
        var stats = initial
        var events: [RuleEvent] = []
        let speed = rules.speeding.flatMap { SpeedMeasurer(rule: $0, rules: rules, timeBase: timeBaseSeconds) }
        let red = rules.redLight.flatMap { RedLightJudge(rule: $0, rules: rules) }
        for k in 0..<table.count {
            if let speed, let event = speed.judge(table, k, &stats) { events.append(event) }
            if let red, let timeline, let event = red.judge(table, k, timeline, &stats) { events.append(event) }
        }
        let kept = deduplicate(events, &stats)
        stats.eventsOut = kept.count
        return (kept, stats)
    }

    /// One event per vehicle per rule: events of one rule in one lane within the dedup window are one vehicle's
    /// (after stitching, what is left are tracks the stitcher could not join, e.g. a second detection of the same
    /// vehicle); the one with the most observed points is kept.
    func deduplicate(_ events: [RuleEvent], _ stats: inout RuleStats) -> [RuleEvent] {
        let sorted = events.sorted { ($0.pts, $0.rule, $0.track) < ($1.pts, $1.rule, $1.track) }
        // Each rule's line on the ground, and each kept event with where its vehicle stood across the road along it
        // (worked out once per event).
        let lines = [RuleKind.speeding: rules.speeding?.exit, .redLight: rules.redLight?.stopLine].compactMapValues { $0.flatMap(groundLine) }
        var kept: [(event: RuleEvent, across: ClosedRange<Double>?)] = []
        for e in sorted {
            let across = lines[e.rule].flatMap { acrossRoad(e, along: $0) }
            // Kept events are in time order: look back only as far as the window reaches.
            var match: Int?
            var j = kept.count - 1
            while j >= 0 && e.pts - kept[j].event.pts <= rules.dedupWindowSeconds {
                let k = kept[j]
                if k.event.rule == e.rule && k.event.lane == e.lane && sameVehicle(k.event, k.across, e, across) { match = j; break }
                j -= 1
            }
            if let j = match {
                stats.duplicatesMerged += 1
                let tracks = Array(Set(kept[j].event.tracks + e.tracks)).sorted()
                if e.quality > kept[j].event.quality { kept[j] = (e, across) }
                kept[j].event.tracks = tracks
                continue
            }
            kept.append((e, across))
        }
        return kept.map(\.event).sorted { ($0.pts, $0.rule, $0.track) < ($1.pts, $1.rule, $1.track) }
    }

    /// Two events could be one vehicle's: their speeds agree within 3 σ + 5 km/h; for red light, their crossing
    /// windows overlap (one front crossing; a platoon running the same red crosses one after another, and their
    /// speeds at the line may agree); for speeding, they left the zone within the time the longest vehicle takes to
    /// pass a point at that speed (plus 0.25 s); and their vehicles were not side by side on the road, their boxes'
    /// bottom edges more than `sideBySideGapM` apart across it. A lane polygon may hold a whole carriageway: on the
    /// real motorway clip, with one polygon for four lanes, nine measured cars were three records, six merged away.
    private func sameVehicle(_ a: RuleEvent, _ acrossA: ClosedRange<Double>?, _ b: RuleEvent, _ acrossB: ClosedRange<Double>?) -> Bool {
        if let wa = a.signal?.crossingWindowS, let wb = b.signal?.crossingWindowS, wa.count == 2, wb.count == 2,
           wa[0] > wb[1] || wb[0] > wa[1] { return false }
        if let va = a.speedKmh, let vb = b.speedKmh {
            let ua = a.speedUncertaintyKmh ?? 0, ub = b.speedUncertaintyKmh ?? 0
            guard abs(va - vb) <= 3 * (ua * ua + ub * ub).squareRoot() + 5 else { return false }
            // Two tracks of one vehicle leave the zone together, their boxes' bottoms at most a vehicle's length
            // apart; a car following another leaves it a headway later (1.3 s at 88–96 km/h on the real motorway clip).
            if a.rule == .speeding, min(va, vb) > 0, abs(a.pts - b.pts) > Self.longestVehicleM / (min(va, vb) / 3.6) + 0.25 { return false }
        }
        if let ia = acrossA, let ib = acrossB,
           ia.lowerBound > ib.upperBound + Self.sideBySideGapM || ib.lowerBound > ia.upperBound + Self.sideBySideGapM { return false }
        return true
    }

    /// Two tracks of one vehicle (its body and its shadow, or two pieces) lie side by side with a gap of at most a
    /// valley's floor between them; vehicles in neighbouring lanes further apart than this are two.
    static let sideBySideGapM = 0.5
    /// The longest vehicle on the road (an EU articulated lorry, 18.75 m): its pieces' crossings are at most this far apart.
    static let longestVehicleM = 18.75

    /// A rule's line on the ground: a point on it and its unit direction; nil where the calibration does not reach.
    private func groundLine(_ line: Segment) -> (origin: Point2, unit: Point2)? {
        guard let a = rules.calibration.groundPoint(line.a), let b = rules.calibration.groundPoint(line.b) else { return nil }
        let d = b - a, length = d.dot(d).squareRoot()
        return length > 0 ? (a, Point2(d.x / length, d.y / length)) : nil
    }

    /// Where an event's vehicle stood across the road: its box's bottom edge on the ground, as an interval along the
    /// rule's line (the speed zone's exit, the stop line); nil where the calibration does not reach.
    private func acrossRoad(_ e: RuleEvent, along line: (origin: Point2, unit: Point2)) -> ClosedRange<Double>? {
        let c = rules.calibration
        guard let left = c.groundPoint(Point2(e.box.x, e.box.maxY)), let right = c.groundPoint(Point2(e.box.maxX, e.box.maxY)) else { return nil }
        let s0 = (left - line.origin).dot(line.unit), s1 = (right - line.origin).dot(line.unit)
        return min(s0, s1)...max(s0, s1)
    }
}

/// Whether the box keeps its shape from frame to frame over `range`, as a rigid vehicle's does: neither width nor
/// height changes by more than 20 % (per 0.1 s, across gaps) plus twice the edge quantisation between consecutive
/// observations. A box that jumps (two vehicles merging or parting, a shadow joining, part of the vehicle lost)
/// makes its edges, and so every position measured from them, untrustworthy. Without `heightMatters`, only the width
/// counts: for measurements from the bottom edge and the centre, which a top that comes and goes leaves alone.
@inline(__always)
func boxesSteady(_ t: TrackTable, _ range: Range<Int>, jitterPixels: Double, heightMatters: Bool = true) -> Bool {
    guard range.count >= 2 else { return true }
    var i = range.lowerBound + 1
    while i < range.upperBound {
        let a = t.box[i - 1], b = t.box[i]
        // Across a gap (an occlusion joined over) perspective changes the size more: 20 % per 0.1 s.
        let share = 0.2 * max(1, (t.pts[i] - t.pts[i - 1]) / 0.1)
        let dh = abs(b.height - a.height), dw = abs(b.width - a.width)
        if (heightMatters && dh > share * max(a.height, b.height) + 2 * jitterPixels) || dw > share * max(a.width, b.width) + 2 * jitterPixels { return false }
        i += 1
    }
    return true
}

/// Least-squares line of values against times over the points of a range that `include` admits, as slope and the
/// means it passes through.
@inline(__always)
func lineFitWithMean(_ range: Range<Int>, time: (Int) -> Double, value: (Int) -> Double,
                     include: (Int) -> Bool = { _ in true }) -> (slope: Double, meanTime: Double, meanValue: Double)? {
    var n = 0.0, st = 0.0, sv = 0.0
    for i in range where include(i) { n += 1; st += time(i); sv += value(i) }
    guard n >= 2 else { return nil }
    let mt = st / n, mv = sv / n
    var stt = 0.0, stv = 0.0
    for i in range where include(i) { let dt = time(i) - mt; stt += dt * dt; stv += dt * (value(i) - mv) }
    guard stt > 1e-12 else { return nil }
    return (stv / stt, mt, mv)
}

/// A line of values against times (through its means) and how far from it a point may lie and still agree with it.
struct AgreeingLine {
    var slope: Double, meanTime: Double, meanValue: Double
    var tolerance: Double
    /// RMS residual over the points the line admits, and how many they are.
    var rms = 0.0, count = 0
    @inline(__always) func residual(time: Double, value: Double) -> Double { value - meanValue - slope * (time - meanTime) }
    @inline(__always) func admits(time: Double, value: Double) -> Bool { abs(residual(time: time, value: value)) <= tolerance }
    /// The spread of all of `range`'s points about the line, robustly: 1.4826 × their median absolute residual (the
    /// standard deviation for Gaussian jitter), or `floor` where larger. `rms` over the admitted points alone is cut
    /// at the tolerance and reads small when boxes jitter by about that much (an upstream detector's). The median
    /// absolute residual is at most √2 × the RMS over all the points: where that cannot pass `floor`, no sort.
    func spread(_ range: Range<Int>, time: (Int) -> Double, value: (Int) -> Double, floor: Double) -> Double {
        guard !range.isEmpty else { return floor }
        var ss = 0.0
        for i in range { let r = residual(time: time(i), value: value(i)); ss += r * r }
        guard 1.4826 * (2 * ss / Double(range.count)).squareRoot() > floor else { return floor }
        var residuals = range.map { abs(residual(time: time($0), value: value($0))) }
        residuals.sort()
        let n = residuals.count
        return max(floor, 1.4826 * (n % 2 == 1 ? residuals[n / 2] : (residuals[n / 2 - 1] + residuals[n / 2]) / 2))
    }
}

/// A straight line through the points that agree with it: each pass fits the points lying within `tolerance` of the
/// previous pass's line (the first pass fits all), until a line admits as many points as it was fitted to (at most
/// four passes). A box edge that loses a row of the vehicle for a frame or two (the thin wheel of a distant
/// motorcycle) moves its point by several quantisation steps; a plain least-squares fit carries that into the
/// crossing time, this one leaves the point out. Nil when fewer than two thirds of the points (or fewer than
/// `minimum`) agree: then the track itself is unsteady, and no line describes it. `rms` is the residual over the
/// points the final line admits, `count` how many they are.
@inline(__always)
func agreeingLineFit(_ range: Range<Int>, time: (Int) -> Double, value: (Int) -> Double, tolerance: Double,
                     minimum: Int = 3) -> AgreeingLine? {
    guard range.count >= minimum, let first = lineFitWithMean(range, time: time, value: value) else { return nil }
    var line = AgreeingLine(slope: first.slope, meanTime: first.meanTime, meanValue: first.meanValue, tolerance: tolerance)
    var fitted = range.count
    for pass in 0..<4 {
        var admitted = 0, ss = 0.0
        for i in range {
            let r = line.residual(time: time(i), value: value(i))
            if abs(r) <= tolerance { admitted += 1; ss += r * r }
        }
        guard 3 * admitted >= 2 * range.count, admitted >= minimum else { return nil }
        // The line admits the points it was fitted to (all of them, for a steady track: one pass), or passes ran out.
        if admitted == fitted || pass == 3 {
            line.rms = (ss / Double(max(1, admitted - 2))).squareRoot()
            line.count = admitted
            return line
        }
        let current = line
        guard let next = lineFitWithMean(range, time: time, value: value, include: { current.admits(time: time($0), value: value($0)) }) else { return nil }
        line.slope = next.slope; line.meanTime = next.meanTime; line.meanValue = next.meanValue
        fitted = admitted
    }
    return nil
}

/// The points of `range` whose times lie in [t0, t1].
@inline(__always)
func subrange(_ range: Range<Int>, pts: [Double], from t0: Double, to t1: Double) -> Range<Int> {
    var lo = range.lowerBound
    while lo < range.upperBound && pts[lo] < t0 { lo += 1 }
    var hi = lo
    while hi < range.upperBound && pts[hi] <= t1 { hi += 1 }
    return lo..<hi
}
