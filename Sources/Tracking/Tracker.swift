import Foundation
import TrafficModel

public struct TrackerOptions: Sendable, Equatable {
    /// A track is confirmed (reported) after this many matched frames.
    public var confirmHits = 3
    /// A confirmed track survives this long without a detection (occlusion), in seconds of footage.
    public var maxCoastSeconds = 1.0
    /// A detection may join a track when their boxes overlap at least this much (IoU of the prediction) ...
    public var minimumIoU = 0.1
    /// ... or when its centre is within this share of the predicted box's larger side (small, fast vehicles).
    public var centreGate = 0.6
    /// The same for a track seen once, whose velocity is not known yet: at 10 fps a car moves its own length
    /// between frames (measured on NGSIM), so the second detection may be well away from the first.
    public var firstStepGate = 2.0
    /// Standard deviation of unmodelled acceleration, in box-sizes per second squared.
    public var accelerationNoise = 1.5
    /// Standard deviation of a detection's box edges, as a share of the box size.
    public var measurementNoise = 0.08
    public init() {}
}

/// Constant-velocity Kalman filter of one coordinate: position and velocity with their 2×2 covariance.
struct AxisFilter: Sendable {
    var x: Double, v: Double
    var p00: Double, p01: Double, p11: Double

    init(_ position: Double, variance: Double) {
        x = position; v = 0
        p00 = variance; p01 = 0; p11 = variance * 25
    }

    mutating func predict(dt: Double, accelerationVariance q: Double) {
        x += v * dt
        // P = F P Fᵀ + Q, F = [[1, dt], [0, 1]], Q from white acceleration noise.
        let n00 = p00 + 2 * dt * p01 + dt * dt * p11 + q * dt * dt * dt * dt / 4
        let n01 = p01 + dt * p11 + q * dt * dt * dt / 2
        let n11 = p11 + q * dt * dt
        p00 = n00; p01 = n01; p11 = n11
    }

    mutating func update(_ z: Double, variance r: Double) {
        let s = p00 + r
        let k0 = p00 / s, k1 = p01 / s
        let y = z - x
        x += k0 * y
        v += k1 * y
        let n00 = (1 - k0) * p00, n01 = (1 - k0) * p01, n11 = p11 - k1 * p01
        p00 = n00; p01 = n01; p11 = n11
    }
}

/// A multi-object tracker over image boxes (SORT-style): each track predicts its box with four constant-velocity
/// Kalman filters (centre x, centre y, width, height); detections are assigned to predictions by minimum total
/// cost (1 − IoU, Hungarian method) within a gate; unmatched detections start tentative tracks; confirmed tracks
/// coast through short occlusions. Time steps come from frame timestamps, so variable frame rates are fine.
/// Deterministic: ids are given in order of creation.
public final class Tracker {
    public let options: TrackerOptions
    private struct Live {
        var id: Int
        var cx: AxisFilter, cy: AxisFilter, w: AxisFilter, h: AxisFilter
        var hits: Int
        var lastSeen: Double
        var points: [TrackPoint]
        var confirmed: Bool
        var box: Box { Box(x: cx.x - w.x / 2, y: cy.x - h.x / 2, width: max(1, w.x), height: max(1, h.x)) }
    }
    private var live: [Live] = []
    private var finished: [Track] = []
    private var nextID = 1
    private var lastPTS: Double?
    /// Counters: detections in, tracks started, confirmed, ended.
    public private(set) var detectionsIn = 0
    public private(set) var tracksStarted = 0

    public init(options: TrackerOptions = TrackerOptions()) {
        self.options = options
    }

