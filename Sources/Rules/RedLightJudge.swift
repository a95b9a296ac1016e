import TrafficModel

/// Red-light running: the front of a vehicle crossed the stop line while the signal showed red, later than the
/// grace period after red onset, faster than the minimum speed, outside exempt lanes.
///
/// The front is not always visible. Driving `toward` the camera it is the box's bottom edge, on the road: its
/// crossing time is measured directly (± its jitter over the speed). Driving `away` the bumper is hidden by the
/// body; the front then crossed the line somewhere between
/// - the moment the box's top edge, projected onto the road, crossed it (the earliest possible: the top of a
///   vehicle projects beyond its front when seen from above), and
/// - the moment the bottom edge (the rear, on the road) crossed it (the latest possible).
/// A violation needs the whole of that window inside one red phase, after the grace period: a vehicle that stops at
/// the line and goes on green has a window reaching into green and is never flagged.
struct RedLightJudge {
    let rule: RedLightRule
    let rules: RuleSet
    let line: GroundLine
    let scale: Double

    init?(rule: RedLightRule, rules: RuleSet) {
        guard let l = GroundLine(image: rule.stopLine, calibration: rules.calibration,
                                 travelImageDV: rule.approach == .away ? -10 : 10) else { return nil }
        line = l
        let mid = Point2((rule.stopLine.a.x + rule.stopLine.b.x) / 2, (rule.stopLine.a.y + rule.stopLine.b.y) / 2)
        scale = rules.calibration.metresPerPixel(at: mid).map { max($0.x, $0.y) } ?? 0.1
        self.rule = rule; self.rules = rules
    }

    /// Between consecutive frames the front edge must not move back (down the picture driving away, up it driving
    /// toward) by more than 10 % of the box height plus twice the edge quantisation.
    func frontEdgeSteady(_ t: TrackTable, _ range: Range<Int>) -> Bool {
        guard range.count >= 2 else { return true }
        var i = range.lowerBound + 1
        while i < range.upperBound {
            let a = t.box[i - 1], b = t.box[i]
            let back = rule.approach == .away ? b.y - a.y : a.maxY - b.maxY
            if back > 0.1 * max(a.height, b.height) + 2 * rules.boxJitterPixels { return false }
            i += 1
        }
        return true
    }

    /// Some box in the range is at least half as tall as wide: a vehicle seen from a pole, from behind or in front,
    /// is about as tall as it is wide in the picture (cars 0.9–1.1 at the junction samples' stop line, trucks and
    /// motorcycles taller); a strip much wider than tall is a piece of one.
    func wholeVehicle(_ t: TrackTable, _ range: Range<Int>) -> Bool {
        range.contains { isWhole(t, $0) }
    }

    @inline(__always) func isWhole(_ t: TrackTable, _ i: Int) -> Bool { t.box[i].height >= 0.5 * t.box[i].width }

