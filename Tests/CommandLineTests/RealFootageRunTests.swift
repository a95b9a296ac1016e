import Foundation
import Testing

/// The whole job on other people's footage, where no speed was measured: speeds must be plausible for the road and
/// every vehicle found once (../shared/footage/README.md).
@Suite(.enabled(if: footageAvailable, "../shared/footage is absent: the real-footage run is skipped"))
struct RealFootageRunTests {
    @Test("the real motorway clip: every car through the zone measured once, at a plausible speed")
    func motorwaySpeeds() throws {
        try withTemporaryDirectory { dir in
            // Its benchmark pipeline, with the limit lowered so that every measured car becomes a record. By eye, 11
            // cars drive through the speed zone toward the camera in the 11 s, in four lanes (none on the hard
            // shoulder); the lane polygon holds the whole carriageway.
            let text = try String(contentsOfFile: packageRoot.appendingPathComponent("Benchmarks/pipelines/nl-motorway.yaml").path, encoding: .utf8)
                .replacingOccurrences(of: "limit_kmh: 100", with: "limit_kmh: 5")
                .replacingOccurrences(of: "../../../shared", with: footageRoot.deletingLastPathComponent().path)
            #expect(text.contains("limit_kmh: 5"))
            let pipeline = dir.appendingPathComponent("motorway.yaml").path
            try text.write(toFile: pipeline, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out")
            let result = try CLI.run(["run", pipeline, "--out", out.path, "--no-evidence", "--plain"])
            #expect(result.status == 0, "\(result.stderr)")
            struct Record: Decodable { var pts_s: Double; var speed_kmh: Double; var speed_uncertainty_kmh: Double; var tracks: [Int]; var box: [Double] }
            let records = try String(contentsOf: out.appendingPathComponent("violations.jsonl"), encoding: .utf8)
                .split(separator: "\n").map { try JSONDecoder().decode(Record.self, from: Data($0.utf8)) }
            let summary = records.map { String(format: "%.2f s %.1f ± %.1f km/h tracks %@", $0.pts_s, $0.speed_kmh, $0.speed_uncertainty_kmh, "\($0.tracks)") }
            print("motorway records:\n" + summary.joined(separator: "\n"))
            // Measured 9 of the 11 (2026-11-26): the red car changing lanes and a dark car in the right lane are lost
            // at the bottom of the picture. Before the dedup looked across the road and at the time between, the nine
            // were three records.
            #expect(records.count >= 8 && records.count <= 11, "\(summary)")
            // Dutch motorway traffic, measured 87–96 km/h; with a calibration by eye, each within its stated uncertainty
            // of a plausible speed and that uncertainty modest.
            #expect(records.allSatisfy { $0.speed_kmh > 70 && $0.speed_kmh < 130 && $0.speed_uncertainty_kmh < 8 }, "\(summary)")
            // Found once: no two records at nearly the same time whose boxes overlap.
            for (i, a) in records.enumerated() {
                for b in records[(i + 1)...] where abs(a.pts_s - b.pts_s) < 0.5 {
                    let overlap = min(a.box[0] + a.box[2], b.box[0] + b.box[2]) - max(a.box[0], b.box[0])
                    #expect(overlap <= 0, "records at \(a.pts_s) and \(b.pts_s) s overlap: one car twice?")
                }
            }
            #expect(Set(records.flatMap(\.tracks)).count == records.flatMap(\.tracks).count, "a track in two records")
        }
    }
}
