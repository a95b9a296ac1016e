import Foundation

/// One calibration point: where a marked spot on the road is in the image (pixels) and on the ground (metres).
public struct CalibrationPoint: Sendable, Equatable, Codable {
    public var image: Point2
    public var world: Point2
    public init(image: Point2, world: Point2) {
        self.image = image
        self.world = world
    }
}

/// Why points cannot calibrate a camera; the message names the points (1-based, as a config lists them).
public struct CalibrationError: Error, Equatable, CustomStringConvertible {
    public var description: String
    /// The offending points, 1-based.
    public var points: [Int]
}

/// The image↔ground mapping of a camera, from four or more point pairs: a homography by the normalised direct
/// linear transform (Hartley), least squares beyond four points, with each point's reprojection error.
public struct Calibration: Sendable, Equatable {
    public let points: [CalibrationPoint]
    /// Ground (x, y) → image (u, v).
    public let worldToImage: Homography
    /// Image (u, v) → ground (x, y).
    public let imageToWorld: Homography
    /// Per point: distance in the image between where it is and where its ground point maps to (pixels) ...
    public let imageErrors: [Double]
    /// ... and on the ground between its ground point and where its image point maps to (metres).
    public let worldErrors: [Double]
    /// The sign of the image→ground mapping's denominator on the road (at the calibration points), and its least
    /// magnitude over them (it falls in proportion to 1 / depth): where `groundPoint` stops.
    private let roadSide: Double, farthestRoadScale: Double

    public init(points: [CalibrationPoint]) throws {
        try Self.checkDegenerate(points)
        let tImage = Self.normalisation(points.map(\.image)), tWorld = Self.normalisation(points.map(\.world))
        // Rows of A for ĥ with û ~ Ĥ X̂ (normalised coordinates); ĥ is the eigenvector of AᵀA with the least eigenvalue.
        var ata = [Double](repeating: 0, count: 81)
        for p in points {
            let w = tWorld.apply(p.world)!, q = tImage.apply(p.image)!
            let rows: [[Double]] = [
                [-w.x, -w.y, -1, 0, 0, 0, q.x * w.x, q.x * w.y, q.x],
                [0, 0, 0, -w.x, -w.y, -1, q.y * w.x, q.y * w.y, q.y],
            ]
            for r in rows { for i in 0..<9 { for j in 0..<9 { ata[i * 9 + j] += r[i] * r[j] } } }
        }
        let (values, vectors) = symmetricEigen(ata, n: 9)
        let order = values.indices.sorted { values[$0] < values[$1] }
        // A rank below 8 means the points do not fix a plane-to-plane mapping.
        let largest = max(values[order[8]], 1e-300)
        if values[order[1]] / largest < 1e-10 {
            throw CalibrationError(description: "the calibration points do not determine the ground plane (they lie on too few lines)", points: Array(1...points.count))
        }
        let h = (0..<9).map { vectors[$0 * 9 + order[0]] }
        guard let imageDenormalise = tImage.inverse else {
            throw CalibrationError(description: "the image points coincide", points: Array(1...points.count))
        }
        let forward = (imageDenormalise * Homography(h) * tWorld).normalized()
        guard let backward = forward.inverse else {
            throw CalibrationError(description: "the calibration maps the ground onto a line", points: Array(1...points.count))
        }
        self.points = points
        worldToImage = forward
        imageToWorld = backward
        imageErrors = points.map { p in forward.apply(p.world).map { $0.distance(to: p.image) } ?? .infinity }
        worldErrors = points.map { p in backward.apply(p.image).map { $0.distance(to: p.world) } ?? .infinity }
        let denominators = points.map { backward.m[6] * $0.image.x + backward.m[7] * $0.image.y + backward.m[8] }
        roadSide = denominators[0] < 0 ? -1 : 1
        farthestRoadScale = denominators.map(abs).min()!
    }

    /// The ground point seen at an image point.
    public func world(_ image: Point2) -> Point2? { imageToWorld.apply(image) }
    /// Where a ground point appears in the image.
    public func image(_ world: Point2) -> Point2? { worldToImage.apply(world) }
    /// Metres on the ground between the points seen at two image points (a box's bottom edge: how wide it stands).
    public func groundDistance(_ a: Point2, _ b: Point2) -> Double? {
        guard let p = world(a), let q = world(b) else { return nil }
        return p.distance(to: q)
    }
    /// How wide a box stands on the road: metres along its bottom edge.
    public func groundWidth(_ b: Box) -> Double? { groundDistance(Point2(b.x, b.maxY), Point2(b.maxX, b.maxY)) }

    /// The ground point seen at an image point that shows the road in front of the camera: nil at or above the
    /// horizon, and nil beyond five times the depth of the farthest calibration point, where a pixel spans so much
    /// ground that a position means little (the mapping's scale there grows without bound).
    public func groundPoint(_ q: Point2) -> Point2? {
        let m = imageToWorld.m
        let w = m[6] * q.x + m[7] * q.y + m[8]
        guard w * roadSide > 0, abs(w) >= 0.2 * farthestRoadScale else { return nil }
        return Point2((m[0] * q.x + m[1] * q.y + m[2]) / w, (m[3] * q.x + m[4] * q.y + m[5]) / w)
    }

    /// Metres on the ground per image pixel at an image point, along the image's x and y axes (from the mapping's
    /// derivative): how far one pixel of error moves a measured position there.
    public func metresPerPixel(at q: Point2) -> (x: Double, y: Double)? {
        groundDerivatives(at: q).map { d in ((d.xu * d.xu + d.yu * d.yu).squareRoot(), (d.xv * d.xv + d.yv * d.yv).squareRoot()) }
    }

