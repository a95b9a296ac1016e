import Foundation
import Testing
@testable import TrafficModel

struct ImpliedCameraTests {
    /// A calibration of five ground points as `camera` sees them (the sample pipelines' kind), rounded to 0.1 px
    /// as an engineer marks them.
    func calibration(_ camera: PinholeCamera, rounding: Double = 0.1) throws -> Calibration {
        let ground = [Point2(0, 15), Point2(14, 15), Point2(0, 40), Point2(14, 40), Point2(7, 60)]
        return try Calibration(points: ground.map { g in
            let q = camera.project(Point3(g.x, g.y, 0))!
            return CalibrationPoint(image: Point2((q.x / rounding).rounded() * rounding, (q.y / rounding).rounded() * rounding), world: g)
        })
    }

    @Test("the sample cameras are recovered from their ground calibration: focal length, height, tilt, and points above the road",
          arguments: [
              // The junction samples' camera (7.5 m up a pole, 13° down, turned 4°), the motorway's (9 m, 12°), one rolled.
              PinholeCamera(focalPixels: 1000, imageWidth: 1280, imageHeight: 720, position: Point3(12.5, 0, 7.5), tiltDegrees: 13, panDegrees: -4),
              PinholeCamera(focalPixels: 1500, imageWidth: 1920, imageHeight: 1080, position: Point3(9, 0, 9), tiltDegrees: 12),
              PinholeCamera(focalPixels: 1200, imageWidth: 1920, imageHeight: 1080, position: Point3(-3, -5, 12), tiltDegrees: 20, panDegrees: 8, rollDegrees: 2),
          ])
    func recovered(_ camera: PinholeCamera) throws {
        let implied = try #require(ImpliedCamera(calibration: try calibration(camera), imageWidth: camera.imageWidth, imageHeight: camera.imageHeight))
        #expect(abs(implied.focalPixels - camera.focalPixels) < 0.01 * camera.focalPixels, "focal \(implied.focalPixels)")
        #expect(abs(implied.height - camera.position.z) < 0.1, "height \(implied.height)")
        #expect(abs(implied.tiltDegrees - camera.tiltDegrees) < 0.5, "tilt \(implied.tiltDegrees)")
        #expect(implied.groundPosition.distance(to: Point2(camera.position.x, camera.position.y)) < 0.3, "\(implied.groundPosition)")
        // A car's roof corners and a 4 m truck's, across the calibrated stretch, within a pixel of the true camera's.
        for p in [Point3(3, 20, 1.5), Point3(10, 35, 1.5), Point3(7, 55, 4)] {
            let truth = try #require(camera.project(p)), q = try #require(implied.project(p))
            #expect(q.distance(to: truth) < 1, "\(p): \(q) against \(truth)")
        }
    }

    @Test("a car-sized box stands where the true camera puts it; a calibration of no single plane implies no camera")
    func vehicleBoxAndFailure() throws {
        let camera = PinholeCamera(focalPixels: 1000, imageWidth: 1280, imageHeight: 720, position: Point3(12.5, 0, 7.5), tiltDegrees: 13, panDegrees: -4)
        let implied = try #require(ImpliedCamera(calibration: try calibration(camera), imageWidth: 1280, imageHeight: 720))
        let car = try #require(implied.vehicleBox(rear: Point2(8.75, 30), heading: Point2(0, 1), length: 4.5, width: 1.8, height: 1.5))
        var corners: [Point2] = []
        for l in [30.0, 34.5] { for x in [7.85, 9.65] { for z in [0.0, 1.5] { corners.append(camera.project(Point3(x, l, z))!) } } }
        let truth = try #require(Box(bounding: corners))
        #expect(car.box.iou(truth) > 0.97, "\(car.box) against \(truth)")
        // Image points of a scene that is not one plane seen by a pinhole: no focal length makes r1 ⟂ r2 with equal lengths.
        let skewed = try Calibration(points: [
            CalibrationPoint(image: Point2(100, 700), world: Point2(0, 0)), CalibrationPoint(image: Point2(1200, 700), world: Point2(10, 0)),
            CalibrationPoint(image: Point2(300, 100), world: Point2(0, 10)), CalibrationPoint(image: Point2(1250, 300), world: Point2(10, 10)),
        ])
        #expect(ImpliedCamera(calibration: skewed, imageWidth: 1280, imageHeight: 720) == nil)
    }
}
