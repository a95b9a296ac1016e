/// Small geometry values are written as plain number arrays ([x, y], [x, y, w, h]): the form configs,
/// truth files and records use.
public protocol NumberArrayCodable: Codable {
    static var numberCount: Int { get }
    init(numbers: [Double])
    var numbers: [Double] { get }
}

extension NumberArrayCodable {
    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        var numbers: [Double] = []
        for _ in 0..<Self.numberCount { numbers.append(try c.decode(Double.self)) }
        guard c.isAtEnd else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected \(Self.numberCount) numbers")
        }
        self.init(numbers: numbers)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        for v in numbers { try c.encode(v) }
    }
}

/// A point in the image (pixels, origin top-left, y down) or on the ground plane (metres).
public struct Point2: Sendable, Hashable, NumberArrayCodable, CustomStringConvertible {
    public static let numberCount = 2
    public var x: Double
    public var y: Double
    @inlinable public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }

    @inlinable public static func + (a: Point2, b: Point2) -> Point2 { Point2(a.x + b.x, a.y + b.y) }
    @inlinable public static func - (a: Point2, b: Point2) -> Point2 { Point2(a.x - b.x, a.y - b.y) }
    @inlinable public static func * (a: Point2, s: Double) -> Point2 { Point2(a.x * s, a.y * s) }
    @inlinable public func dot(_ o: Point2) -> Double { x * o.x + y * o.y }
    @inlinable public func cross(_ o: Point2) -> Double { x * o.y - y * o.x }
    @inlinable public var length: Double { (x * x + y * y).squareRoot() }
    @inlinable public func distance(to o: Point2) -> Double { (self - o).length }
    public var description: String { "(\(x), \(y))" }

    public init(numbers n: [Double]) { self.init(n[0], n[1]) }
    public var numbers: [Double] { [x, y] }
}

/// A point in the world (metres): x across the road to the right, y along the road away from the camera, z up.
public struct Point3: Sendable, Hashable, NumberArrayCodable {
    public static let numberCount = 3
    public var x: Double
    public var y: Double
    public var z: Double
    @inlinable public init(_ x: Double, _ y: Double, _ z: Double) { self.x = x; self.y = y; self.z = z }
    @inlinable public static func + (a: Point3, b: Point3) -> Point3 { Point3(a.x + b.x, a.y + b.y, a.z + b.z) }
    @inlinable public static func - (a: Point3, b: Point3) -> Point3 { Point3(a.x - b.x, a.y - b.y, a.z - b.z) }
    @inlinable public static func * (a: Point3, s: Double) -> Point3 { Point3(a.x * s, a.y * s, a.z * s) }
    @inlinable public func dot(_ o: Point3) -> Double { x * o.x + y * o.y + z * o.z }
    @inlinable public func cross(_ o: Point3) -> Point3 { Point3(y * o.z - z * o.y, z * o.x - x * o.z, x * o.y - y * o.x) }
    @inlinable public var length: Double { dot(self).squareRoot() }
    @inlinable public var normalized: Point3 { self * (1 / length) }
    public var ground: Point2 { Point2(x, y) }

    public init(numbers n: [Double]) { self.init(n[0], n[1], n[2]) }
    public var numbers: [Double] { [x, y, z] }
}

/// An axis-aligned image box: top-left corner and size, in pixels. Encoded as [x, y, w, h] (MOT order).
public struct Box: Sendable, Hashable, NumberArrayCodable, CustomStringConvertible {
    public static let numberCount = 4
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double
    @inlinable public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    /// The smallest box holding all the points.
    public init?(bounding points: [Point2]) {
        guard let first = points.first else { return nil }
        var lo = first, hi = first
        for p in points.dropFirst() {
            lo = Point2(min(lo.x, p.x), min(lo.y, p.y))
            hi = Point2(max(hi.x, p.x), max(hi.y, p.y))
        }
        self.init(x: lo.x, y: lo.y, width: hi.x - lo.x, height: hi.y - lo.y)
    }
    @inlinable public var maxX: Double { x + width }
    @inlinable public var maxY: Double { y + height }
    @inlinable public var area: Double { max(0, width) * max(0, height) }
    @inlinable public var center: Point2 { Point2(x + width / 2, y + height / 2) }
    /// Middle of the bottom edge: where a vehicle touches the road in a view from above and behind.
    @inlinable public var bottomCenter: Point2 { Point2(x + width / 2, y + height) }

