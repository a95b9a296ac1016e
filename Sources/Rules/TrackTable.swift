import TrafficModel

/// Tracks in columns: one flat array per quantity, a track being the range `starts[k] ..< starts[k + 1]`. Observed
/// points only (coasted predictions and shared boxes are not evidence). The ground positions of each box's bottom centre (where a
/// vehicle meets the road) and of its top centre projected onto the ground are computed once, here, for every rule.
public struct TrackTable: Sendable {
    public private(set) var ids: [Int] = []
    /// Track ids joined into each track (identity switches mended by `stitched`).
    public private(set) var joined: [[Int]] = []
    public private(set) var starts: [Int] = [0]
    public private(set) var frame: [Int] = []
    public private(set) var pts: [Double] = []
    public private(set) var box: [Box] = []
    /// Ground position (metres) of the box's bottom centre ...
    public private(set) var groundX: [Double] = []
    public private(set) var groundY: [Double] = []
    /// ... and of its top centre as if it lay on the road (beyond the vehicle's front when it drives away).
    public private(set) var topX: [Double] = []
    public private(set) var topY: [Double] = []

    public var count: Int { ids.count }
    public var pointCount: Int { pts.count }
    public func range(_ k: Int) -> Range<Int> { starts[k]..<starts[k + 1] }

    public init() {}

    /// Projects every observed point of every track through the calibration. Points the homography sends to
    /// infinity (above the horizon) are dropped.
    public init(tracks: [Track], calibration: Calibration) {
        let h = calibration.imageToWorld.m
        let (h0, h1, h2, h3, h4, h5, h6, h7, h8) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8])
        let total = tracks.reduce(0) { $0 + $1.points.count }
        // One pass straight into uninitialised columns (no zero fill, no per-point growth checks); `n` counts
        // what was written and becomes each column's length.
        var starts = [0], ids: [Int] = [], joined: [[Int]] = []
        ids.reserveCapacity(tracks.count); joined.reserveCapacity(tracks.count); starts.reserveCapacity(tracks.count + 1)
        var n = 0
        func column<T>(_ fill: (UnsafeMutableBufferPointer<T>) -> Void) -> [T] {
            [T](unsafeUninitializedCapacity: total) { buffer, count in fill(buffer); count = n }
        }
        // The first column's pass does the work and records where each track ends; the others copy from it.
        var frame: [Int] = []
        var pts: [Double] = [], box: [Box] = [], gx: [Double] = [], gy: [Double] = [], tx: [Double] = [], ty: [Double] = []
        pts = column { (pts: UnsafeMutableBufferPointer<Double>) in
            frame = [Int](unsafeUninitializedCapacity: total) { frame, frameCount in
            box = [Box](unsafeUninitializedCapacity: total) { box, boxCount in
            gx = [Double](unsafeUninitializedCapacity: total) { gx, gxCount in
            gy = [Double](unsafeUninitializedCapacity: total) { gy, gyCount in
            tx = [Double](unsafeUninitializedCapacity: total) { tx, txCount in
            ty = [Double](unsafeUninitializedCapacity: total) { ty, tyCount in
                for track in tracks {
                    let before = n
                    track.points.withUnsafeBufferPointer { points in
                        for p in points where p.isEvidence {
                            let b = p.box
                            let u = b.x + b.width * 0.5, vb = b.y + b.height, vt = b.y
                            let wb = h6 * u + h7 * vb + h8, wt = h6 * u + h7 * vt + h8
                            guard abs(wb) > 1e-9, abs(wt) > 1e-9 else { continue }
                            let ib = 1 / wb, it = 1 / wt
                            (frame.baseAddress! + n).initialize(to: p.time.index)
                            (pts.baseAddress! + n).initialize(to: p.time.pts)
                            (box.baseAddress! + n).initialize(to: b)
                            (gx.baseAddress! + n).initialize(to: (h0 * u + h1 * vb + h2) * ib)
                            (gy.baseAddress! + n).initialize(to: (h3 * u + h4 * vb + h5) * ib)
                            (tx.baseAddress! + n).initialize(to: (h0 * u + h1 * vt + h2) * it)
                            (ty.baseAddress! + n).initialize(to: (h3 * u + h4 * vt + h5) * it)
                            n &+= 1
                        }
                    }
                    guard n > before else { continue }
                    ids.append(track.id)
                    joined.append([track.id])
                    starts.append(n)
                }
                tyCount = n
            }; txCount = n }; gyCount = n }; gxCount = n }; boxCount = n }; frameCount = n }
        }
        self.ids = ids; self.joined = joined; self.starts = starts
        self.frame = frame; self.pts = pts; self.box = box
        groundX = gx; groundY = gy; topX = tx; topY = ty
    }

    /// The same tracks with fragments of one vehicle joined: track B continues track A when B starts after A
    /// ends, at most `window` seconds later, where A's ground motion, carried on, puts it (within `gap` metres
    /// plus 0.1 s of travel), in the same lane, at a speed within 15 % (or 5 km/h) of A's, both fragments having at
    /// least 3 points. Greedy in order of start
    /// time, so the result does not depend on anything but the tracks.
    public func stitched(window: Double, gap: Double = 3.0, lane: (Point2) -> String?) -> TrackTable {
        guard count > 1 else { return self }
        struct End { var t0, t1, x, y, vx, vy: Double; var lane: String? }
        func summary(_ k: Int, atStart: Bool) -> End {
            let r = range(k)
            let n = min(r.count, 10)
            let sub = atStart ? r.lowerBound..<(r.lowerBound + n) : (r.upperBound - n)..<r.upperBound
            var vx = 0.0, vy = 0.0
            if n >= 2, let f = sub.first, let l = sub.last, pts[l] > pts[f] {
                vx = (groundX[l] - groundX[f]) / (pts[l] - pts[f])
                vy = (groundY[l] - groundY[f]) / (pts[l] - pts[f])
            }
            let i = atStart ? r.lowerBound : r.upperBound - 1
            return End(t0: pts[r.lowerBound], t1: pts[r.upperBound - 1], x: groundX[i], y: groundY[i], vx: vx, vy: vy,
                       lane: lane(box[i].bottomCenter))
        }
        let order = (0..<count).sorted { (pts[starts[$0]], ids[$0]) < (pts[starts[$1]], ids[$1]) }
        // Each track's two ends, summarised once; candidates for a track's continuation are found by binary search
        // over start times (n log n, not n²).
        let heads = (0..<count).map { summary($0, atStart: true) }
        let tails = (0..<count).map { summary($0, atStart: false) }
        let startTimes = order.map { pts[starts[$0]] }
        var next = [Int?](repeating: nil, count: count), taken = [Bool](repeating: false, count: count)
        for a in order {
            let end = tails[a]
            let speedA = (end.vx * end.vx + end.vy * end.vy).squareRoot()
            guard speedA > 0.5, range(a).count >= 3 else { continue }
            var lo = 0, hi = startTimes.count
            while lo < hi { let mid = (lo + hi) / 2; if startTimes[mid] <= end.t1 { lo = mid + 1 } else { hi = mid } }
            var best: (Int, Double)?
            var j = lo
            while j < order.count && startTimes[j] - end.t1 <= window {
                let b = order[j]
                j += 1
                guard b != a, !taken[b] else { continue }
                let start = heads[b]
                let dt = start.t0 - end.t1
                guard dt > 0, start.lane == end.lane, range(b).count >= 3 else { continue }
                let ex = end.x + end.vx * dt, ey = end.y + end.vy * dt
                let miss = ((start.x - ex) * (start.x - ex) + (start.y - ey) * (start.y - ey)).squareRoot()
                let speedB = (start.vx * start.vx + start.vy * start.vy).squareRoot()
                // Both fragments must show their speed (3 points or more), and agree on it.
                guard miss <= gap + 0.1 * speedA, abs(speedB - speedA) <= max(0.15 * speedA, 5 / 3.6) else { continue }
                if best == nil || miss < best!.1 { best = (b, miss) }
            }
            if let (b, _) = best { next[a] = b; taken[b] = true }
        }
        // Nothing to join: the table as it is, no copy.
        guard taken.contains(true) else { return self }
        var out = TrackTable()
        do {
            out.frame.reserveCapacity(pointCount); out.pts.reserveCapacity(pointCount); out.box.reserveCapacity(pointCount)
            out.groundX.reserveCapacity(pointCount); out.groundY.reserveCapacity(pointCount)
            out.topX.reserveCapacity(pointCount); out.topY.reserveCapacity(pointCount)
        }
        for k in order where !taken[k] {
            var chain = [k]
            while let n = next[chain.last!] { chain.append(n) }
            out.ids.append(ids[k])
            var joinedIDs: [Int] = []
            for c in chain {
                joinedIDs += joined[c]
                let r = range(c)
                out.frame.append(contentsOf: frame[r]); out.pts.append(contentsOf: pts[r]); out.box.append(contentsOf: box[r])
                out.groundX.append(contentsOf: groundX[r]); out.groundY.append(contentsOf: groundY[r])
                out.topX.append(contentsOf: topX[r]); out.topY.append(contentsOf: topY[r])
            }
            out.joined.append(joinedIDs)
            out.starts.append(out.pts.count)
        }
        return out
    }
}

