import Foundation
import TrafficModel

public struct TrackerOptions: Sendable, Equatable {
    /// A track is confirmed (reported) after this many matched frames.
    public var confirmHits = 3
    /// A confirmed track survives this long without a detection (occlusion), in seconds of footage.
    public var maxCoastSeconds = 1.0
    /// A weak detection (`Detection.isWeak`) keeps a track's position up to date; it keeps the track alive too only
    /// where it overlaps the track's prediction at least this much (IoU). A vehicle driving away shrinks below the
    /// smallest confident blob long before it leaves the picture: on the day junction motorcycle 13 beyond 110 m was
    /// seen weakly for 5.6 s, its track ended 1 s into that, and IDF1 was 0.871 (0.884 with this, its boxes matched
    /// 208 → 303). Weak boxes merely within the assignment's gate kept tracks alive before (2026-11-26), and a car
    /// driving away lived on in the distance for 2.5 s and took over an oncoming car where both were a few pixels: a
    /// speeding record on the camera-like benchmark clip was lost. That clip and the six scenes keep their records
    /// with this.
    public var weakKeepsAliveIoU = 0.5
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
    /// With a calibration: standard deviation of unmodelled acceleration on the ground (m/s²; hard braking is 8) ...
    public var groundAccelerationNoise = 4.0
    /// ... and the speed a new track may have before its second sighting fixes it (m/s, one standard deviation).
    public var groundInitialSpeed = 30.0
    /// With the road's calibration, pieces are not gathered into a box wider on the road than this (metres).
    public var maximumVehicleWidthM = 3.2
    /// A blob holding several tracks' vehicles is shared among the tracks confidently seen within this time (see
    /// `Tracker.shares`), in seconds; a shared box counts as a sighting, so tracks live on in a queue's one blob.
    public var shareSeconds = 0.2
    /// ... and seen alone at least this many times (2 s at 25 fps): a track that a speck, a shadow or a piece of a
    /// vehicle confirmed does not live on in another vehicle's blob, nor divide it (`seenApart`). Chosen on the six
    /// scenes (docs/accuracy.md): at 10 and 25 the shaking camera's tracks swapped vehicles inside blobs.
    public var shareMinimumSightings = 50
    /// ... or, for a track whose box is at least `shareQuickHeight` pixels tall, this many times: a vehicle that
    /// large is no speck, shadow or piece, and one that drove in at the picture's edge, near the camera, has had
    /// little time alone when it reaches the vehicle ahead (the day junction's van 16, seen alone 39 times when its
    /// blob took car 14's). Chosen on the six scenes (docs/accuracy.md).
    public var shareQuickSightings = 20
    public var shareQuickHeight = 60.0
    /// With the road's calibration, a confirmed track knows its vehicle's size on the road: of the sizes of its last
    /// `sizeSightings` confident detections (width and height in metres at the scale across the road where each
    /// box's bottom lies), the `sizeQuantile` one, once it has 10, and where that is no larger than a vehicle
    /// (`largestVehicleWidthM` × `largestVehicleHeightM`). A high quantile, not the filter's mean: a vehicle seen
    /// in part more often than whole teaches the filter the part's size (the dusk junction's motorcycle 13, its
    /// white top found in two frames of three: its track's box was 14 × 15 px for a 14 × 33 px motorcycle).
    public var sizeSightings = 25
    public var sizeQuantile = 0.8
    public var largestVehicleWidthM = 2.6
    public var largestVehicleHeightM = 4.2
    /// A detection matched to such a track and under this share of the area of the vehicle's box at the track's
    /// prediction, lying inside it, is part of the vehicle (a car's rear window, a motorcycle's white top, the back
    /// of a truck whose nearer cars hide its wheels): the track's point is the vehicle's box around the part (see
    /// `wholeVehicle`), marked `shared` (inferred, not seen; the rules do not take it as evidence). Chosen on the
    /// seven scenes (docs/accuracy.md): motorway IDF1 0.688 → 0.790 (truck 7 matched 252 → 441 of its 803 frames),
    /// dusk 0.844 → 0.857, junction-night-traffic 0.749 → 0.772, dense 0.425 → 0.434, shake 0.841 → 0.839, the day
    /// and night samples unchanged; at 0.5 the motorway 0.808 and dusk 0.880, but shake 0.821. 0 turns it off.
    public var partArea = 0.4
    /// A weak detection (`Detection.isWeak`: a lamp's glow, a shadow's outline, a blob too small to start a track)
    /// between `partArea` and this share of the vehicle's box, lying inside it, is written as the vehicle's box too
    /// (marked `shared`), but the filter takes the blob as it is: a weak blob says too little of where in the vehicle
    /// it lies. Dusk's motorcycles and cars are weak blobs a little over 0.4 of their boxes in many frames (car 10
    /// matched 256 → 280 of its 281 frames, motorcycle 13 173 → 201). Chosen on the seven scenes (docs/accuracy.md):
    /// at 0.6 dusk IDF1 0.857 → 0.878, night traffic 0.798 → 0.801, the night sample 0.834 → 0.837, motorway 0.790 →
    /// 0.792, dense 0.434 → 0.433, day and shake the same; no vehicle lost more than 5 frames. With the filter taking
    /// the vehicle's box as for parts, the dusk motorcycle 13's boxes sat 10–12 px too high and its track was lost
    /// (173 → 87); with every weak part's filter taking the blob, the motorway fell to 0.715.
    public var weakPartArea = 0.6
    /// Each detection is a whole vehicle of its own (an upstream detector's boxes, `detection.source: external`), not
    /// a blob of motion: no pieces are gathered, no box is shared among tracks, and none is taken for a part of a
    /// vehicle. Those undo what a background model gets wrong; on whole boxes they can join a vehicle partly hidden
    /// behind another to it.
    public var wholeDetections = false
    public init() {}
}