    /// The rear's ground speed along the direction of travel over `range`, from a least-squares line through the
    /// points whose box is the whole vehicle (a roof strip's bottom edge lies metres ahead of the rear: at dusk a dark
    /// car's lower body came and went, and a fit through every point read 62.8 km/h for a 48.6 km/h car), with its
    /// standard uncertainty and the fit's residual.
    ///
    /// The uncertainty is the larger of the slope's standard error (from the larger of the residual and the box
    /// jitter `floor`, metres) and a jackknife over four consecutive blocks of the points: how far the speed moves
    /// when any quarter of the boxes is left out. Box errors that drift rather than scatter (a shadow that shrinks
    /// as the vehicle drives off, a fragment that stands for it for the last frames) bend the line without
    /// widening the residual: under the shaking camera a motorcycle's box held its shadow, then for the last 8 of 36
    /// frames only its rider, and read 56.0 ± 6.5 km/h for a true 44.4. Nil with fewer than three whole boxes.
    func rearSpeed(_ t: TrackTable, _ range: Range<Int>, floor: Double) -> (speed: Double, sigma: Double, rms: Double)? {
        let distance = { (i: Int) in line.side(t.groundX[i], t.groundY[i]) }
        guard let fit = lineFitWithMean(range, time: { t.pts[$0] }, value: distance, include: { isWhole(t, $0) }) else { return nil }
        var n = 0.0, stt = 0.0, ss = 0.0
        for i in range where isWhole(t, i) {
            let dt = t.pts[i] - fit.meanTime, e = distance(i) - fit.meanValue - fit.slope * dt
            n += 1; stt += dt * dt; ss += e * e
        }
        guard n >= 3 else { return nil }
        let rms = (ss / (n - 2)).squareRoot()
        let standardError = max(rms, floor) / stt.squareRoot()
        // Block jackknife: the points in four runs of consecutive whole boxes; (g − 1) / g · Σ (slope without run b −
        // slope)² with g = 4. A refit without a run is the whole fit's sums less the run's (times from the fit's mean
        // time, so the whole fit's Σ t is 0 and its Σ t·v is slope · Σ t²). Needs eight whole boxes.
        let whole = Int(n)
        guard whole >= 8 else { return (fit.slope, standardError, rms) }
        var sum = 0.0, ordinal = 0, block = 0
        var count = 0.0, sumT = 0.0, sumV = 0.0, sumTT = 0.0, sumTV = 0.0
        func leaveOut() {
            let m = n - count, mt = -sumT, mv = n * fit.meanValue - sumV
            let denominator = stt - sumTT - mt * mt / m
            if denominator > 1e-12 {
                let slope = (fit.slope * stt - sumTV - mt * mv / m) / denominator
                sum += (slope - fit.slope) * (slope - fit.slope)
            }
            count = 0; sumT = 0; sumV = 0; sumTT = 0; sumTV = 0
        }
        for i in range where isWhole(t, i) {
            if ordinal * 4 / whole != block { leaveOut(); block += 1 }
            let dt = t.pts[i] - fit.meanTime, value = distance(i)
            count += 1; sumT += dt; sumV += value; sumTT += dt * dt; sumTV += dt * value
            ordinal += 1
        }
        leaveOut()
        let jackknife = (3.0 / 4.0 * sum).squareRoot()
        return (fit.slope, max(standardError, jackknife), rms)
    }

    /// The vehicle stood still inside its crossing window: over some 1.5 s of it, the rear's median position in the
    /// last 0.3 s is less than `minimumSpeed` × 1.2 s ahead of its median in the first 0.3 s (medians, because box
    /// bottoms flicker by metres between frames: up to 7 m on the rendered dusk junction). Its front then crossed at a time
    /// no one saw; and a track whose window holds a wait is often two vehicles (a car waiting before the line whose
    /// track took over one beyond it).
    /// Only windows of 1.5 s or more are looked at (a runner's is under a second), so this is rare work.
    func stood(_ t: TrackTable, _ r: Range<Int>, from start: Double, to end: Double, minimumSpeed: Double) -> Bool {
        guard end - start >= 1.5 else { return false }
        let w = subrange(r, pts: t.pts, from: start, to: end)
        func median(_ a: Double, _ b: Double) -> Double? {
            let s = subrange(w, pts: t.pts, from: a, to: b).map { line.side(t.groundX[$0], t.groundY[$0]) }.sorted()
            return s.isEmpty ? nil : s[s.count / 2]
        }
        var from = start
        while from + 1.5 <= end {
            if let a = median(from, from + 0.3), let b = median(from + 1.2, from + 1.5), b - a < minimumSpeed * 1.2 { return true }
            from += 0.1
        }
        return false
    }

    /// The longest time between the two observed boxes a crossing is timed between, in seconds.
    static let maximumGap = 0.25

