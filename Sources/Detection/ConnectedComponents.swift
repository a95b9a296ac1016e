/// A connected region of foreground pixels.
public struct Component: Sendable, Equatable {
    public var minX: Int, minY: Int, maxX: Int, maxY: Int
    public var pixels: Int
    /// Bounding box and count of the component's core pixels (core value with bit 1 set), and of its strong core
    /// pixels (bit 2 set); see `connectedComponents(_:core:...)`.
    public var coreMinX = Int.max, coreMinY = Int.max, coreMaxX = Int.min, coreMaxY = Int.min
    public var corePixels = 0
    public var strongMinX = Int.max, strongMinY = Int.max, strongMaxX = Int.min, strongMaxY = Int.min
    public var strongPixels = 0
    public var width: Int { maxX - minX + 1 }
    public var height: Int { maxY - minY + 1 }
}

/// 8-connected components of a binary mask (non-zero = foreground), by two passes with union–find.
/// With `core`, each component also gets the bounding boxes of its core pixels (bit 1) and strong core pixels (bit 2).
public func connectedComponents(_ mask: [UInt8], core: [UInt8]? = nil, width: Int, height: Int) -> [Component] {
    var labels = [Int32](repeating: 0, count: width * height)
    var parent: [Int32] = [0]
    func find(_ a: Int32) -> Int32 {
        var a = a
        while parent[Int(a)] != a {
            parent[Int(a)] = parent[Int(parent[Int(a)])]
            a = parent[Int(a)]
        }
        return a
    }
    func union(_ a: Int32, _ b: Int32) {
        let ra = find(a), rb = find(b)
        if ra != rb { parent[Int(max(ra, rb))] = min(ra, rb) }
    }
    for y in 0..<height {
        for x in 0..<width where mask[y * width + x] != 0 {
            var label: Int32 = 0
            // Neighbours already visited: W, NW, N, NE.
            let neighbours = [(x - 1, y), (x - 1, y - 1), (x, y - 1), (x + 1, y - 1)]
            for (nx, ny) in neighbours where nx >= 0 && ny >= 0 && nx < width {
                let l = labels[ny * width + nx]
                guard l != 0 else { continue }
                if label == 0 { label = l } else if l != label { union(label, l) }
            }
            if label == 0 {
                label = Int32(parent.count)
                parent.append(label)
            }
            labels[y * width + x] = label
        }
    }
    var components: [Int32: Component] = [:]
    for y in 0..<height {
        for x in 0..<width {
            let l = labels[y * width + x]
            guard l != 0 else { continue }
            let root = find(l)
            var c = components[root] ?? Component(minX: x, minY: y, maxX: x, maxY: y, pixels: 0)
            c.minX = min(c.minX, x); c.maxX = max(c.maxX, x); c.minY = min(c.minY, y); c.maxY = max(c.maxY, y)
            c.pixels += 1
            if let core {
                let level = core[y * width + x]
                if level & 1 != 0 {
                    c.coreMinX = min(c.coreMinX, x); c.coreMaxX = max(c.coreMaxX, x); c.coreMinY = min(c.coreMinY, y); c.coreMaxY = max(c.coreMaxY, y)
                    c.corePixels += 1
                }
                if level & 2 != 0 {
                    c.strongMinX = min(c.strongMinX, x); c.strongMaxX = max(c.strongMaxX, x); c.strongMinY = min(c.strongMinY, y); c.strongMaxY = max(c.strongMaxY, y)
                    c.strongPixels += 1
                }
            }
            components[root] = c
        }
    }
    return components.values.sorted { ($0.minY, $0.minX) < ($1.minY, $1.minX) }
}
