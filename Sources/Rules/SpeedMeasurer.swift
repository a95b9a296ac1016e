import TrafficModel

/// Zone speed of a track: the ground contact point (bottom centre of the box) crosses the zone's two lines; each
/// crossing time is interpolated between the frames either side (from their timestamps, never an assumed frame
/// rate); speed = ground distance between the crossing points / time between them.
///
/// Uncertainty (one standard deviation, then times the coverage factor):
/// - each crossing point's position along the road: the larger of (a) the box edge's jitter and pixel quantisation
///   (√(j² + 1/12) px) times the local metres per pixel there, and (b) the spread of the track's ground position
///   about a straight-line fit against time over the zone (real jitter, and any acceleration): the larger of the RMS
///   residual over the points the fit admits and the robust spread over all of them (`AgreeingLine.spread`);
/// crossings and the zone fit use the points within 2.5 quantisation steps of the line through them
/// (`agreeingLineFit`): a box that loses its bottom rows for a frame (a distant motorcycle's thin wheel) is left out,
/// not averaged in (it measured the motorway sample's motorcycle 2.86 km/h fast, now 0.13 slow); where more than a
/// third lie further (boxes jittering by more than the quantisation, an upstream detector's), a crossing uses all
/// (the motorway sample on noisy truth boxes: 146.44 ± 4.71 km/h for 135.79, now 137.13 ± 6.85);
/// - each line's position on the ground: the calibration's mean ground error at its points;
/// - each timestamp: the stream's time base / √12.
/// Cross-checks: the fit's slope must agree with the zone speed within 3σ (+3 %), and the slopes over the zone's
/// two halves must agree within 10 % (+3σ of the box quantisation alone), and the fit's RMS residual must stay
/// within 3 times the box quantisation at the far line (a box that jumps is not a rigid vehicle), else no speed.
struct SpeedMeasurer {
    let rule: SpeedingRule
    let rules: RuleSet
    let entry: GroundLine
    let exit: GroundLine
    let scaleEntry: Double
    let scaleExit: Double
    let calibrationSigma: Double
    let timeSigma: Double

    init?(rule: SpeedingRule, rules: RuleSet, timeBase: Double) {
        // Sides are measured as if traffic moves up the picture; vehicles coming down cross both lines backwards.
        guard let e = GroundLine(image: rule.entry, calibration: rules.calibration, travelImageDV: -10),
              let x = GroundLine(image: rule.exit, calibration: rules.calibration, travelImageDV: -10) else { return nil }
        entry = e; exit = x
        func scale(_ s: Segment) -> Double {
            let mid = Point2((s.a.x + s.b.x) / 2, (s.a.y + s.b.y) / 2)
            return rules.calibration.metresPerPixel(at: mid).map { max($0.x, $0.y) } ?? 0.1
        }
        scaleEntry = scale(rule.entry); scaleExit = scale(rule.exit)
        let errors = rules.calibration.worldErrors
        calibrationSigma = errors.isEmpty ? 0 : errors.reduce(0, +) / Double(errors.count)
        timeSigma = timeBase / 12.0.squareRoot()
        self.rule = rule; self.rules = rules
    }

    /// Where the ground point crosses `line` (either way) first: interpolated time and position, and direction.
    private func crossing(_ t: TrackTable, _ r: Range<Int>, _ line: GroundLine) -> (time: Double, x: Double, y: Double, forward: Bool, gap: Double, index: Int)? {
        guard r.count >= 2 else { return nil }
        var previous = line.side(t.groundX[r.lowerBound], t.groundY[r.lowerBound])
        var i = r.lowerBound + 1
        while i < r.upperBound {
            let s = line.side(t.groundX[i], t.groundY[i])
            if (previous <= 0) != (s <= 0) {
                let f = previous == s ? 0 : -previous / (s - previous)
                return (t.pts[i - 1] + f * (t.pts[i] - t.pts[i - 1]),
                        t.groundX[i - 1] + f * (t.groundX[i] - t.groundX[i - 1]),
                        t.groundY[i - 1] + f * (t.groundY[i] - t.groundY[i - 1]),
                        s > 0, t.pts[i] - t.pts[i - 1], i)
            }
            previous = s
            i += 1
        }
        return nil
    }

