import TrafficModel

/// Overlapping footage of one camera (consecutive files whose times overlap) must not count a violation twice.
/// Records of one rule and lane from different inputs within `window` seconds of wall-clock time (and, for speeds,
/// within `speedTolerance` km/h), whose boxes overlap (by at least half the smaller: one camera, one moment, one
/// vehicle; two vehicles side by side in a lane polygon that holds a carriageway do not), are one violation: the
/// record of the input that comes first (by its start time, then path) is kept. Deterministic: the answer depends
/// on the records only, never on the order jobs finished.
public enum CrossInputDedup {
    public struct Item: Sendable {
        public var id: String
        public var input: String
        public var rule: String
        public var lane: String?
        public var absolute: Double?
        public var speed: Double?
        /// Sort key of the input (start time, path, key).
        public var inputOrder: [String]
        public var pts: Double
        /// The record's box (pixels) at its event.
        public var box: Box?
        public init(id: String, input: String, rule: String, lane: String?, absolute: Double?, speed: Double?, inputOrder: [String], pts: Double,
                    box: Box? = nil) {
            self.id = id; self.input = input; self.rule = rule; self.lane = lane; self.absolute = absolute; self.speed = speed
            self.inputOrder = inputOrder; self.pts = pts; self.box = box
        }
    }

    /// Duplicate record id → the id of the record it repeats.
    public static func duplicates(_ items: [Item], window: Double = 1.0, speedTolerance: Double = 5) -> [String: String] {
        let ordered = items.sorted { a, b in
            if a.inputOrder != b.inputOrder { return a.inputOrder.lexicographicallyPrecedes(b.inputOrder) }
            return (a.pts, a.rule, a.id) < (b.pts, b.rule, b.id)
        }
        var kept: [Item] = []
        var out: [String: String] = [:]
        for v in ordered {
            let original = kept.first { k in
                guard let a = k.absolute, let b = v.absolute, k.input != v.input, k.rule == v.rule, k.lane == v.lane, abs(a - b) <= window else { return false }
                if let p = k.box, let q = v.box, (p.intersection(q)?.area ?? 0) < 0.5 * min(p.area, q.area) { return false }
                if let s1 = k.speed, let s2 = v.speed { return abs(s1 - s2) <= speedTolerance }
                return true
            }
            if let original { out[v.id] = original.id } else { kept.append(v) }
        }
        return out
    }
}
