/// A connected region of foreground pixels.
public struct Component: Sendable, Equatable {
    public var minX: Int, minY: Int, maxX: Int, maxY: Int
    public var pixels: Int
    /// Bounding box and count of the component's core pixels (core value with bit 1 set), and of its strong core
    /// pixels (bit 2 set); see `ComponentLabeler.label(_:core:...)`.
    public var coreMinX = Int.max, coreMinY = Int.max, coreMaxX = Int.min, coreMaxY = Int.min
    public var corePixels = 0
    public var strongMinX = Int.max, strongMinY = Int.max, strongMaxX = Int.min, strongMaxY = Int.min
    public var strongPixels = 0
    public var width: Int { maxX - minX + 1 }
    public var height: Int { maxY - minY + 1 }
}

/// 8-connected components of a binary mask (non-zero = foreground). With `core`, each component also gets the
/// bounding boxes of its core pixels (bit 1) and strong core pixels (bit 2). Ordered by top row, then left edge,
/// then the raster order of their first pixel. Labels runs of foreground pixels (row by row, union–find over the
/// runs that touch in the row above), so the cost follows the foreground rather than the picture, and keeps its
/// buffers from frame to frame.
public final class ComponentLabeler {
    private var runs: [(x0: Int32, x1: Int32, y: Int32, label: Int32)] = []
    private var parent: [Int32] = []
    private var slot: [Int32] = []

    public init() {}

    public func label(_ mask: [UInt8], core: [UInt8]? = nil, width: Int, height: Int) -> [Component] {
        precondition(mask.count >= width * height && (core.map { $0.count >= width * height } ?? true))
        runs.removeAll(keepingCapacity: true)
        parent.removeAll(keepingCapacity: true)
        mask.withUnsafeBufferPointer { m in
            let base = m.baseAddress!
            var previous = 0..<0
            for y in 0..<height {
                let row = base + y * width
                let first = runs.count
                var j = previous.lowerBound
                var x = 0
                while x < width {
                    if x + 8 <= width && UnsafeRawPointer(row + x).loadUnaligned(as: UInt64.self) == 0 { x += 8; continue }
                    if row[x] == 0 { x += 1; continue }
                    let x0 = x
                    while x < width && row[x] != 0 { x += 1 }
                    let x1 = x - 1
                    // Runs of the row above that touch this one, diagonals included.
                    while j < previous.upperBound && Int(runs[j].x1) < x0 - 1 { j += 1 }
                    var label: Int32 = -1
                    var k = j
                    while k < previous.upperBound && Int(runs[k].x0) <= x1 + 1 {
                        let other = find(runs[k].label)
                        if label < 0 { label = other } else if other != label {
                            let root = min(label, other)
                            parent[Int(max(label, other))] = root
                            label = root
                        }
                        k += 1
                    }
                    if label < 0 { label = Int32(parent.count); parent.append(label) }
                    runs.append((Int32(x0), Int32(x1), Int32(y), label))
                }
                previous = first..<runs.count
            }
        }
        // One component per root, numbered in the raster order of its first run.
        slot.removeAll(keepingCapacity: true)
        slot.append(contentsOf: repeatElement(-1, count: parent.count))
        var components: [Component] = []
        for r in runs.indices {
            let run = runs[r]
            let root = Int(find(run.label))
            let x0 = Int(run.x0), x1 = Int(run.x1), y = Int(run.y)
            if slot[root] < 0 {
                slot[root] = Int32(components.count)
                components.append(Component(minX: x0, minY: y, maxX: x1, maxY: y, pixels: 0))
            }
            let index = Int(slot[root])
            var c = components[index]
            c.minX = min(c.minX, x0); c.maxX = max(c.maxX, x1); c.maxY = y
            c.pixels += x1 - x0 + 1
            if let core {
                for x in x0...x1 {
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
            }
            components[index] = c
        }
        // Ties of top row and left edge keep the raster order of first pixels: deterministic whatever the hashing.
        return components.enumerated().sorted { ($0.element.minY, $0.element.minX, $0.offset) < ($1.element.minY, $1.element.minX, $1.offset) }.map(\.element)
    }

    private func find(_ a: Int32) -> Int32 {
        var a = a
        while parent[Int(a)] != a {
            parent[Int(a)] = parent[Int(parent[Int(a)])]
            a = parent[Int(a)]
        }
        return a
    }
}