    /// The crossing refined by straight-line fits over the frames within 0.3 s either side (time against the
    /// signed distance to the line, and each ground coordinate against time, over the points that agree with the
    /// first fit within `tolerance` metres): the bracketing two frames alone carry their full jitter into the time;
    /// the fit averages it over about fifteen and leaves out a frame whose box lost its bottom row.
    private func refined(_ t: TrackTable, _ r: Range<Int>, _ line: GroundLine, tolerance: Double,
                         _ c: (time: Double, x: Double, y: Double, forward: Bool, gap: Double, index: Int)) -> (time: Double, x: Double, y: Double, forward: Bool, gap: Double, index: Int) {
        let around = subrange(r, pts: t.pts, from: c.time - 0.3, to: c.time + 0.3)
        let side = { (i: Int) in line.side(t.groundX[i], t.groundY[i]) }
        // Boxes that jitter by more than the quantisation (an upstream detector's) leave no third of the points out:
        // then all of them, as the two bracketing frames alone would carry their whole jitter into the time.
        let agreeing = agreeingLineFit(around, time: { t.pts[$0] }, value: side, tolerance: tolerance, minimum: 5)
        guard let sd = agreeing.map({ (slope: $0.slope, meanTime: $0.meanTime, meanValue: $0.meanValue) })
                ?? (around.count >= 5 ? lineFitWithMean(around, time: { t.pts[$0] }, value: side) : nil),
              (sd.slope > 0) == c.forward, abs(sd.slope) > 1e-6 else { return c }
        let time = sd.meanTime - sd.meanValue / sd.slope
        let agrees = { (i: Int) in agreeing.map { $0.count == around.count || $0.admits(time: t.pts[i], value: side(i)) } ?? true }
        guard abs(time - c.time) <= 0.3,
              let fx = lineFitWithMean(around, time: { t.pts[$0] }, value: { t.groundX[$0] }, include: agrees),
              let fy = lineFitWithMean(around, time: { t.pts[$0] }, value: { t.groundY[$0] }, include: agrees) else { return c }
        return (time, fx.meanValue + fx.slope * (time - fx.meanTime), fy.meanValue + fy.slope * (time - fy.meanTime), c.forward, c.gap, c.index)
    }