    /// Takes one frame's detections; returns the confirmed tracks' boxes in that frame (observed or coasting).
    @discardableResult
    public func update(_ frame: FrameDetections) -> [(id: Int, box: Box)] {
        let t = frame.time.pts
        let dt = lastPTS.map { max(1e-3, t - $0) } ?? 0
        lastPTS = t
        detectionsIn += frame.detections.count
        for k in live.indices {
            let size = max(live[k].w.x, live[k].h.x)
            let q = pow(options.accelerationNoise * size, 2)
            live[k].cx.predict(dt: dt, accelerationVariance: q)
            live[k].cy.predict(dt: dt, accelerationVariance: q)
            live[k].w.predict(dt: dt, accelerationVariance: q * 0.25)
            live[k].h.predict(dt: dt, accelerationVariance: q * 0.25)
        }
        let detections = frame.detections
        var matchedTrack = Set<Int>(), matchedDetection = Set<Int>()
        if !live.isEmpty && !detections.isEmpty {
            let forbidden = 1e6
            let cost = live.map { track in
                detections.map { d -> Double in
                    let predicted = track.box
                    let iou = predicted.iou(d.box)
                    let gate = (track.hits == 1 ? options.firstStepGate : options.centreGate) * max(predicted.width, predicted.height)
                    if iou >= options.minimumIoU { return 1 - iou }
                    if predicted.center.distance(to: d.box.center) <= gate { return 1.5 }
                    return forbidden
                }
            }
            for (k, j) in Assignment.minimumCost(cost).enumerated() {
                guard let j, cost[k][j] < forbidden else { continue }
                matchedTrack.insert(k)
                matchedDetection.insert(j)
                correct(&live[k], with: detections[j].box, time: frame.time)
            }
        }
        // Unmatched tracks: coast if confirmed and not gone too long, else end.
        var kept: [Live] = []
        for (k, var track) in live.enumerated() {
            if matchedTrack.contains(k) { kept.append(track); continue }
            if track.confirmed && t - track.lastSeen <= options.maxCoastSeconds {
                track.points.append(TrackPoint(time: frame.time, box: track.box, coasted: true))
                kept.append(track)
            } else {
                end(track)
            }
        }
        live = kept
        for (j, d) in detections.enumerated() where !matchedDetection.contains(j) {
            let b = d.box
            let r = pow(options.measurementNoise * max(b.width, b.height), 2)
            live.append(Live(id: 0, cx: AxisFilter(b.center.x, variance: r), cy: AxisFilter(b.center.y, variance: r),
                             w: AxisFilter(b.width, variance: r), h: AxisFilter(b.height, variance: r),
                             hits: 1, lastSeen: t, points: [TrackPoint(time: frame.time, box: b, coasted: false)], confirmed: false))
            tracksStarted += 1
        }
        for k in live.indices where !live[k].confirmed && live[k].hits >= options.confirmHits {
            live[k].confirmed = true
            live[k].id = nextID
            nextID += 1
        }
        return live.filter { $0.confirmed }.map { ($0.id, $0.points.last!.box) }
    }

    private func correct(_ track: inout Live, with b: Box, time: FrameTime) {
        let r = pow(options.measurementNoise * max(b.width, b.height), 2)
        track.cx.update(b.center.x, variance: r)
        track.cy.update(b.center.y, variance: r)
        track.w.update(b.width, variance: r)
        track.h.update(b.height, variance: r)
        track.hits += 1
        track.lastSeen = time.pts
        // The measured box, not the filtered one: a constant-velocity filter runs ahead of a vehicle whose image
        // motion slows with distance (measured: 26 px at 50 m on the motorway sample), which biased speeds high.
        track.points.append(TrackPoint(time: time, box: b, coasted: false))
    }

    private func end(_ track: Live) {
        guard track.confirmed else { return }
        var points = track.points
        while points.last?.coasted == true { points.removeLast() }
        finished.append(Track(id: track.id, points: points))
    }

    /// Ends every live track and returns all confirmed tracks, by id, with their whole history (the frames
    /// before confirmation included).
    public func finish() -> [Track] {
        for track in live { end(track) }
        live = []
        return finished.sorted { $0.id < $1.id }
    }
}

/// Tracks as MOT CSV (`frame,id,x,y,w,h,conf,-1,-1,-1`, frames from 1), observed points only.
public func motCSV(_ tracks: [Track]) -> String {
    var rows: [(Int, Int, Box)] = []
    for track in tracks { for p in track.observed { rows.append((p.time.index + 1, track.id, p.box)) } }
    rows.sort { ($0.0, $0.1) < ($1.0, $1.1) }
    func f(_ v: Double) -> String { String(format: "%.2f", v) }
    return rows.map { "\($0.0),\($0.1),\(f($0.2.x)),\(f($0.2.y)),\(f($0.2.width)),\(f($0.2.height)),1,-1,-1,-1\n" }.joined()
}
