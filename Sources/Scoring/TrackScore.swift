import Foundation
import SceneSynth
import TrafficModel

/// One row of a track file in MOT format: `frame,id,x,y,w,h,conf,...` with 1-based frames (MOTChallenge).
public struct TrackRow: Sendable, Equatable {
    public var frame: Int
    public var id: Int
    public var box: Box
    public init(frame: Int, id: Int, box: Box) { self.frame = frame; self.id = id; self.box = box }

    /// Reads a MOT CSV (see `MOTFile`).
    public static func load(_ path: String) throws -> [TrackRow] {
        do {
            return try MOTFile.read(path).map { TrackRow(frame: $0.frame, id: $0.id, box: $0.box) }
        } catch let error as MOTFormatError {
            throw ScoreError(message: error.description)
        }
    }
}

/// CLEAR-MOT (MOTA) and identity (IDF1) scores of tracks against the truth's per-frame boxes.
public struct TrackScore: Sendable, Codable, Equatable {
    public var groundTruthBoxes: Int
    public var trackBoxes: Int
    public var matches: Int
    public var falsePositives: Int
    public var misses: Int
    public var identitySwitches: Int
    public var mota: Double
    public var idf1: Double
    public var idPrecision: Double
    public var idRecall: Double
    public var groundTruthTracks: Int
    public var tracks: Int

    public struct Options: Sendable {
        /// A track box matches a true box at this intersection over union or more.
        public var iou = 0.5
        /// True boxes less visible than this, or smaller, are neither required nor counted against tracks.
        public var minVisible = 0.5
        public var minHeight = 10.0
        /// Where boxes count, by their bottom centre: true and track boxes elsewhere are left out (nil: the whole
        /// picture). `roadwatch score --lanes` sets it to the pipeline's lane polygons, where the rules act.
        public var region: (@Sendable (Point2) -> Bool)? = nil
        public init() {}
    }

    public static func score(tracks: [TrackRow], truth: SceneTruth, options: Options = Options()) -> TrackScore {
        var required: [Int: [(id: Int, box: Box)]] = [:], ignored: [Int: [Box]] = [:]
        for v in truth.vehicles {
            for f in v.frames {
                if f.visible >= options.minVisible && f.box.height >= options.minHeight && options.region?(f.box.bottomCenter) != false {
                    required[f.frame, default: []].append((v.id, f.box))
                } else {
                    ignored[f.frame, default: []].append(f.box)
                }
            }
        }
        var hypotheses: [Int: [(id: Int, box: Box)]] = [:]
        for r in tracks where options.region?(r.box.bottomCenter) != false { hypotheses[r.frame - 1, default: []].append((r.id, r.box)) }
        let frames = Set(required.keys).union(hypotheses.keys).sorted()

        var mapping: [Int: Int] = [:]  // truth id -> track id, last matched
        var gtCount = 0, hypCount = 0, tp = 0, fp = 0, fn = 0, switches = 0
        var overlap: [Int: [Int: Int]] = [:]  // truth id -> track id -> frames matched (for IDF1)
        var gtPerID: [Int: Int] = [:], hypPerID: [Int: Int] = [:]
        for frame in frames {
            let gts = required[frame] ?? []
            var hyps = hypotheses[frame] ?? []
            // Track boxes on ignored truths are not counted at all.
            hyps.removeAll { h in !gts.contains { $0.box.iou(h.box) >= options.iou } && (ignored[frame] ?? []).contains { $0.iou(h.box) >= options.iou } }
            gtCount += gts.count
            hypCount += hyps.count
            for g in gts { gtPerID[g.id, default: 0] += 1 }
            for h in hyps { hypPerID[h.id, default: 0] += 1 }
            for g in gts {
                for h in hyps where g.box.iou(h.box) >= options.iou { overlap[g.id, default: [:]][h.id, default: 0] += 1 }
            }
            // CLEAR MOT: keep last frame's correspondences that still hold, assign the rest by IoU.
            var matchedG = Set<Int>(), matchedH = Set<Int>()
            for (gi, g) in gts.enumerated() {
                if let t = mapping[g.id], let hi = hyps.firstIndex(where: { $0.id == t }), !matchedH.contains(hi), g.box.iou(hyps[hi].box) >= options.iou {
                    matchedG.insert(gi); matchedH.insert(hi)
                }
            }
            let freeG = gts.indices.filter { !matchedG.contains($0) }, freeH = hyps.indices.filter { !matchedH.contains($0) }
            if !freeG.isEmpty && !freeH.isEmpty {
                let cost = freeG.map { gi in freeH.map { hi in
                    let iou = gts[gi].box.iou(hyps[hi].box)
                    return iou >= options.iou ? 1 - iou : 1e6
                } }
                for (row, column) in Assignment.minimumCost(cost).enumerated() {
                    guard let column, cost[row][column] < 1e6 else { continue }
                    let g = gts[freeG[row]], h = hyps[freeH[column]]
                    if let previous = mapping[g.id], previous != h.id { switches += 1 }
                    mapping[g.id] = h.id
                    matchedG.insert(freeG[row]); matchedH.insert(freeH[column])
                }
            }
            tp += matchedG.count
            fn += gts.count - matchedG.count
            fp += hyps.count - matchedH.count
        }
        // IDF1: one-to-one truth↔track assignment maximising frames matched with the same identity.
        let gtIDs = gtPerID.keys.sorted(), hypIDs = hypPerID.keys.sorted()
        var idtp = 0
        if !gtIDs.isEmpty && !hypIDs.isEmpty {
            let cost = gtIDs.map { g in hypIDs.map { h in -Double(overlap[g]?[h] ?? 0) } }
            for (row, column) in Assignment.minimumCost(cost).enumerated() {
                if let column { idtp += overlap[gtIDs[row]]?[hypIDs[column]] ?? 0 }
            }
        }
        let mota = gtCount > 0 ? 1 - Double(fn + fp + switches) / Double(gtCount) : 0
        let idf1 = gtCount + hypCount > 0 ? 2 * Double(idtp) / Double(gtCount + hypCount) : 0
        return TrackScore(groundTruthBoxes: gtCount, trackBoxes: hypCount, matches: tp, falsePositives: fp, misses: fn,
                          identitySwitches: switches, mota: mota, idf1: idf1,
                          idPrecision: hypCount > 0 ? Double(idtp) / Double(hypCount) : 0,
                          idRecall: gtCount > 0 ? Double(idtp) / Double(gtCount) : 0,
                          groundTruthTracks: gtIDs.count, tracks: hypIDs.count)
    }
}