    func judge(_ t: TrackTable, _ k: Int, _ stats: inout RuleStats) -> RuleEvent? {
        let r = t.range(k)
        guard let rawA = crossing(t, r, entry), let rawB = crossing(t, r, exit), rawA.forward == rawB.forward else {
            stats.zoneNotCovered += 1
            return nil
        }
        let jitterPixels = (rules.boxJitterPixels * rules.boxJitterPixels + 1.0 / 12).squareRoot()
        // A point further from the fitted line than 2.5 quantisation steps is not the vehicle's steady motion.
        let a = refined(t, r, entry, tolerance: 2.5 * jitterPixels * scaleEntry, rawA)
        let b = refined(t, r, exit, tolerance: 2.5 * jitterPixels * scaleExit, rawB)
        let (first, last) = a.time <= b.time ? (a, b) : (b, a)
        let duration = last.time - first.time
        let dx = last.x - first.x, dy = last.y - first.y
        let distance = (dx * dx + dy * dy).squareRoot()
        // A crossing bracketed by frames far apart (the vehicle lost for a while) is not measured.
        guard duration > 0.05, distance > 1, max(a.gap, b.gap) <= 0.5 else {
            stats.zoneNotCovered += 1
            return nil
        }
        let ux = dx / distance, uy = dy / distance
        let zone = subrange(r, pts: t.pts, from: first.time - 0.25, to: last.time + 0.25)
        // Positions come from the bottom edge and the centre: a box whose top comes and goes (a rider's head and
        // shoulders lost at a distance) measures them as well as before; one whose width jumps does not.
        guard boxesSteady(t, zone, jitterPixels: rules.boxJitterPixels, heightMatters: false) else {
            stats.boxUnsteady += 1
            return nil
        }
        let along = { (i: Int) in (t.groundX[i] - first.x) * ux + (t.groundY[i] - first.y) * uy }
        let tolerance = 2.5 * jitterPixels * max(scaleEntry, scaleExit)
        guard let fit = agreeingLineFit(zone, time: { t.pts[$0] }, value: along, tolerance: tolerance) else {
            stats.speedInconsistent += 1
            return nil
        }
        let all = fit.count == zone.count
        let agrees = { (i: Int) in all || fit.admits(time: t.pts[i], value: along(i)) }
        // Under the quantisation at the nearer line, the spread changes neither crossing's uncertainty.
        let noise = fit.spread(zone, time: { t.pts[$0] }, value: along, floor: max(fit.rms, jitterPixels * min(scaleEntry, scaleExit)))
        let sigmaFirst = max(noise, jitterPixels * (a.time <= b.time ? scaleEntry : scaleExit))
        let sigmaLast = max(noise, jitterPixels * (a.time <= b.time ? scaleExit : scaleEntry))
        let sigmaDistance = (sigmaFirst * sigmaFirst + sigmaLast * sigmaLast + 2 * calibrationSigma * calibrationSigma).squareRoot()
        let sigmaDuration = timeSigma * 2.0.squareRoot()
        let speed = distance / duration
        let sigmaSpeed = speed * ((sigmaDistance / distance) * (sigmaDistance / distance) + (sigmaDuration / duration) * (sigmaDuration / duration)).squareRoot()
        guard abs(fit.slope - speed) <= 3 * sigmaSpeed + 0.03 * speed else {
            stats.speedInconsistent += 1
            return nil
        }
        // The two halves of the zone must agree: a track that joins two vehicles (a wrong identity), or follows a
        // box that changes shape part-way, shows a kink here even when its overall average looks plausible.
        let middle = (first.time + last.time) / 2
        let halves = [subrange(r, pts: t.pts, from: first.time - 0.25, to: middle), subrange(r, pts: t.pts, from: middle, to: last.time + 0.25)]
        let slopes = halves.compactMap { h in h.count >= 3 ? lineFitWithMean(h, time: { t.pts[$0] }, value: along, include: agrees) : nil }
        // The tolerance uses the box quantisation alone: residuals (which a kink inflates) must not widen it.
        let jitterSpeed = speed * (jitterPixels * max(scaleEntry, scaleExit) * 2.0.squareRoot() / distance)
        guard slopes.count == 2, abs(slopes[0].slope - slopes[1].slope) <= 0.1 * speed + 3 * jitterSpeed,
              fit.rms <= 3 * jitterPixels * max(scaleEntry, scaleExit) else {
            stats.speedInconsistent += 1
            return nil
        }
        stats.zoneSpeeds += 1
        let kmh = rounded(speed * 3.6, 2)
        let uncertainty = rounded(rule.coverageFactor * sigmaSpeed * 3.6, 2)
        let threshold = rule.thresholdKmh
        // Conservative: only what is certain beyond the threshold counts.
        guard kmh - uncertainty > threshold else {
            stats.speedWithinThreshold += 1
            return nil
        }
        let excess = rounded(kmh - uncertainty - rule.limitKmh, 2)
        let band = rule.bands.last { excess >= $0.fromKmh }?.band ?? "speeding"
        let i = last.index
        let entryIndex = first.index
        return RuleEvent(
            rule: .speeding, track: t.ids[k], tracks: t.joined[k], frame: t.frame[i], pts: rounded(last.time, 4), box: t.box[i],
            lane: rules.lane(at: t.box[i].bottomCenter)?.id, speedKmh: kmh, speedUncertaintyKmh: uncertainty,
            limitKmh: rule.limitKmh, thresholdKmh: rounded(threshold, 2), signal: nil,
            severity: ViolationRecord.Severity(band: band, excessKmh: excess),
            evidence: [EvidenceFrame(kind: "still_entry", frame: t.frame[entryIndex], pts: t.pts[entryIndex], box: t.box[entryIndex]),
                       EvidenceFrame(kind: "still_exit", frame: t.frame[i], pts: t.pts[i], box: t.box[i])],
            quality: r.count)
    }
}
