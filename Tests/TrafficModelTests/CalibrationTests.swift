import Foundation
import Testing
import TrafficModel

struct CalibrationTests {
    let camera = PinholeCamera(focalPixels: 1500, imageWidth: 1920, imageHeight: 1080, position: Point3(9, 0, 9), tiltDegrees: 12, panDegrees: 2)

    func points(_ ground: [(Double, Double)], noise: Double = 0, seed: UInt64 = 1) -> [CalibrationPoint] {
        var state = seed
        func jitter() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) / Double(1 << 53) - 0.5) * 2 * noise
        }
        return ground.map { g in
            let q = camera.project(Point3(g.0, g.1, 0))!
            return CalibrationPoint(image: Point2(q.x + jitter(), q.y + jitter()), world: Point2(g.0, g.1))
        }
    }

    @Test("four exact points give the camera's mapping exactly")
    func exact() throws {
        let c = try Calibration(points: points([(0, 25), (18, 25), (0, 65), (18, 65)]))
        #expect(c.imageErrors.allSatisfy { $0 < 1e-6 } && c.worldErrors.allSatisfy { $0 < 1e-6 })
        for g in [Point2(9, 40), Point2(3.6, 100), Point2(14, 15)] {
            let q = camera.project(Point3(g.x, g.y, 0))!
            #expect(try #require(c.world(q)).distance(to: g) < 1e-6)
            #expect(try #require(c.image(g)).distance(to: q) < 1e-6)
        }
    }

    @Test("eight points with half a pixel of error: least squares, small residuals, metres where they should be")
    func leastSquares() throws {
        let ground = [(0.0, 25.0), (9, 25), (18, 25), (0, 45), (18, 45), (0, 65), (9, 65), (18, 65)]
        let c = try Calibration(points: points(ground, noise: 0.5))
        #expect(c.imageErrors.max()! < 1.0, "\(c.imageErrors)")
        let q = camera.project(Point3(7.2, 50, 0))!
        #expect(try #require(c.world(q)).distance(to: Point2(7.2, 50)) < 0.1)
    }

    @Test("the truth's calibration points of every sample give its stop line and lanes to a hundredth of a pixel")
    func samples() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["junction-day", "junction-night", "highway-day"] {
            let data = try Data(contentsOf: root.appendingPathComponent("SampleVideo/\(name).truth.json"))
            struct Truth: Decodable {
                struct Point: Decodable { var image: Point2; var world: Point2 }
                struct Lane: Decodable { var image: Polygon; var world: Polygon }
                var calibration: [Point]
                var lanes: [Lane]
            }
            let truth = try JSONDecoder().decode(Truth.self, from: data)
            let c = try Calibration(points: truth.calibration.map { CalibrationPoint(image: $0.image, world: $0.world) })
            #expect(c.imageErrors.max()! < 0.01, "\(name): \(c.imageErrors)")
            for lane in truth.lanes {
                // Corners in the picture; the near corners lie far outside it, where the truth's 0.001 px
                // rounding of the calibration points is magnified by extrapolation.
                for (w, i) in zip(lane.world.points, lane.image.points) where i.x >= 0 && i.y >= 0 && i.x < 1920 && i.y < 1080 {
                    #expect(try #require(c.image(w)).distance(to: i) < 0.05, "\(name): \(w) -> \(c.image(w)!), truth \(i)")
                }
            }
        }
    }

    @Test("degenerate points are refused, naming them", arguments: [
        ("three points", [(0.0, 25.0), (18, 25), (0, 65)], "a calibration needs at least 4 points, not 3", [1, 2, 3]),
        ("a repeated point", [(0, 25), (18, 25), (0, 25), (18, 65)], "points 1 and 3 are the same", [1, 3]),
        ("all on one line", [(0, 25), (0, 35), (0, 45), (0, 65), (0, 80)], "lie on one line", [1, 2, 3, 4, 5]),
        ("three of four on one line", [(0, 25), (9, 25), (18, 25), (0, 65)], "points 1, 2 and 3 lie on one line; with four points no three may", [1, 2, 3]),
    ])
    func degenerate(_ c: (String, [(Double, Double)], String, [Int])) {
        do {
            _ = try Calibration(points: points(c.1))
            Issue.record("\(c.0): accepted")
        } catch let error as CalibrationError {
            #expect(error.description.contains(c.2), "\(c.0): \(error)")
            #expect(error.points == c.3, "\(c.0): \(error.points)")
        } catch {
            Issue.record("\(c.0): \(error)")
        }
    }

    @Test("metres per pixel grow with distance and agree with the camera")
    func localScale() throws {
        let c = try Calibration(points: points([(0, 25), (18, 25), (0, 65), (18, 65)]))
        let near = camera.project(Point3(9, 25, 0))!, far = camera.project(Point3(9, 65, 0))!
        let a = try #require(c.metresPerPixel(at: near)), b = try #require(c.metresPerPixel(at: far))
        #expect(b.y > a.y * 3 && b.x > a.x * 2)
        // One pixel down the image at the far line moves the ground point by the camera's own amount.
        let g1 = camera.groundPoint(atImage: Point2(far.x, far.y - 0.5))!, g2 = camera.groundPoint(atImage: Point2(far.x, far.y + 0.5))!
        #expect(abs(b.y - g1.distance(to: g2)) < 1e-6)
    }
}

struct GroundPointTests {
    let camera = PinholeCamera(focalPixels: 1500, imageWidth: 1920, imageHeight: 1080, position: Point3(9, 0, 9), tiltDegrees: 12, panDegrees: 2)

    @Test("groundPoint: the road's points as world() gives them; nothing at or above the horizon or far beyond the calibration")
    func horizon() throws {
        let c = try Calibration(points: [(0, 25), (18, 25), (0, 65), (18, 65)].map { g in
            CalibrationPoint(image: camera.project(Point3(g.0, g.1, 0))!, world: Point2(g.0, g.1))
        })
        for g in [Point2(9, 10), Point2(3.6, 100), Point2(14, 300)] {
            let q = camera.project(Point3(g.x, g.y, 0))!
            #expect(try #require(c.groundPoint(q)).distance(to: g) < 1e-6)
        }
        // The horizon lies f·tan(12°) ≈ 319 px above the picture's centre: y ≈ 221.
        #expect(c.groundPoint(Point2(960, 100)) == nil)
        #expect(c.world(Point2(960, 100)) != nil, "the plain mapping gives a point behind the camera")
        // Just under the horizon the road is kilometres away: beyond five times the farthest point's depth (65 m).
        let far = camera.project(Point3(9, 2000, 0))!
        #expect(c.groundPoint(far) == nil)
    }
}
