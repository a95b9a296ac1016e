import Foundation
import Rules
import Tracking
import TrafficModel
import VideoIO

/// One input carried from footage to records, ready to commit to a store: what both a local `run` (SQLite) and a
/// fleet worker (PostgreSQL) commit in one transaction.
public struct ProcessedInput: Sendable {
    public struct Record: Sendable {
        public var record: ViolationRecord
        /// Seconds since 1970 of the event by the footage's clock, when the clock is known (cross-input dedup).
        public var absolute: Double?
        /// The record's JSON line, exactly as exported.
        public var json: String
    }
    public var outcome: InputOutcome
    public var row: InputRow
    public var statsJSON: String
    public var records: [Record]
    /// The log line of a finished input ("done PATH: N frames in S s (F fps), K violations").
    public var logLine: String
}

/// The work on one input, the same wherever it runs: the stage runner's analysis, the rules, the per-input track and
/// signal files, the records with their ids, and the evidence, all written under `outputDirectory` (a run folder, or
/// a fleet's shared evidence root). Commits nothing: the caller does, in one transaction.
public struct InputProcessor: Sendable {
    public let config: PipelineConfig
    public let runner: StageRunner
    public let outputDirectory: String
    public let version: String
    public let evidence: Bool

    public init(config: PipelineConfig, runner: StageRunner, outputDirectory: String, version: String, evidence: Bool) {
        self.config = config
        self.runner = runner
        self.outputDirectory = outputDirectory
        self.version = version
        self.evidence = evidence
    }