    @inlinable public func intersection(_ o: Box) -> Box? {
        let x0 = max(x, o.x), y0 = max(y, o.y), x1 = min(maxX, o.maxX), y1 = min(maxY, o.maxY)
        guard x1 > x0, y1 > y0 else { return nil }
        return Box(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
    /// The smallest box holding both.
    @inlinable public func union(_ o: Box) -> Box {
        let x0 = min(x, o.x), y0 = min(y, o.y)
        return Box(x: x0, y: y0, width: max(maxX, o.maxX) - x0, height: max(maxY, o.maxY) - y0)
    }
    /// Intersection over union, 0 when apart.
    @inlinable public func iou(_ o: Box) -> Double {
        guard let i = intersection(o) else { return 0 }
        let inter = i.area
        return inter / (area + o.area - inter)
    }
    @inlinable public func contains(_ p: Point2) -> Bool { p.x >= x && p.x <= maxX && p.y >= y && p.y <= maxY }
    /// Which of `vehicles` (boxes of vehicles seen apart) this blob holds, when it holds two or more of them: those at
    /// least 0.7 inside it, less pieces (a box under a quarter of another's area and mostly, half, inside it: a piece
    /// of that vehicle tracked on its own), none of the rest mostly inside another, their union fitting it (IoU 0.5 or
    /// more). Nil when it holds fewer, or boxes that overlap like one vehicle's, or like vehicles one behind the other
    /// far away. On the shaking junction a strip of truck 11's side, tracked on its own, kept the truck and the car
    /// queued behind it together for 200 frames, until pieces were left out. Indices into `vehicles`, in order.
    public func holdsApart(_ vehicles: [Box]) -> [Int]? {
        let inside = vehicles.indices.filter { vehicles[$0].area > 0 && (vehicles[$0].intersection(self)?.area ?? 0) >= 0.7 * vehicles[$0].area }
        let held = inside.filter { a in
            !inside.contains { b in vehicles[a].area < 0.25 * vehicles[b].area && (vehicles[a].intersection(vehicles[b])?.area ?? 0) >= 0.5 * vehicles[a].area }
        }
        guard held.count >= 2 else { return nil }
        for a in held {
            for b in held where a < b && (vehicles[a].intersection(vehicles[b])?.area ?? 0) >= 0.5 * min(vehicles[a].area, vehicles[b].area) {
                return nil
            }
        }
        let union = held.dropFirst().reduce(vehicles[held[0]]) { $0.union(vehicles[$1]) }
        return union.iou(self) >= 0.5 ? held : nil
    }
    /// The same box moved by (dx, dy).
    public func offsetBy(dx: Double, dy: Double) -> Box { Box(x: x + dx, y: y + dy, width: width, height: height) }
    /// The box in pixels `k` times as large (an analysis image's box in the picture it was shrunk from).
    @inlinable public func scaled(by k: Double) -> Box { Box(x: x * k, y: y * k, width: width * k, height: height * k) }
    /// This box moved the least to lie inside `o`, and cut to `o`'s size where it is larger.
    public func moved(into o: Box) -> Box {
        let w = min(width, o.width), h = min(height, o.height)
        return Box(x: min(max(x, o.x), o.maxX - w), y: min(max(y, o.y), o.maxY - h), width: w, height: h)
    }
    public func clipped(width w: Double, height h: Double) -> Box? { intersection(Box(x: 0, y: 0, width: w, height: h)) }
    public var description: String { "[\(x), \(y), \(width), \(height)]" }

    public init(numbers n: [Double]) { self.init(x: n[0], y: n[1], width: n[2], height: n[3]) }
    public var numbers: [Double] { [x, y, width, height] }
}

/// A line segment (a stop line, a zone boundary), in image or ground coordinates.
public struct Segment: Sendable, Hashable, Codable {
    public var a: Point2
    public var b: Point2
    public init(_ a: Point2, _ b: Point2) { self.a = a; self.b = b }

    /// Which side of the infinite line `p` lies on: positive left of a→b, negative right, 0 on it.
    @inlinable public func side(of p: Point2) -> Double { (b - a).cross(p - a) }

    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        a = try c.decode(Point2.self)
        b = try c.decode(Point2.self)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(a)
        try c.encode(b)
    }
}

/// A simple polygon (a lane), in image or ground coordinates.
public struct Polygon: Sendable, Hashable, Codable {
    public var points: [Point2]
    public init(_ points: [Point2]) { self.points = points }

    /// Even-odd rule; points on the boundary may fall either way.
    public func contains(_ p: Point2) -> Bool {
        var inside = false
        var j = points.count - 1
        for i in points.indices {
            let a = points[i], b = points[j]
            if (a.y > p.y) != (b.y > p.y), p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x { inside.toggle() }
            j = i
        }
        return inside
    }

    public var area: Double {
        var s = 0.0
        var j = points.count - 1
        for i in points.indices { s += points[j].cross(points[i]); j = i }
        return abs(s) / 2
    }

    public init(from decoder: Decoder) throws { points = try [Point2](from: decoder) }
    public func encode(to encoder: Encoder) throws { try points.encode(to: encoder) }
}