    /// How the ground point (x, y) moves per image pixel along u (image x) and v (image y) at an image point (central
    /// differences): carries pixel noise to each ground axis.
    public func groundDerivatives(at q: Point2) -> (xu: Double, yu: Double, xv: Double, yv: Double)? {
        guard let px = world(Point2(q.x + 0.5, q.y)), let mx = world(Point2(q.x - 0.5, q.y)),
              let py = world(Point2(q.x, q.y + 0.5)), let my = world(Point2(q.x, q.y - 0.5)) else { return nil }
        return (px.x - mx.x, px.y - mx.y, py.x - my.x, py.y - my.y)
    }

    // MARK: - Checks

    static func checkDegenerate(_ points: [CalibrationPoint]) throws {
        guard points.count >= 4 else {
            throw CalibrationError(description: "a calibration needs at least 4 points, not \(points.count)", points: Array(1...max(1, points.count)).filter { $0 <= points.count })
        }
        for i in points.indices {
            for j in points.indices where j > i {
                if points[i].image.distance(to: points[j].image) < 0.5 {
                    throw CalibrationError(description: "points \(i + 1) and \(j + 1) are the same image point \(points[i].image)", points: [i + 1, j + 1])
                }
                if points[i].world.distance(to: points[j].world) < 0.01 {
                    throw CalibrationError(description: "points \(i + 1) and \(j + 1) are the same ground point \(points[i].world)", points: [i + 1, j + 1])
                }
            }
        }
        for (name, coordinates, tolerance) in [("image", points.map(\.image), 1.0), ("ground", points.map(\.world), 0.05)] {
            if let line = collinear(coordinates, tolerance: tolerance, all: true) {
                throw CalibrationError(description: "all \(name) points \(list(line)) lie on one line", points: line)
            }
            if points.count == 4, let three = collinear(coordinates, tolerance: tolerance, all: false) {
                throw CalibrationError(description: "\(name) points \(list(three)) lie on one line; with four points no three may", points: three)
            }
        }
    }

    private static func list(_ indices: [Int]) -> String {
        indices.count == 1 ? "\(indices[0])" : indices.dropLast().map(String.init).joined(separator: ", ") + " and \(indices.last!)"
    }

    /// With `all`, the indices of all points if they lie on one line; otherwise the first three that do.
    /// "On a line" means within `tolerance` of the line through the two points farthest apart.
    private static func collinear(_ p: [Point2], tolerance: Double, all: Bool) -> [Int]? {
        func distance(_ q: Point2, _ a: Point2, _ b: Point2) -> Double {
            let d = b - a
            return abs(d.cross(q - a)) / max(d.length, 1e-12)
        }
        if all {
            var (a, b) = (0, 1)
            for i in p.indices { for j in p.indices where j > i && p[i].distance(to: p[j]) > p[a].distance(to: p[b]) { (a, b) = (i, j) } }
            return p.indices.allSatisfy { distance(p[$0], p[a], p[b]) <= tolerance } ? Array(1...p.count) : nil
        }
        for i in p.indices { for j in p.indices where j > i { for k in p.indices where k > j {
            let (far1, far2, other) = [(i, j, k), (i, k, j), (j, k, i)].max { p[$0.0].distance(to: p[$0.1]) < p[$1.0].distance(to: p[$1.1]) }!
            if distance(p[other], p[far1], p[far2]) <= tolerance { return [i + 1, j + 1, k + 1] }
        } } }
        return nil
    }

    /// Translation and scale that move points to their centroid with mean distance √2 (Hartley's normalisation).
    static func normalisation(_ p: [Point2]) -> Homography {
        let c = p.reduce(Point2(0, 0), +) * (1 / Double(p.count))
        let mean = p.reduce(0) { $0 + $1.distance(to: c) } / Double(p.count)
        let s = mean > 0 ? 2.0.squareRoot() / mean : 1
        return Homography([s, 0, -s * c.x, 0, s, -s * c.y, 0, 0, 1])
    }
}

/// Eigenvalues and eigenvectors (columns of a row-major n×n matrix) of a symmetric matrix, by cyclic Jacobi rotations.
func symmetricEigen(_ matrix: [Double], n: Int) -> (values: [Double], vectors: [Double]) {
    var a = matrix
    var v = [Double](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    for _ in 0..<100 {
        var off = 0.0
        for i in 0..<n { for j in (i + 1)..<n { off += a[i * n + j] * a[i * n + j] } }
        if off < 1e-30 { break }
        for p in 0..<n {
            for q in (p + 1)..<n where abs(a[p * n + q]) > 1e-300 {
                let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {
                    let akp = a[k * n + p], akq = a[k * n + q]
                    a[k * n + p] = c * akp - s * akq
                    a[k * n + q] = s * akp + c * akq
                }
                for k in 0..<n {
                    let apk = a[p * n + k], aqk = a[q * n + k]
                    a[p * n + k] = c * apk - s * aqk
                    a[q * n + k] = s * apk + c * aqk
                }
                for k in 0..<n {
                    let vkp = v[k * n + p], vkq = v[k * n + q]
                    v[k * n + p] = c * vkp - s * vkq
                    v[k * n + q] = s * vkp + c * vkq
                }
            }
        }
    }
    return ((0..<n).map { a[$0 * n + $0] }, v)
}