    /// Analyses `path` (already hashed) and builds its records and evidence. Errors are the input's (bad footage) or
    /// the output's (`PipelineError.output`, `VideoIOError` of kind `.write`).
    /// `external`: the input's upstream boxes (`StageRunner.externalDetections(for:)`), read once by the caller,
    /// whose hash is part of `key`.
    public func process(path: String, sha256: String, size: Int64, key: String, runID: Int64, started: Date = Date(),
                        external: UpstreamBoxes? = nil,
                        progress: (Int, Int?) -> Void = { _, _ in }) throws -> ProcessedInput {
        var outcome = InputOutcome(path: path, sha256: sha256, size: size, status: "failed", error: nil, frames: 0, durationS: 0, seconds: 0,
                                   violations: 0, startTime: nil, stages: [], rules: nil, warnings: [])
        let analysis = try runner.analyse(path: path, external: external, progress: progress)
        outcome.frames = analysis.frames
        outcome.durationS = rounded(max(0, analysis.lastPTS - analysis.firstPTS), 3)
        outcome.warnings = analysis.warnings
        outcome.detectionsSha256 = analysis.detectionsSha256
        let builder = RecordBuilder(config: config, version: version)
        let clockStart = builder.footageStart(path: path, info: analysis.info)
        outcome.startTime = clockStart.map { RecordBuilder.formatTime($0, offset: config.camera.utcOffsetSeconds) }

        let rulesStart = CPUClock.thread()
        let (events, ruleStats) = runner.applyRules(analysis)
        let rulesCPU = CPUClock.thread() - rulesStart
        outcome.rules = ruleStats
        var outputStart = CPUClock.thread()
        try writeAnalysis(analysis, stem: Self.fileStem(path, sha256: sha256))
        var outputCPU = CPUClock.thread() - outputStart

        // Records: ids from camera, rule, input and event; then the evidence they name.
        var drafts = events.map { builder.record($0, inputPath: path, inputSha256: sha256, detectionsSha256: analysis.detectionsSha256, clockStart: clockStart) }
        let requests = zip(events, drafts).map { EvidenceRequest(recordID: $1.id, event: $0, caption: RecordBuilder.caption($1)) }
        var evidenceCount = 0
        let evidenceStart = (process: CPUClock.process(), children: CPUClock.children())
        if evidence {
            // The analysis's freed decoder frames and the track file's encoding sit in malloc's free lists; hand them
            // back before the evidence decoders allocate theirs, so the peak does not grow with the input's length.
            #if os(Linux)
            _ = mallocTrim(0)
            #endif
            let files = try EvidenceWriter(config: config, runner: runner, runDirectory: outputDirectory)
                .write(input: path, info: analysis.info, requests: requests, tracks: analysis.tracks)
            for k in drafts.indices { drafts[k].evidence = files[drafts[k].id] ?? []; evidenceCount += drafts[k].evidence.count }
        }
        let evidenceCPU = CPUClock.process() - evidenceStart.process + CPUClock.children() - evidenceStart.children
        outcome.stages = analysis.stages + [
            StageCount(stage: "rules", input: ruleStats.tracksIn, output: events.count, unit: "tracks → violations",
                       note: "\(ruleStats.fragmentsJoined) fragments joined, \(ruleStats.duplicatesMerged) duplicates merged"),
            StageCount(stage: "evidence", input: events.count, output: evidenceCount, unit: "violations → files", note: nil),
        ]
        outputStart = CPUClock.thread()
        let records = try drafts.map { r in
            ProcessedInput.Record(record: r, absolute: clockStart.map { $0.timeIntervalSince1970 + r.ptsS }, json: try r.jsonLine())
        }
        outputCPU += CPUClock.thread() - outputStart
        let a = analysis.cpu
        outcome.cpu = StageCPU(frames: analysis.frames, decodeMs: ms(max(0, a.process - a.detection - a.tracking - a.signal)),
                               detectionMs: ms(a.detection), trackingMs: ms(a.tracking), signalMs: ms(a.signal), rulesMs: ms(rulesCPU),
                               evidenceMs: ms(evidenceCPU), outputMs: ms(outputCPU))
        outcome.status = "done"
        outcome.violations = records.count
        outcome.seconds = Date().timeIntervalSince(started)
        let row = InputRow(key: key, path: path, sha256: sha256, size: size, pipelineSha256: config.sha256, status: "done",
                           error: nil, frames: analysis.frames, durationS: outcome.durationS, startTime: outcome.startTime, runID: runID)
        let fps = Double(analysis.frames) / max(outcome.seconds, 1e-3)
        let line = String(format: "done %@: %d frames in %.1f s (%.0f fps), %d violation%@", path, analysis.frames, outcome.seconds, fps,
                          records.count, records.count == 1 ? "" : "s")
        return ProcessedInput(outcome: outcome, row: row, statsJSON: try Self.statsJSON(outcome), records: records, logLine: line)
    }

    private func ms(_ seconds: Double) -> Double { (seconds * 1e5).rounded() / 100 }

    // MARK: - Names

    /// An input is done once per (file content, pipeline) and, with an upstream detector, per its boxes: new boxes
    /// for the same footage are new work, not a repeat.
    public static func inputKey(sha256: String, pipelineSha256: String, detectionsSha256: String? = nil) -> String {
        "\(sha256.prefix(32))-\(pipelineSha256.prefix(16))" + (detectionsSha256.map { "-\($0.prefix(16))" } ?? "")
    }

