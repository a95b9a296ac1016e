import TrafficModel

/// Tracks in columns: one flat array per quantity, a track being the range `starts[k] ..< starts[k + 1]`. Observed
/// points only (coasted predictions are not evidence). The ground positions of each box's bottom centre (where a
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
        let total = tracks.reduce(0) { $0 + $1.points.count }
        frame.reserveCapacity(total); pts.reserveCapacity(total); box.reserveCapacity(total)
        groundX.reserveCapacity(total); groundY.reserveCapacity(total); topX.reserveCapacity(total); topY.reserveCapacity(total)
        for track in tracks {
            let before = pts.count
            for p in track.points where !p.coasted {
                let b = p.box
                let u = b.x + b.width / 2, vb = b.y + b.height, vt = b.y
                let wb = h[6] * u + h[7] * vb + h[8], wt = h[6] * u + h[7] * vt + h[8]
                guard wb > 1e-9 || wb < -1e-9, wt > 1e-9 || wt < -1e-9 else { continue }
                frame.append(p.time.index)
                pts.append(p.time.pts)
                box.append(b)
                groundX.append((h[0] * u + h[1] * vb + h[2]) / wb)
                groundY.append((h[3] * u + h[4] * vb + h[5]) / wb)
                topX.append((h[0] * u + h[1] * vt + h[2]) / wt)
                topY.append((h[3] * u + h[4] * vt + h[5]) / wt)
            }
            guard pts.count > before else { continue }
            ids.append(track.id)
            joined.append([track.id])
            starts.append(pts.count)
        }
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
        var next = [Int?](repeating: nil, count: count), taken = [Bool](repeating: false, count: count)
        for a in order {
            let end = summary(a, atStart: false)
            let speedA = (end.vx * end.vx + end.vy * end.vy).squareRoot()
            guard speedA > 0.5 else { continue }
            var best: (Int, Double)?
            for b in order where b != a && !taken[b] {
                let start = summary(b, atStart: true)
                let dt = start.t0 - end.t1
                guard dt > 0, dt <= window, start.lane == end.lane else { continue }
                let ex = end.x + end.vx * dt, ey = end.y + end.vy * dt
                let miss = ((start.x - ex) * (start.x - ex) + (start.y - ey) * (start.y - ey)).squareRoot()
                let speedB = (start.vx * start.vx + start.vy * start.vy).squareRoot()
                // Both fragments must show their speed (3 points or more), and agree on it.
                let consistent = range(b).count >= 3 && range(a).count >= 3 && abs(speedB - speedA) <= max(0.15 * speedA, 5 / 3.6)
                guard miss <= gap + 0.1 * speedA, consistent else { continue }
                if best == nil || miss < best!.1 { best = (b, miss) }
            }
            if let (b, _) = best { next[a] = b; taken[b] = true }
        }
        var out = TrackTable()
        for k in order where !taken[k] {
            var chain = [k]
            while let n = next[chain.last!] { chain.append(n) }
            out.ids.append(ids[k])
            var joinedIDs: [Int] = []
            for c in chain {
                joinedIDs += joined[c]
                for i in range(c) {
                    out.frame.append(frame[i]); out.pts.append(pts[i]); out.box.append(box[i])
                    out.groundX.append(groundX[i]); out.groundY.append(groundY[i]); out.topX.append(topX[i]); out.topY.append(topY[i])
                }
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
/// and the crossing time interpolated linearly between the two frames.
@inline(__always)
func firstForwardCrossing(_ range: Range<Int>, pts: [Double], side: (Int) -> Double) -> (index: Int, time: Double)? {
    guard range.count >= 2 else { return nil }
    var previous = side(range.lowerBound)
    var i = range.lowerBound + 1
    while i < range.upperBound {
        let s = side(i)
        if previous <= 0 && s > 0 {
            let f = previous == s ? 0 : -previous / (s - previous)
            return (i, pts[i - 1] + f * (pts[i] - pts[i - 1]))
        }
        previous = s
        i += 1
    }
    return nil
}
