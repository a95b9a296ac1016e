import Foundation
import Testing

struct SynthCommandTests {
    static let scene = """
        name: cli-scene
        seed: 9
        video: {width: 320, height: 180, fps: 25, duration_s: 2, bitrate_kbps: 800, start_time: "2026-05-01T06:00:00+02:00"}
        camera: {height_m: 7, tilt_deg: 13, focal_px: 260, x_m: 5}
        road: {lanes: [away, away], start_y_m: -20, length_m: 200, stop_line_y_m: 35}
        signal: {head_x: 250, head_y: 20, lamp_radius_px: 3, green_s: 1, amber_s: 1, red_s: 2}
        vehicles:
          - {type: car, lane: 1, speed_kmh: 50, enter_s: -1}
        """

    @Test("synth writes the video and its truth, and two runs give the same bytes")
    func synthTwice() throws {
        try withTemporaryDirectory { dir in
            let scenePath = dir.appendingPathComponent("cli-scene.yaml").path
            try Self.scene.write(toFile: scenePath, atomically: true, encoding: .utf8)
            var files: [Data] = []
            for run in ["a", "b"] {
                let out = dir.appendingPathComponent(run).path
                let result = try CLI.run(["synth", scenePath, "--out", out])
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout.contains("cli-scene: 50 frames"))
                files.append(try Data(contentsOf: URL(fileURLWithPath: out + "/cli-scene.mp4")))
                files.append(try Data(contentsOf: URL(fileURLWithPath: out + "/cli-scene.truth.json")))
            }
            #expect(files[0] == files[2], "the video differs between two runs")
            #expect(files[1] == files[3], "the truth differs between two runs")
            let probe = try CLI.run(["probe", "--json", dir.appendingPathComponent("a/cli-scene.mp4").path])
            #expect(probe.stdout.contains("\"creationTime\" : \"2026-05-01T04:00:00Z\""), "\(probe.stdout)")
            #expect(probe.stdout.contains("\"frameCount\" : 50"))
        }
    }

    @Test("a bad scene names the file and the problem; the status is 3")
    func badScene() throws {
        try withTemporaryDirectory { dir in
            let scenePath = dir.appendingPathComponent("bad.yaml").path
            try Self.scene.replacingOccurrences(of: "tilt_deg: 13", with: "tilt_deg: 95").write(toFile: scenePath, atomically: true, encoding: .utf8)
            let result = try CLI.run(["synth", scenePath, "--out", dir.path])
            #expect(result.status == 3)
            #expect(result.stderr.contains("error: \(scenePath): camera.tilt_deg: must look down, 1...89 degrees"), "\(result.stderr)")
        }
    }
}
