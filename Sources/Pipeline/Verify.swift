import Foundation
import TrafficModel

/// The auditor's check of a run folder: the exports against run.json's hashes, every evidence file against its
/// record's SHA-256, every input against its stored SHA-256, and a re-run of sampled inputs with the stored
/// pipeline compared with the records field by field.
public struct Verify {
    /// The finding for a run.json that no longer parses: nothing can be re-run from it.
    public static let unreadableRunSummary = "not a valid run summary (altered or damaged), so the exports cannot be checked against it"

    public struct Finding: Sendable, Equatable {
        /// What was checked (a file, an input).
        public var subject: String
        public var match: Bool
        public var detail: String
    }

    public let runDirectory: String
    public let version: String
    public let clipEncoder: String?
    public init(runDirectory: String, version: String, clipEncoder: String?) {
        self.runDirectory = runDirectory
        self.version = version
        self.clipEncoder = clipEncoder
    }

    func path(_ relative: String) -> String { (runDirectory as NSString).appendingPathComponent(relative) }

    /// Checks the files only (hashes); no decoding.
    public func checkFiles() throws -> [Finding] {
        var findings: [Finding] = []
        let runData = try Data(contentsOf: URL(fileURLWithPath: path("run.json")))
        struct Stored: Decodable { var violations: RunSummary.ViolationTotals }
        // A run.json that no longer parses was altered or damaged: a mismatch to report, not an error to stop on.
        var expectedHashes: [(String, String)] = []
        do {
            let stored = try JSONDecoder().decode(Stored.self, from: runData)
            expectedHashes = [("violations.jsonl", stored.violations.jsonlSha256), ("violations.csv", stored.violations.csvSha256)]
        } catch {
            findings.append(Finding(subject: "run.json", match: false, detail: Self.unreadableRunSummary))
        }
        for (file, expected) in expectedHashes {
            let actual = (FileManager.default.contents(atPath: path(file))).map { EvidenceWriter.sha256(Array($0)) }
            findings.append(Finding(subject: file, match: actual == expected,
                                    detail: actual == nil ? "missing" : actual == expected ? "sha256 as in run.json" : "sha256 \(actual!.prefix(16))… differs from run.json's \(expected.prefix(16))…"))
        }
        let records = try Replay.readRecords(path("violations.jsonl"))
        for r in records {
            for e in r.evidence {
                guard let data = FileManager.default.contents(atPath: path(e.path)) else {
                    findings.append(Finding(subject: e.path, match: false, detail: "missing (record \(r.id))"))
                    continue
                }
                let actual = EvidenceWriter.sha256(Array(data))
                findings.append(Finding(subject: e.path, match: actual == e.sha256,
                                        detail: actual == e.sha256 ? "sha256 as in record \(r.id)" : "sha256 \(actual.prefix(16))… differs from record \(r.id)'s \(e.sha256.prefix(16))…"))
            }
        }
        return findings
    }

    /// Whether an input's upstream boxes are gone or differ from those its records were made from (their hash is
    /// part of its key, `InputProcessor.inputKey`); nil where they are the same.
    static func boxesChanged(_ file: String, input: InputRow) -> String? {
        guard let now = try? fileSHA256(file) else { return "upstream boxes missing (detection.external_file)" }
        let key = InputProcessor.inputKey(sha256: input.sha256, pipelineSha256: input.pipelineSha256, detectionsSha256: now.sha256)
        return key == input.key ? nil : "upstream boxes changed: sha256 \(now.sha256.prefix(16))… is not that of the boxes the run used"
    }

    /// Re-hashes the inputs and re-runs `sample` of them (all when nil), chosen by their hashes so the same run
    /// folder always gives the same sample.
    public func rerun(sample: Int?) throws -> [Finding] {
        let config = try Replay.storedPipeline(runDirectory: runDirectory)
        let store = try Store(path: path("roadwatch.sqlite"))
        let inputs = try store.inputs().filter { $0.status == "done" && $0.pipelineSha256 == config.sha256 }
        let records = try Replay.readRecords(path("violations.jsonl"))
        var findings: [Finding] = []
        var present: [InputRow] = []
        for input in inputs {
            guard FileManager.default.fileExists(atPath: input.path) else {
                findings.append(Finding(subject: input.path, match: false, detail: "input missing"))
                continue
            }
            let now = try fileSHA256(input.path)
            if now.sha256 != input.sha256 {
                findings.append(Finding(subject: input.path, match: false, detail: "input changed: sha256 \(now.sha256.prefix(16))… not \(input.sha256.prefix(16))…"))
            } else if let boxes = config.detection.externalFile(for: input.path), let problem = Self.boxesChanged(boxes, input: input) {
                findings.append(Finding(subject: boxes, match: false, detail: problem))
            } else {
                present.append(input)
            }
        }
        let chosen = Array(present.sorted { $0.sha256 < $1.sha256 }.prefix(sample ?? present.count))
        guard !chosen.isEmpty else { return findings }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-verify-\(getpid())-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        // Each input as it was run: with evidence where its records name some (a run with `--no-evidence` made records
        // that name none, and re-run with evidence every one of them differed).
        let withEvidence = Set(records.filter { !$0.evidence.isEmpty }.map(\.input.sha256))
        var again: [ViolationRecord] = []
        for evidence in [true, false] {
            let group = chosen.filter { withEvidence.contains($0.sha256) == evidence }
            guard !group.isEmpty else { continue }
            let out = (scratch as NSString).appendingPathComponent(evidence ? "with-evidence" : "without-evidence")
            let runner = BatchRunner(config: config, options: RunOptions(jobs: 1, threads: 2, evidence: evidence), outputDirectory: out,
                                     version: version, clipEncoder: clipEncoder)
            _ = try runner.run(inputs: group.map(\.path))
            again += try Replay.readRecords((out as NSString).appendingPathComponent("violations.jsonl"))
        }
        let droppedAsDuplicates = Set(try store.violations(pipelineSha256: config.sha256).filter { $0.duplicateOf != nil }.map(\.id))
        for input in chosen {
            // Records of this input; cross-input duplicates stay out of both sides' comparison.
            let mine = records.filter { $0.input.sha256 == input.sha256 }
            let theirs = Dictionary(again.filter { $0.input.sha256 == input.sha256 }.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            var problems: [String] = []
            for r in mine {
                guard let other = theirs[r.id] else { problems.append("record \(r.id) not reproduced"); continue }
                let fields = Replay.differingFields(r, other)
                if !fields.isEmpty { problems.append("record \(r.id): \(fields.joined(separator: ", ")) differ") }
            }
            let ids = Set(mine.map(\.id))
            for id in theirs.keys.sorted() where !ids.contains(id) {
                // A re-run of one input alone cannot see another input's overlap: a record the run dropped as a
                // duplicate of another input's is not a mismatch.
                if !droppedAsDuplicates.contains(id) { problems.append("record \(id) appears on re-run only") }
            }
            findings.append(Finding(subject: input.path, match: problems.isEmpty,
                                    detail: problems.isEmpty ? "\(mine.count) record\(mine.count == 1 ? "" : "s") reproduced field by field" : problems.joined(separator: "; ")))
        }
        return findings
    }
}
