import Foundation
import Testing
@testable import Pipeline

/// The per-input analysis file (tracks/STEM.json) is written a track at a time, so that a long file's tracks do not
/// have to be encoded in memory all at once; auditors and `roadwatch rules` read the same bytes as before.
struct AnalysisFileTests {
    @Test("the analysis of a sample, written a track at a time, is the bytes JSONEncoder gives for it whole; a failed write names the file")
    func streamedIsWhole() throws {
        let config = try PipelineConfig.load(path: repositoryRoot + "/Pipelines/sample-junction.yaml")
        let analysis = try StageRunner(config: config, decoderThreads: 2, clipEncoder: nil)
            .analyse(path: repositoryRoot + "/SampleVideo/junction-day.mp4")
        #expect(analysis.tracks.count >= 10, "\(analysis.tracks.count) tracks")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let whole = try encoder.encode(analysis)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-analysis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("junction-day.json").path
        try InputProcessor.writeAnalysisJSON(analysis, to: target)
        let written = try Data(contentsOf: URL(fileURLWithPath: target))
        #expect(written == whole, "\(written.count) bytes written, \(whole.count) whole")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["junction-day.json"])
        let read = try JSONDecoder().decode(InputAnalysis.self, from: written)
        #expect(read.tracks.map(\.id) == analysis.tracks.map(\.id))
        #expect(read.tracks.map(\.points.count) == analysis.tracks.map(\.points.count))

        // A file that cannot be written: the error names it, and nothing is left behind.
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-missing-\(UUID().uuidString)")
        let nowhere = missing.appendingPathComponent("a.json").path
        do {
            try InputProcessor.writeAnalysisJSON(analysis, to: nowhere)
            Issue.record("no error")
        } catch let error as PipelineError {
            #expect("\(error)".contains(nowhere) && "\(error)".contains("cannot write: "), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: missing.path))
    }
}
