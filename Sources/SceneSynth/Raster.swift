import TrafficModel

/// Calls `body(y, x0, x1)` for each image row of a convex polygon, pixels x0...x1 inclusive, clipped to
/// width × height. A pixel belongs to the polygon when its centre does.
@inline(__always)
func forEachSpan(_ polygon: [Point2], width: Int, height: Int, _ body: (Int, Int, Int) -> Void) {
    guard polygon.count >= 3 else { return }
    var minY = Double.infinity, maxY = -Double.infinity
    for p in polygon { minY = min(minY, p.y); maxY = max(maxY, p.y) }
    let y0 = max(0, Int((minY - 0.5).rounded(.up))), y1 = min(height - 1, Int((maxY - 0.5).rounded(.down)))
    guard y0 <= y1 else { return }
    for y in y0...y1 {
        let cy = Double(y) + 0.5
        var left = Double.infinity, right = -Double.infinity
        var j = polygon.count - 1
        for i in 0..<polygon.count {
            let a = polygon[j], b = polygon[i]
            if (a.y <= cy && b.y > cy) || (b.y <= cy && a.y > cy) {
                let x = a.x + (cy - a.y) * (b.x - a.x) / (b.y - a.y)
                left = min(left, x)
                right = max(right, x)
            }
            j = i
        }
        guard left <= right else { continue }
        let x0 = max(0, Int((left - 0.5).rounded(.up))), x1 = min(width - 1, Int((right - 0.5).rounded(.down)))
        if x0 <= x1 { body(y, x0, x1) }
    }
}

/// Convex hull (Andrew's monotone chain), counter-clockwise.
func convexHull(_ points: [Point2]) -> [Point2] {
    let p = points.sorted { ($0.x, $0.y) < ($1.x, $1.y) }
    guard p.count > 2 else { return p }
    var lower: [Point2] = [], upper: [Point2] = []
    for q in p {
        while lower.count >= 2, (lower[lower.count - 1] - lower[lower.count - 2]).cross(q - lower[lower.count - 2]) <= 0 { lower.removeLast() }
        lower.append(q)
    }
    for q in p.reversed() {
        while upper.count >= 2, (upper[upper.count - 1] - upper[upper.count - 2]).cross(q - upper[upper.count - 2]) <= 0 { upper.removeLast() }
        upper.append(q)
    }
    return Array(lower.dropLast() + upper.dropLast())
}