    /// Per-input file names: the file's name made safe (letters, digits, . _ -) and 12 digits of its hash, so
    /// no input name can place a file outside the run folder or collide with another input.
    public static func fileStem(_ path: String, sha256: String) -> String {
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let safe = String(base.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) ? Character($0) : "_" }).prefix(60)
        return "\(safe.isEmpty ? "input" : String(safe))-\(sha256.prefix(12))"
    }

    /// An input's error as one line that names the file.
    public static func describe(_ error: Error, path: String) -> String {
        let text = "\(error)"
        return text.hasPrefix(path) ? text : "\(path): \(text)"
    }

    public static func statsJSON(_ o: InputOutcome) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(o), as: UTF8.self)
    }

    // MARK: - Files

    /// The folders an output root holds (evidence, per-input tracks and signal timelines).
    public static func makeFolders(in root: String) {
        for sub in ["evidence", "tracks", "signal"] {
            try? FileManager.default.createDirectory(atPath: (root as NSString).appendingPathComponent(sub), withIntermediateDirectories: true)
        }
    }

    private func writeAnalysis(_ analysis: InputAnalysis, stem: String) throws {
        let root = outputDirectory as NSString
        try Self.writeAnalysisJSON(analysis, to: root.appendingPathComponent("tracks/\(stem).json"))
        try Self.writeAtomically(Data(MOTFile.text(analysis.tracks, calibration: config.calibration).utf8), to: root.appendingPathComponent("tracks/\(stem).mot.csv"))
        if let t = analysis.timeline {
            try Self.writeAtomically(Data(t.csv.utf8),
                                     to: root.appendingPathComponent("signal/\(stem).csv"))
        }
    }

    /// The analysis as JSON (sorted keys), the bytes `JSONEncoder` gives for it whole, written a track at a time: whole,
    /// the encoder's tree of a ten-minute 1080p clip's tracks (an 11 MB file) raised the run's peak RSS from 180 to
    /// 251 MiB at its very end, and a longer file raised it further (BENCHMARKS.md). Into a hidden temporary file,
    /// renamed into place, as `writeAtomically`.
    static func writeAnalysisJSON(_ analysis: InputAnalysis, to target: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var shell = analysis
        shell.tracks = []
        let head = try encoder.encode(shell)
        // The one empty `tracks` key (a quote inside a string is escaped): the top-level one. Should a nested value
        // ever have one too, the analysis is encoded whole, as before.
        let key = Data("\"tracks\":[]".utf8)
        guard let slot = head.range(of: key), head.range(of: key, in: slot.upperBound..<head.endIndex) == nil else {
            return try writeAtomically(try encoder.encode(analysis), to: target)
        }
        let directory = (target as NSString).deletingLastPathComponent, name = (target as NSString).lastPathComponent
        let temporary = (directory as NSString).appendingPathComponent(".\(name).\(getpid()).partial")
        func systemError() -> POSIXError { POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        do {
            guard FileManager.default.createFile(atPath: temporary, contents: nil), let file = FileHandle(forWritingAtPath: temporary) else {
                throw systemError()
            }
            do {  // closed before the rename
                defer { try? file.close() }
                var buffer = Data(head[..<slot.lowerBound])
                buffer.append(contentsOf: Array("\"tracks\":[".utf8))
                for (n, track) in analysis.tracks.enumerated() {
                    if n > 0 { buffer.append(UInt8(ascii: ",")) }
                    buffer.append(try encoder.encode(track))
                    if buffer.count >= 1 << 20 {
                        try file.write(contentsOf: buffer)
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
                buffer.append(UInt8(ascii: "]"))
                buffer.append(head[slot.upperBound...])
                try file.write(contentsOf: buffer)
            }
            guard rename(temporary, target) == 0 else { throw systemError() }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw PipelineError.output(target, "cannot write: \(reason(error))")
        }
    }

    /// Writes under a hidden temporary name and renames into place: a reader never sees half a file.
    public static func writeAtomically(_ data: Data, to target: String) throws {
        do { try data.write(to: URL(fileURLWithPath: target), options: .atomic) } catch {
            throw PipelineError.output(target, "cannot write: \(reason(error))")
        }
    }

    /// The operating system's words for a failed write ("No space left on device"), as the store and the video
    /// writer give them, where Foundation's error carries them; else Foundation's own description (which says
    /// "There isn't enough space" for a full disk).
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain == NSCocoaErrorDomain && ns.code == CocoaError.fileWriteOutOfSpace.rawValue { return String(cString: strerror(ENOSPC)) }
        return ns.localizedDescription
    }
}

#if os(Linux)
/// glibc's malloc_trim (its header is not in Swift's Glibc module): returns free heap pages to the system.
@_silgen_name("malloc_trim") private func mallocTrim(_ pad: Int) -> Int32
#endif
