import Foundation
import Pipeline
import Testing

/// Output on a small tmpfs that fills up mid-run: a clear I/O error naming the file, nothing corrupt; once space
/// is freed a resume completes with the same result as a run that never ran short. Needs root (mount); skipped
/// with a note otherwise.
struct DiskFullTests {
    static var canMount: Bool {
        guard getuid() == 0 else { return false }
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-mount-probe-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        let ok = shell("mount -t tmpfs -o size=1m tmpfs '\(probe)'") == 0
        if ok { _ = shell("umount '\(probe)'") }
        return ok
    }

    @discardableResult
    static func shell(_ command: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test("a full disk stops the run with the file and the reason; after space is freed the resume completes")
    func diskFull() throws {
        guard Self.canMount else {
            print("note: DiskFullTests skipped: mounting a tmpfs needs root")
            return
        }
        try withTemporaryDirectory { dir in
            let (footage, pipeline) = try KillResumeTests.piecesAndPipeline(in: dir)
            let reference = dir.appendingPathComponent("reference").path
            #expect(try CLI.run(["run", pipeline, footage.path, "--out", reference, "--jobs", "2", "--plain"]).status == 0)

            let mountPoint = dir.appendingPathComponent("small").path
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            #expect(Self.shell("mount -t tmpfs -o size=1200k tmpfs '\(mountPoint)'") == 0)
            defer { Self.shell("umount '\(mountPoint)'") }
            let out = mountPoint + "/out"
            let full = try CLI.run(["run", pipeline, footage.path, "--out", out, "--jobs", "1", "--plain"])
            #expect(full.status == 5, "status \(full.status): \(full.stderr)")
            #expect(full.stderr.contains("error: \(out)/") && full.stderr.contains("No space left on device"), "\(full.stderr)")
            if FileManager.default.fileExists(atPath: out + "/roadwatch.sqlite") {
                #expect(try Store(path: out + "/roadwatch.sqlite").integrityCheck() == "ok")
            }
            // A read-only output filesystem is refused before any work.
            let readOnly = dir.appendingPathComponent("readonly").path
            try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: true)
            #expect(Self.shell("mount -t tmpfs -o size=1m,ro tmpfs '\(readOnly)'") == 0)
            defer { Self.shell("umount '\(readOnly)'") }
            let refused = try CLI.run(["run", pipeline, footage.path, "--out", readOnly + "/out", "--plain"])
            #expect(refused.status == 5 && refused.stderr.contains("error: \(readOnly)/out: cannot create the output folder"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("done "))

            // Free space (the same filesystem, made larger) and resume.
            #expect(Self.shell("mount -o remount,size=100m '\(mountPoint)'") == 0)
            let resumed = try CLI.run(["run", pipeline, footage.path, "--out", out, "--jobs", "1", "--plain"])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/violations.jsonl")) == Data(contentsOf: URL(fileURLWithPath: reference + "/violations.jsonl")))
            let leftovers = FileManager.default.enumerator(atPath: out)!.compactMap { $0 as? String }
                .filter { ($0 as NSString).lastPathComponent.hasPrefix(".") }
            #expect(leftovers.isEmpty, "\(leftovers)")
        }
    }
}