/// A line on the ground, with a direction of travel across it: `side` is the signed distance in metres, positive
/// past the line.
struct GroundLine {
    let ax, ay, nx, ny: Double
    /// From an image segment and the image direction traffic moves in (dv < 0 up the picture).
    init?(image segment: Segment, calibration: Calibration, travelImageDV: Double) {
        guard let a = calibration.world(segment.a), let b = calibration.world(segment.b) else { return nil }
        let d = b - a
        let length = d.length
        guard length > 1e-6 else { return nil }
        var n = Point2(-d.y / length, d.x / length)
        let mid = Point2((segment.a.x + segment.b.x) / 2, (segment.a.y + segment.b.y) / 2)
        guard let ahead = calibration.world(Point2(mid.x, mid.y + travelImageDV)) else { return nil }
        if (ahead - a).dot(n) < 0 { n = n * -1 }
        ax = a.x; ay = a.y; nx = n.x; ny = n.y
    }
    @inline(__always) func side(_ x: Double, _ y: Double) -> Double { (x - ax) * nx + (y - ay) * ny }
}

/// Where a sequence of signed distances first goes from ≤ 0 to > 0 within `range`: the index after the crossing,
/// the crossing time interpolated linearly between the two frames, and the time between them (as
/// `SpeedMeasurer.crossing` gives it: a long gap means the crossing was not seen).
@inline(__always)
func firstForwardCrossing(_ range: Range<Int>, pts: [Double], side: (Int) -> Double) -> (index: Int, time: Double, gap: Double)? {
    guard range.count >= 2 else { return nil }
    var previous = side(range.lowerBound)
    var i = range.lowerBound + 1
    while i < range.upperBound {
        let s = side(i)
        if previous <= 0 && s > 0 {
            let f = previous == s ? 0 : -previous / (s - previous)
            return (i, pts[i - 1] + f * (pts[i] - pts[i - 1]), pts[i] - pts[i - 1])
        }
        previous = s
        i += 1
    }
    return nil
}