    func judge(_ t: TrackTable, _ k: Int, _ timeline: PhaseTimeline, _ stats: inout RuleStats) -> RuleEvent? {
        let r = t.range(k)
        guard let rear = firstForwardCrossing(r, pts: t.pts, side: { line.side(t.groundX[$0], t.groundY[$0]) }) else { return nil }
        var early: (index: Int, time: Double, gap: Double)
        if rule.approach == .away {
            guard let top = firstForwardCrossing(r, pts: t.pts, side: { line.side(t.topX[$0], t.topY[$0]) }), top.time <= rear.time else { return nil }
            early = top
        } else {
            early = rear
        }
        stats.stopLineCrossings += 1
        // Each crossing is timed between two observed boxes; across a longer gap (a track coasting through an
        // occlusion, or one that took over a box far ahead: measured on a rendered dense junction, 0.88 s and 72 m
        // from a car near the camera to a speck beyond the line) the time is a guess. On the samples and scenes the
        // boxes either side of a runner's crossings are at most 0.16 s apart. (The speed rule allows 0.5 s: its
        // crossings are refitted over 0.3 s either side; these are not.)
        guard max(early.gap, rear.gap) <= Self.maximumGap else {
            stats.crossedUnseen += 1
            return nil
        }
        // A piece of a vehicle tracked on its own (the strip of a dark car's bumper and lights that dusk left,
        // measured on a rendered dusk junction: 24–39 × 9 px under a 54 × 54 car) has its front edge inside the
        // vehicle: it crosses later than the front and would add time into red. So the track must have been seen whole in the half second before; with the steady
        // front edge checked below, the edge at the crossing is then the whole vehicle's.
        guard wholeVehicle(t, subrange(r, pts: t.pts, from: early.time - 0.5, to: early.time)) else {
            stats.boxNotWhole += 1
            return nil
        }
        // The window's start rests on the front edge of the box (the top driving away, the bottom driving toward):
        // an edge that jumps back against the motion around the crossing (part of the vehicle lost) could place the
        // window later than the truth. Growth (a neighbour merging) only moves it earlier, which is safe.
        guard frontEdgeSteady(t, subrange(r, pts: t.pts, from: early.time - 0.5, to: early.time + 0.2)) else {
            stats.boxUnsteady += 1
            return nil
        }
        // Ground speed of the rear around the crossing, along the direction of travel, and its standard uncertainty.
        let around = subrange(r, pts: t.pts, from: early.time - 0.5, to: rear.time + 0.5)
        let quantisation = (rules.boxJitterPixels * rules.boxJitterPixels + 1.0 / 12).squareRoot() * scale
        guard let fit = rearSpeed(t, around, floor: quantisation), fit.speed > 0 else {
            stats.crossedTooSlow += 1
            return nil
        }
        let speed = fit.speed
        guard !stood(t, r, from: early.time, to: rear.time, minimumSpeed: max(1, rule.minimumSpeedKmh / 3.6)) else {
            stats.crossedTooSlow += 1
            return nil
        }
        let jitter = max(fit.rms, quantisation)
        let margin = jitter / speed
        let windowStart = early.time - margin, windowEnd = rear.time + margin
        guard let interval = timeline.interval(at: windowStart), interval.phase == .red, windowEnd < interval.end else {
            stats.crossedNotRed += 1
            return nil
        }
        let intoRed = windowStart - interval.start
        guard intoRed >= rule.graceSeconds else {
            stats.crossedInGrace += 1
            return nil
        }
        // Expanded uncertainty (2 σ), as for speeding: only a vehicle surely faster than the minimum is recorded. Over
        // a second the box bottom is not quite the rear's contact with the road as the view of it changes: a standard
        // uncertainty of method of 3 % of the speed is added (measured on the rendered junctions: −3.4 % to +5.5 %
        // where the fit's own standard error was under 0.5 km/h).
        let kmh = speed * 3.6, uncertaintyKmh = 2 * 3.6 * (fit.sigma * fit.sigma + 0.03 * speed * 0.03 * speed).squareRoot()
        guard kmh - uncertaintyKmh >= rule.minimumSpeedKmh else {
            stats.crossedTooSlow += 1
            return nil
        }
        let lane = rules.lane(at: t.box[rear.index - 1].bottomCenter) ?? rules.lane(at: t.box[rear.index].bottomCenter)
        if let lane, lane.exempt.contains(.redLight) {
            stats.crossedExempt += 1
            return nil
        }
        let previous = timeline.intervals.last { $0.end <= interval.start + 1e-9 && $0.end > interval.start - 1e-3 }
        let amber = previous.flatMap { p -> Double? in
            p.phase == .amber && p.start > (timeline.intervals.first?.start ?? 0) ? rounded(p.end - p.start, 3) : nil
        }
        let before = max(r.lowerBound, early.index - 1)
        let after = rear.index
        return RuleEvent(
            rule: .redLight, track: t.ids[k], tracks: t.joined[k], frame: t.frame[early.index], pts: rounded(windowStart, 4),
            box: t.box[early.index], lane: lane?.id, speedKmh: rounded(kmh, 2), speedUncertaintyKmh: rounded(uncertaintyKmh, 2), limitKmh: nil,
            thresholdKmh: nil,
            signal: ViolationRecord.Signal(phase: "red", redOnsetS: rounded(interval.start, 4), timeIntoRedS: rounded(intoRed, 4),
                                           amberS: amber, crossingWindowS: [rounded(windowStart, 4), rounded(windowEnd, 4)]),
            severity: ViolationRecord.Severity(band: rule.band, excessKmh: nil),
            evidence: [EvidenceFrame(kind: "still_before", frame: t.frame[before], pts: t.pts[before], box: t.box[before]),
                       EvidenceFrame(kind: "still_after", frame: t.frame[after], pts: t.pts[after], box: t.box[after])],
            quality: r.count)
    }
}
