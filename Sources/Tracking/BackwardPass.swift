import TrafficModel

/// Recorded footage can be tracked twice: after the forward pass, the same detections are tracked again from the
/// last frame to the first, and the backward tracks join and extend the forward ones.
///
/// A backward track follows a forward track's vehicle where it matches it (IoU ≥ `matchIoU` in at least
/// `minimumMatches` frames). Forward tracks that one backward track follows one after the other in time are fragments
/// of one vehicle that the forward tracker lost and found again: the later joins the earlier, under its id, its
/// points unchanged. Then the forward track a backward track follows best is extended back in time: a vehicle coming
/// toward the camera is small and seen only weakly far away, where the forward tracker cannot start a track (weak
/// detections only continue tracks, ByteTrack's rule); run backward, the same vehicle is near and confident first,
/// and its track is followed out into the distance on the weak detections. The track gets the backward track's boxes
/// in the frames before the fragment it follows began, where no other track has a box (IoU ≥ `clearIoU`). Those
/// points are inferred (`shared`): the rules never take them as evidence.
///
/// Deterministic: a pure function of the detections and the forward tracks. No feedback reaches the detector: the
/// detections are the forward pass's.
public struct BackwardPass: Sendable {
    public var options: TrackerOptions
    /// As for `Tracker`: the ground plane the filters run on (nil: the picture), and the road's calibration.
    public var calibration: Calibration?
    public var road: Calibration?
    /// A backward track follows a forward track's vehicle where it matches it at IoU ≥ `matchIoU` in at least
    /// `minimumMatches` frames. At 5, a backward track that crossed two vehicles joined their tracks (the day
    /// sample's IDF1 0.904 with joins, 0.939 at 20; docs/accuracy.md).
    public var matchIoU = 0.5
    public var minimumMatches = 20
    /// Where another track's box overlaps a backward box this much, the frame is that track's: no point is added.
    public var clearIoU = 0.3

    public init(options: TrackerOptions, calibration: Calibration?, road: Calibration?) {
        self.options = options
        self.calibration = calibration
        self.road = road
    }

    /// The forward `tracks` joined and extended back in time; `detections` are every frame's, in frame order, as the
    /// forward tracker took them. Returns the tracks (by id: a joined track keeps its first fragment's id) and how
    /// many fragments were joined to an earlier one and how many points were added.
    public func extend(_ tracks: [Track], detections: [FrameDetections]) -> (tracks: [Track], joined: Int, added: Int) {
        guard let last = detections.last?.time.pts else { return (tracks, 0, 0) }
        // Backward: the frames in reverse order, their times mirrored so that they increase; each point's own time
        // is put back from its frame's index. Frames after dark (`FrameDetections.dark`) neither join nor extend:
        // there a far vehicle's box is its lamps' glow or a pair's box sized by the lamps' spacing, and on the night
        // clips the points added matched almost no vehicle (docs/accuracy.md).
        let backward = Tracker(options: options, calibration: calibration, road: road)
        var times: [Int: FrameTime] = [:]
        for frame in detections.reversed() {
            if !frame.dark { times[frame.time.index] = frame.time }
            var mirrored = frame
            mirrored.time = FrameTime(index: frame.time.index, pts: last - frame.time.pts)
            backward.update(mirrored)
        }
        let found = backward.finish()

        // Per backward track, the frames in which it matches each forward track it meets (sparse: a long file has
        // thousands of tracks of each kind, and each backward track meets a few).
        var seen: [Int: [(track: Int, box: Box)]] = [:]
        for (k, t) in tracks.enumerated() { for p in t.points where !p.coasted { seen[p.time.index, default: []].append((k, p.box)) } }
        let matches = found.map { b in
            var count: [Int: Int] = [:]
            for p in b.points where !p.coasted && times[p.time.index] != nil {
                for s in seen[p.time.index] ?? [] where s.box.iou(p.box) >= matchIoU { count[s.track, default: 0] += 1 }
            }
            return count
        }

        // Joins: forward tracks that one backward track follows, one after the other in time (the first's last point
        // before the second's first), are one vehicle's fragments; the later joins the earlier.
        var root = Array(tracks.indices)
        func find(_ k: Int) -> Int { var k = k; while root[k] != k { k = root[k] }; return k }
        var span = tracks.map { ($0.points.first?.time.index ?? 0, $0.points.last?.time.index ?? 0) }
        var joined = 0
        for count in matches {
            let linked = count.filter { $0.value >= minimumMatches }.keys.sorted { (span[$0].0, $0) < (span[$1].0, $1) }
            for (a, b) in zip(linked, linked.dropFirst()) {
                let ra = find(a), rb = find(b)
                guard ra != rb else { continue }
                let (first, second) = span[ra].0 <= span[rb].0 ? (ra, rb) : (rb, ra)
                guard span[first].1 < span[second].0 else { continue }
                root[second] = first
                span[first].1 = span[second].1
                joined += 1
            }
        }
        var result: [Int: Track] = [:]
        for k in tracks.indices {
            let r = find(k)
            result[r, default: Track(id: tracks[r].id, points: [])].points += tracks[k].points
        }
        for r in result.keys { result[r]!.points.sort { $0.time.index < $1.time.index } }
        var groupSeen: [Int: [(track: Int, box: Box)]] = [:]
        for (f, boxes) in seen { groupSeen[f] = boxes.map { (find($0.track), $0.box) } }

        // Extension: the frames before the fragment a backward track follows best.
        var added = 0
        for (b, count) in zip(found, matches) {
            guard let (k, n) = count.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }), n >= minimumMatches,
                  let start = tracks[k].points.first?.time.index else { continue }
            let r = find(k)
            let has = Set(result[r]!.points.map(\.time.index))
            var earlier: [TrackPoint] = []
            for p in b.points where !p.coasted && p.time.index < start && !has.contains(p.time.index) {
                guard let time = times[p.time.index],
                      !(groupSeen[p.time.index] ?? []).contains(where: { $0.track != r && $0.box.iou(p.box) >= clearIoU }) else { continue }
                earlier.append(TrackPoint(time: time, box: p.box, coasted: false, shared: true))
            }
            guard !earlier.isEmpty else { continue }
            result[r]!.points = (earlier + result[r]!.points).sorted { $0.time.index < $1.time.index }
            added += earlier.count
            for p in earlier { groupSeen[p.time.index, default: []].append((r, p.box)) }
        }
        return (result.values.sorted { $0.id < $1.id }, joined, added)
    }
}