/// Constant-velocity Kalman filter of one coordinate: position and velocity with their 2×2 covariance.
struct AxisFilter: Sendable {
    var x: Double, v: Double
    var p00: Double, p01: Double, p11: Double

    init(_ position: Double, variance: Double, velocityVariance: Double? = nil) {
        x = position; v = 0
        p00 = variance; p01 = 0; p11 = velocityVariance ?? variance * 25
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
/// Kalman filters; detections are assigned to predictions by minimum total cost (1 − IoU, Hungarian method) within
/// a gate; unmatched detections start tentative tracks; confirmed tracks coast through short occlusions. Time steps
/// come from frame timestamps, so variable frame rates are fine. Deterministic: ids are given in order of creation.
///
/// With a calibration (the pipeline's `tracking.ground_plane`), a track's position is its box's bottom centre on the
/// ground, in metres, and its size is in metres at that point's scale: vehicles keep a constant velocity on the road,
/// not in the picture, where one that drives away slows and shrinks (measured on the motorway sample: a motorcycle's
/// image speed fell from 50 to 6 px per frame in a second, and the image-plane filter ran 22 px ahead of it). Boxes
/// whose bottom is above the horizon or too far away (see `Calibration.groundPoint`) start tracks in the picture.
public final class Tracker {
    public let options: TrackerOptions
    private struct Live {
        var id: Int
        /// The box's centre in image pixels, or its bottom centre on the ground in metres (`onGround`).
        var px: AxisFilter, py: AxisFilter
        /// The box's width and height in pixels, or in metres at the bottom centre's scale (`onGround`).
        var w: AxisFilter, h: AxisFilter
        var onGround: Bool
        var hits: Int
        /// Matched frames in which the vehicle was seen alone (not `shared`).
        var seenAlone: Int
        /// When a confident detection last matched, or a weak one that fits the prediction (`weakKeepsAliveIoU`).
        var lastSeen: Double
        var points: [TrackPoint]
        var confirmed: Bool
        /// The vehicle's one lamp, learnt while confident detections match (see `gathered` and `learnLamp`).
        var lamp: Lamp?
        /// The sizes on the road of the last `sizeSightings` confident detections matched (see `knownSize`).
        var sizes: [(width: Double, height: Double)] = []
    }
    /// Where a vehicle's lamp sits in its box (its centre, as shares of the box's width and height) and its size (its
    /// larger side, as a share of the box's width: the lamp shrinks with the vehicle as it drives away).
    struct Lamp {
        var u: Double, v: Double, size: Double
        /// The vehicle's size where it was learnt: metres at its bottom's scale with the road's calibration, else pixels.
        var width: Double, height: Double
        init(lamp l: Box, in box: Box, road: Calibration?) {
            u = (l.center.x - box.x) / box.width; v = (l.center.y - box.y) / box.height; size = max(l.width, l.height) / box.width
            let scale = road?.metresPerPixel(at: box.bottomCenter)?.x ?? 1
            width = box.width * scale; height = box.height * scale
        }
        func mean(_ o: Lamp, _ a: Double) -> Lamp {
            func m(_ x: Double, _ y: Double) -> Double { x + a * (y - x) }
            var r = self
            r.u = m(u, o.u); r.v = m(v, o.v); r.size = m(size, o.size); r.width = m(width, o.width); r.height = m(height, o.height)
            return r
        }
        /// The vehicle's box with its lamp at `centre`, near the box `p`, at its size there (twice placed, so that
        /// the size is the scale's at its own bottom).
        func box(at centre: Point2, near p: Box, road: Calibration?) -> Box {
            var b = p
            for _ in 0..<2 {
                let scale = road?.metresPerPixel(at: b.bottomCenter)?.x ?? 1
                let w = scale > 0 ? width / scale : p.width, h = scale > 0 ? height / scale : p.height
                b = Box(x: centre.x - u * w, y: centre.y - v * h, width: w, height: h)
            }
            return b
        }
        /// Where this lamp's centre sits in `box`.
        func spot(in box: Box) -> Point2 { Point2(box.x + u * box.width, box.y + v * box.height) }
        /// `box` places the lamp `l` where this one sits (within a fifth of its width and 0.15 of its height): a
        /// whole view of the vehicle, not a fragment.
        func fits(_ l: Box, in box: Box) -> Bool {
            box.contains(l.center) && abs((l.center.x - box.x) / box.width - u) <= 0.2 && abs((l.center.y - box.y) / box.height - v) <= 0.15
        }
    }
    /// A detection's box as a filter measurement: position (as `Live.px`, `py`) and size, with their variances.
    private struct Measurement {
        var x: Double, y: Double, w: Double, h: Double
        var rx: Double, ry: Double, rSize: Double
        var onGround: Bool
    }
    private let calibration: Calibration?
    /// The road, for the width of gathered pieces (see `gathered`), whether or not tracks move on it.
    private let road: Calibration?
    private var live: [Live] = []
    private var finished: [Track] = []
    private var nextID = 1
    private var lastPTS: Double?
    /// The time between the last two frames.
    private var lastStep = 0.0
    /// Counters: detections in, tracks started, confirmed, ended.
    public private(set) var detectionsIn = 0
    public private(set) var tracksStarted = 0

    /// With `calibration`, tracks move on the ground plane (see above).
    public init(options: TrackerOptions = TrackerOptions(), calibration: Calibration? = nil, road: Calibration? = nil) {
        self.options = options
        self.calibration = calibration
        self.road = road ?? calibration
    }

    /// Where a track expects its vehicle's box now.
    private func box(_ t: Live) -> Box {
        if t.onGround, let calibration, let q = calibration.image(Point2(t.px.x, t.py.x)),
           let scale = calibration.metresPerPixel(at: q)?.x, scale > 0 {
            let w = max(1, t.w.x / scale), h = max(1, t.h.x / scale)
            return Box(x: q.x - w / 2, y: q.y - h, width: w, height: h)
        }
        if t.onGround { return t.points.last!.box }
        let w = max(1, t.w.x), h = max(1, t.h.x)
        return Box(x: t.px.x - w / 2, y: t.py.x - h / 2, width: w, height: h)
    }

    /// A box as the filters see it: on the ground when the calibration maps its bottom centre, else in pixels. The
    /// ground variances carry the pixel noise through the mapping's local derivative.
    private func measure(_ b: Box, onGround: Bool) -> Measurement? {
        let sigma = options.measurementNoise * max(b.width, b.height), r = sigma * sigma
        guard onGround else { return Measurement(x: b.center.x, y: b.center.y, w: b.width, h: b.height, rx: r, ry: r, rSize: r, onGround: false) }
        let q = Point2(b.center.x, b.maxY)
        guard let calibration, let g = calibration.groundPoint(q), let d = calibration.groundDerivatives(at: q) else { return nil }
        // The same scale as `box(_:)` converts back with (`metresPerPixel(at:).x`).
        let scale = (d.xu * d.xu + d.yu * d.yu).squareRoot()
        return Measurement(x: g.x, y: g.y, w: b.width * scale, h: b.height * scale,
                           rx: r * (d.xu * d.xu + d.xv * d.xv), ry: r * (d.yu * d.yu + d.yv * d.yv), rSize: r * scale * scale, onGround: true)
    }

    /// Takes one frame's detections; returns the confirmed tracks' boxes in that frame (observed or coasting).
    @discardableResult
    public func update(_ frame: FrameDetections) -> [(id: Int, box: Box)] {
        let t = frame.time.pts
        let dt = lastPTS.map { max(1e-3, t - $0) } ?? 0
        lastPTS = t
        lastStep = dt
        detectionsIn += frame.detections.count
        for k in live.indices {
            let size = max(live[k].w.x, live[k].h.x)
            // Squares as products: IEEE arithmetic rounds them the same on every machine, where libm's pow may
            // differ in its last bit between its FMA and SSE2 builds (glibc picks one by the CPU).
            let noise = options.accelerationNoise * size
            let q = noise * noise
            let qPosition = live[k].onGround ? options.groundAccelerationNoise * options.groundAccelerationNoise : q
            live[k].px.predict(dt: dt, accelerationVariance: qPosition)
            live[k].py.predict(dt: dt, accelerationVariance: qPosition)
            live[k].w.predict(dt: dt, accelerationVariance: q * 0.25)
            live[k].h.predict(dt: dt, accelerationVariance: q * 0.25)
        }
        // Tracks unseen too long end, before they can take a detection (weak detections keep a track's position up
        // to date, not the track alive).
        live.removeAll { track in
            guard t - track.lastSeen > options.maxCoastSeconds else { return false }
            end(track)
            return true
        }
        let predicted = live.map(box)
        let (detections, fromLamps) = gathered(frame.detections, lamps: frame.lamps, predicted: predicted)
        let lampMade = (detections.count - fromLamps)..<detections.count
        var matchedTrack = Set<Int>(), matchedDetection = Set<Int>()
        for share in shares(of: detections, excluding: lampMade, predicted: predicted) {
            matchedTrack.insert(share.track)
            matchedDetection.insert(share.detection)
            correct(&live[share.track], with: Detection(box: share.box, confidence: detections[share.detection].confidence),
                    time: frame.time, shared: true)
        }
        // Two passes (ByteTrack): confident detections against every track, then the weak ones against the confirmed
        // tracks still unmatched (tentative tracks take confident ones only). Weak detections never start a track.
        let strong = detections.indices.filter { !detections[$0].isWeak }
        let weak = detections.indices.filter { detections[$0].isWeak }
        for (pass, confirmedOnly) in [(strong.filter { !matchedDetection.contains($0) }, false), (weak, true)] {
            let tracks = live.indices.filter { !matchedTrack.contains($0) && (!confirmedOnly || live[$0].confirmed) }
            guard !tracks.isEmpty && !pass.isEmpty else { continue }
            let forbidden = 1e6
            let cost = tracks.map { k in
                pass.map { j -> Double in
                    let d = detections[j], predicted = predicted[k]
                    let iou = predicted.iou(d.box)
                    let gate = (live[k].hits == 1 ? options.firstStepGate : options.centreGate) * max(predicted.width, predicted.height)
                    if iou >= options.minimumIoU { return 1 - iou }
                    // Whole detections join by the centre alone only at about the track's size (within 4 times its
                    // area): a truck whose own box was missed for a frame took a car's 120 px below its centre, then
                    // lost the truck at the car's size. Motion blobs are often parts of their vehicle, and do join.
                    let alike = !options.wholeDetections || (d.box.area >= 0.25 * predicted.area && predicted.area >= 0.25 * d.box.area)
                    if alike && predicted.center.distance(to: d.box.center) <= gate { return 1.5 }
                    return forbidden
                }
            }
            for (row, column) in Assignment.minimumCost(cost).enumerated() {
                guard let column, cost[row][column] < forbidden else { continue }
                let k = tracks[row], j = pass[column]
                matchedTrack.insert(k)
                matchedDetection.insert(j)
                let d = detections[j], size = knownSize(live[k])
                let whole = wholeVehicle(size, holding: d.box, predicted: predicted[k], share: options.partArea)
                // A weak blob a little larger than a part (`weakPartArea`): the vehicle's box is written, the filter
                // takes the blob as it is.
                let written = whole == nil && d.isWeak
                    ? wholeVehicle(size, holding: d.box, predicted: predicted[k], share: options.weakPartArea) : nil
                if !d.isWeak { learnSize(&live[k], from: d.box) }
                correct(&live[k], with: whole.map { Detection(box: $0, confidence: d.confidence) } ?? d, time: frame.time,
                        shared: whole != nil || written != nil, fits: predicted[k].iou(d.box) >= options.weakKeepsAliveIoU, written: written)
                if whole == nil && !d.isWeak && !lampMade.contains(j) {
                    learnLamp(&live[k], box: d.box, predicted: predicted[k], lamps: frame.lamps)
                }
            }
        }
        // Unmatched tracks: coast if confirmed, else end.
        var kept: [Live] = []
        for (k, var track) in live.enumerated() {
            if !matchedTrack.contains(k) {
                guard track.confirmed else { end(track); continue }
                track.points.append(TrackPoint(time: frame.time, box: predicted[k], coasted: true))
            }
            kept.append(track)
        }
        live = kept
        for j in strong where !matchedDetection.contains(j) {
            let d = detections[j]
            let b = d.box
            let m = measure(b, onGround: calibration != nil) ?? measure(b, onGround: false)!
            let speed = m.onGround ? options.groundInitialSpeed * options.groundInitialSpeed : nil
            live.append(Live(id: 0, px: AxisFilter(m.x, variance: m.rx, velocityVariance: speed), py: AxisFilter(m.y, variance: m.ry, velocityVariance: speed),
                             w: AxisFilter(m.w, variance: m.rSize), h: AxisFilter(m.h, variance: m.rSize), onGround: m.onGround,
                             hits: 1, seenAlone: 1, lastSeen: t, points: [TrackPoint(time: frame.time, box: b, coasted: false)], confirmed: false, lamp: nil))
            tracksStarted += 1
        }
        for k in live.indices where !live[k].confirmed && live[k].hits >= options.confirmHits {
            live[k].confirmed = true
            live[k].id = nextID
            nextID += 1
        }
        return live.filter { $0.confirmed }.map { ($0.id, $0.points.last!.box) }
    }

    /// A vehicle seen in pieces (a truck's panel that matches the road between its roof and its wheels, a dark car's
    /// lower body that comes and goes): the detections lying mostly inside a confirmed track's predicted box that
    /// together fit it better than any one of them (their union's IoU with it at least 0.5, and 0.1 more than the
    /// best piece's) become one detection, their union. A piece that another confirmed track fits better stays
    /// apart, unless that track's own box lies mostly inside this one (a track that follows one piece of the
    /// vehicle); a union wider on the road than a vehicle (`maximumVehicleWidthM`) is not made (a track that took two
    /// vehicles would otherwise keep gathering both). Tracks seen longest choose first.
    ///
    /// After dark a vehicle whose body fades into the road is still seen by its lamp (measured on the night junction:
    /// a dark motorcycle 5–12 levels under a 29–33 road, its tail-lamp at 119, whose track ended 0.8 s before it ran
    /// the red). A track with a lamp (see `learnLamp`) that no piece fits (IoU under 0.5), or whose best piece or
    /// union places the lamp elsewhere (a fragment), takes the lamp nearest where its own should be (see `lamp(for:)`):
    /// its detection is the vehicle's learnt size at that place on the road, put so that the lamp sits where it
    /// learnt it, and its pieces go. Not where the best piece or union holds that lamp and another: the vehicle is
    /// seen by more than the one lamp the track knows, and the lamp's place in the box may have been learnt from a
    /// fragment (junction-night-traffic's van 4 learnt one of its two tail lamps in a box over that lamp's half, and
    /// then had the lamp's box of the fragment's size in every other frame, its pair's box in the rest: 212 of 346
    /// frames matched, 325 now). Returns the detections, those made from lamps last, and how many those are.
    private func gathered(_ detections: [Detection], lamps: [Box], predicted: [Box]) -> (detections: [Detection], fromLamp: Int) {
        guard !options.wholeDetections else { return (detections, 0) }
        let order = live.indices.filter { live[$0].confirmed }.sorted { (live[$0].hits, -live[$0].id) > (live[$1].hits, -live[$1].id) }
        var used = Set<Int>(), usedLamps = Set<Int>()
        var unions: [Detection] = [], fromLamps: [Detection] = []
        for k in order {
            let p = predicted[k]
            let pieces = detections.indices.filter { j in
                let d = detections[j].box
                guard !used.contains(j), let overlap = d.intersection(p), overlap.area > 0.5 * d.area else { return false }
                return !order.contains { other in
                    other != k && predicted[other].iou(d) > p.iou(d)
                        && (predicted[other].intersection(p)?.area ?? 0) < 0.5 * predicted[other].area
                }
            }
            let best = pieces.max { p.iou(detections[$0].box) < p.iou(detections[$1].box) }
            var union: Box?
            if pieces.count >= 2, let best {
                let u = pieces.dropFirst().reduce(detections[pieces[0]].box) { $0.union(detections[$1].box) }
                if p.iou(u) >= 0.5, p.iou(u) > p.iou(detections[best].box) + 0.1, !wider(u) { union = u }
            }
            if let anchor = live[k].lamp, let i = lamp(for: anchor, in: p, lamps: lamps, except: usedLamps,
                                                        hiddenBy: detections.indices.filter { !pieces.contains($0) }.map { detections[$0].box }) {
                let candidate = union ?? best.map { detections[$0].box }
                let seenByMore = candidate.map { c in c.contains(lamps[i].center) && lamps.indices.contains { $0 != i && c.contains(lamps[$0].center) } } ?? false
                if !seenByMore, candidate.map({ p.iou($0) < 0.5 || !anchor.fits(lamps[i], in: $0) }) ?? true {
                    usedLamps.insert(i)
                    used.formUnion(pieces)
                    fromLamps.append(Detection(box: anchor.box(at: lamps[i].center, near: p, road: road), confidence: Detection.weakConfidence))
                    continue
                }
            }
            if let union {
                used.formUnion(pieces)
                unions.append(Detection(box: union, confidence: pieces.map { detections[$0].confidence }.max()!))
            }
        }
        let kept = used.isEmpty ? detections : detections.indices.filter { !used.contains($0) }.map { detections[$0] }
        return (kept + unions + fromLamps, fromLamps.count)
    }

    /// The boxes of the tracks that may share a blob (see `shares`) where each expects its vehicle next (`nextBox`):
    /// for a detector that divides a blob among them before the tracker has to (`MotionDetector.hold(_:apart:)`).
    public var seenApart: [Box] {
        guard let now = lastPTS else { return [] }
        return live.filter { mayShare($0, $0.points.last!.box, now: now) }.map { nextBox($0) }
    }

    /// Where the track expects its vehicle in the next frame (a frame as long as the last), if its filter moves it a
    /// pixel or more; else its last box. The detector divides a blob among these boxes, each pixel to the box it lies
    /// in, and the parts come back as the tracks' boxes: with the last boxes, the pixels of a vehicle moving into
    /// another's box went to that other, whose box grew by them frame by frame (the day junction's car 14 took van
    /// 16's roof as the van drove away behind it, and car 15 took car 17). A slower track's velocity is mostly noise
    /// (far away, where a pixel spans metres), so it keeps the box it was last seen in (docs/accuracy.md).
    private func nextBox(_ track: Live) -> Box {
        let last = track.points.last!.box
        guard lastStep > 0 else { return last }
        var next = track
        for axis in [\Live.px, \Live.py, \Live.w, \Live.h] as [WritableKeyPath<Live, AxisFilter>] {
            next[keyPath: axis].x += next[keyPath: axis].v * lastStep
        }
        let ahead = box(next)
        return ahead.center.distance(to: box(track).center) >= 1 ? ahead : last
    }

    /// A track whose vehicle may share a blob or divide one (`shares`, `seenApart`): seen alone
    /// `shareMinimumSightings` times (`shareQuickSightings` if its box `b` is `shareQuickHeight` tall) and confidently
    /// within `shareSeconds`, its box `b` at least half as tall as wide.
    private func mayShare(_ track: Live, _ b: Box, now: Double) -> Bool {
        let seen = b.height >= options.shareQuickHeight ? options.shareQuickSightings : options.shareMinimumSightings
        return track.seenAlone >= seen && now - track.lastSeen <= options.shareSeconds && b.height >= 0.5 * b.width
    }

    /// Vehicles that the tracks saw apart and that now make one blob (cars queued nose to tail in a lane, one above
    /// the other in the picture; vehicles in neighbouring lanes, diagonal to each other): a confident detection that
    /// holds (`Box.holdsApart`) the predicted boxes of two or more tracks seen alone `shareMinimumSightings` times and
    /// confidently in the last `shareSeconds`, whose boxes are at least half as tall as wide (a whole vehicle, not the
    /// strip of a lower body that comes and goes; the red-light rule asks the same), is shared among them rather than
    /// taken by one track while the others coast and end. Each track's box is its prediction moved (and
    /// cut where it is larger) to lie inside the blob, and the blob's edges place the outer vehicles (`snap`). The boxes
    /// are inferred, not seen: they keep the tracks alive and in place, and their points are marked `shared`, which
    /// the rules do not take as evidence. Returns, per share, the track, the detection and the box.
    private func shares(of detections: [Detection], excluding lampMade: Range<Int>, predicted: [Box]) -> [(track: Int, detection: Int, box: Box)] {
        guard let now = lastPTS, !options.wholeDetections else { return [] }
        var taken = Set<Int>(), result: [(track: Int, detection: Int, box: Box)] = []
        for j in detections.indices where !detections[j].isWeak && !lampMade.contains(j) {
            let d = detections[j].box
            let candidates = live.indices.filter { !taken.contains($0) && mayShare(live[$0], predicted[$0], now: now) }
            guard let held = d.holdsApart(candidates.map { predicted[$0] }) else { continue }
            let holders = held.map { candidates[$0] }
            var boxes = holders.map { predicted[$0].moved(into: d) }
            snap(&boxes, to: d)
            for (k, box) in zip(holders, boxes) {
                taken.insert(k)
                result.append((k, j, box))
            }
        }
        return result
    }

    /// The blob's edges are its outer vehicles' edges: the box nearest each edge is moved onto it (one nearest both
    /// edges of an axis spans the blob on that axis).
    private func snap(_ boxes: inout [Box], to d: Box) {
        guard let top = boxes.indices.min(by: { boxes[$0].y < boxes[$1].y }),
              let bottom = boxes.indices.max(by: { boxes[$0].maxY < boxes[$1].maxY }),
              let left = boxes.indices.min(by: { boxes[$0].x < boxes[$1].x }),
              let right = boxes.indices.max(by: { boxes[$0].maxX < boxes[$1].maxX }) else { return }
        if top == bottom { boxes[top].y = d.y; boxes[top].height = d.height } else { boxes[top].y = d.y; boxes[bottom].y = d.maxY - boxes[bottom].height }
        if left == right { boxes[left].x = d.x; boxes[left].width = d.width } else { boxes[left].x = d.x; boxes[right].x = d.maxX - boxes[right].width }
    }

    /// The lamp nearest where the track's own should be in box `p`: within a quarter of the box's larger side, alike
    /// in size (within 2.5 times the track's lamp at `p`'s width), not taken, and inside none of `hiddenBy` (other
    /// vehicles' detections). In pixels, the size learnt near the camera was unlike the lamp of the same vehicle
    /// driving away: the night junction's van 5 changed track at 62 m, and the traffic clip's motorcycle 14 was
    /// tracked in 63 of its 383 frames, 153 with the share (night IDF1 0.772 → 0.781, junction-night-traffic 0.659 →
    /// 0.680; docs/accuracy.md).
    private func lamp(for anchor: Lamp, in p: Box, lamps: [Box], except taken: Set<Int>, hiddenBy others: [Box]) -> Int? {
        let expected = anchor.spot(in: p)
        let gate = 0.25 * max(p.width, p.height)
        return lamps.indices.filter { i in
            let l = lamps[i], size = max(l.width, l.height), known = anchor.size * p.width
            return !taken.contains(i) && l.center.distance(to: expected) <= gate && size <= 2.5 * known && known <= 2.5 * size
                && !others.contains { $0.contains(l.center) }
        }.min { lamps[$0].center.distance(to: expected) < lamps[$1].center.distance(to: expected) }
    }

    /// A track's lamp is learnt from the box of a confident detection that fits the prediction (IoU at least 0.5)
    /// with one lamp inside (a car's pair gives none), then followed (a 0.3 running mean) through boxes that place a
    /// lamp alike (see `Lamp.fits`; the nearest to where it was, if several do). A fragment of the vehicle places it
    /// elsewhere and teaches nothing, and another vehicle's lamp passing through the box changes nothing.
    private func learnLamp(_ track: inout Live, box: Box, predicted: Box, lamps: [Box]) {
        let inside = lamps.filter { box.contains($0.center) }
        if let old = track.lamp {
            let spot = old.spot(in: box)
            guard let l = inside.filter({ old.fits($0, in: box) }).min(by: { $0.center.distance(to: spot) < $1.center.distance(to: spot) }) else { return }
            track.lamp = old.mean(Lamp(lamp: l, in: box, road: road), 0.3)
        } else if inside.count == 1, predicted.iou(box) >= 0.5 {
            track.lamp = Lamp(lamp: inside[0], in: box, road: road)
        }
    }

    /// The track's vehicle's size on the road in metres (see `TrackerOptions.sizeSightings`), if it knows one.
    private func knownSize(_ track: Live) -> (width: Double, height: Double)? {
        guard track.confirmed, track.sizes.count >= 10 else { return nil }
        let i = min(track.sizes.count - 1, Int(options.sizeQuantile * Double(track.sizes.count)))
        let width = track.sizes.map(\.width).sorted()[i], height = track.sizes.map(\.height).sorted()[i]
        guard width <= options.largestVehicleWidthM, height <= options.largestVehicleHeightM else { return nil }
        return (width, height)
    }

    /// A vehicle of this size on the road as a box whose bottom centre is `p`'s.
    private func box(of size: (width: Double, height: Double), at p: Box) -> Box? {
        guard let scale = road?.metresPerPixel(at: p.bottomCenter)?.x, scale > 0 else { return nil }
        let w = size.width / scale, h = size.height / scale
        return Box(x: p.center.x - w / 2, y: p.maxY - h, width: w, height: h)
    }

    /// Where detection `d` is a part of the track's vehicle, of `size` on the road (`knownSize`; computed once per
    /// match), under `share` of its box (`TrackerOptions.partArea`, or `weakPartArea`), the vehicle's box around it;
    /// nil where `d` is the vehicle as far as the track knows, or it knows no size. The part
    /// shares the top or the bottom edge of the vehicle's box, whichever of its own lies nearer the prediction's (a
    /// white top, a roof; a bumper and wheels), and is centred across it (held inside); the box is sized twice, the
    /// second time at its own bottom.
    /// Not placed by the prediction alone: a track measured by its vehicle's top in most frames has its centre, and
    /// its bottom edge, too high.
    private func wholeVehicle(_ size: (width: Double, height: Double)?, holding d: Box, predicted p: Box, share: Double) -> Box? {
        guard options.partArea > 0, !options.wholeDetections, let size, var v = box(of: size, at: p), d.area < share * v.area,
              (d.intersection(v)?.area ?? 0) >= 0.8 * d.area else { return nil }
        let top = abs(d.y - p.y) <= abs(d.maxY - p.maxY)
        func placed(_ v: Box) -> Box {
            let w = max(v.width, d.width), h = max(v.height, d.height)
            return Box(x: min(max(d.center.x - w / 2, d.maxX - w), d.x), y: top ? d.y : d.maxY - h, width: w, height: h)
        }
        for _ in 0..<2 {
            guard let sized = box(of: size, at: placed(v)) else { return nil }
            v = sized
        }
        return placed(v)
    }

    /// Keeps the last `sizeSightings` sizes on the road of the track's confident detections.
    private func learnSize(_ track: inout Live, from b: Box) {
        guard let scale = road?.metresPerPixel(at: b.bottomCenter)?.x, scale > 0 else { return }
        track.sizes.append((b.width * scale, b.height * scale))
        if track.sizes.count > options.sizeSightings { track.sizes.removeFirst() }
    }

    /// Wider on the road (along its bottom edge) than any vehicle.
    private func wider(_ b: Box) -> Bool {
        guard let width = road?.groundWidth(b) else { return false }
        return width > options.maximumVehicleWidthM
    }

    /// `fits`: the detection fits the track's prediction, so even a weak one keeps the track alive (`weakKeepsAliveIoU`).
    /// `written`: the box the point gets where it is not the one measured (a weak blob's vehicle, `weakPartArea`).
    private func correct(_ track: inout Live, with detection: Detection, time: FrameTime, shared: Bool = false, fits: Bool = false,
                         written: Box? = nil) {
        let b = detection.box
        // A ground track seen where the calibration does not reach keeps its prediction for this frame.
        if let m = measure(b, onGround: track.onGround) {
            track.px.update(m.x, variance: m.rx)
            track.py.update(m.y, variance: m.ry)
            track.w.update(m.w, variance: m.rSize)
            track.h.update(m.h, variance: m.rSize)
        }
        track.hits += 1
        if !shared { track.seenAlone += 1 }
        if !detection.isWeak || fits { track.lastSeen = time.pts }
        // The measured box, not the filtered one: a constant-velocity filter runs ahead of a vehicle whose image
        // motion slows with distance (measured: 26 px at 50 m on the motorway sample), which biased speeds high.
        track.points.append(TrackPoint(time: time, box: written ?? b, coasted: false, shared: shared))
    }

    private func end(_ track: Live) {
        guard track.confirmed else { return }
        var points = track.points
        while points.last?.coasted == true { points.removeLast() }
        if options.wholeDetections { Self.bridgeGaps(&points) }
        finished.append(Track(id: track.id, points: points))
    }

    /// Whole detections (`wholeDetections`): a gap the track coasted through between two sightings is a vehicle the
    /// detector missed, there all along. Its points become the boxes interpolated between the two sightings by time,
    /// marked `shared` (inferred: written to the tracks file, not evidence for the rules). On the dense junction's
    /// truth boxes with a box in seven dropped, IDF1 0.911 → 0.99. Motion blobs keep their coasted predictions: there a
    /// gap is as often a vehicle merged with another, and bridging it cost the shaking clip 0.005 (docs/accuracy.md).
    static func bridgeGaps(_ points: inout [TrackPoint]) {
        var last: Int?
        for i in points.indices where !points[i].coasted {
            if let a = last, i - a > 1 {
                let p = points[a], q = points[i], span = q.time.pts - p.time.pts
                for k in (a + 1)..<i where span > 0 {
                    let f = (points[k].time.pts - p.time.pts) / span
                    let box = Box(x: p.box.x + f * (q.box.x - p.box.x), y: p.box.y + f * (q.box.y - p.box.y),
                                  width: p.box.width + f * (q.box.width - p.box.width), height: p.box.height + f * (q.box.height - p.box.height))
                    points[k] = TrackPoint(time: points[k].time, box: box, coasted: false, shared: true)
                }
            }
            last = i
        }
    }

    /// Ends every live track and returns all confirmed tracks, by id, with their whole history (the frames
    /// before confirmation included).
    public func finish() -> [Track] {
        for track in live { end(track) }
        live = []
        return finished.sorted { $0.id < $1.id }
    }
}
