import ArgumentParser
import Foundation
import VideoIO

@main
struct Roadwatch: AsyncParsableCommand {

    static let configuration = CommandConfiguration(
        commandName: "roadwatch",
        abstract: "Batch pipeline for traffic-camera enforcement footage.",
        version: RoadwatchVersion.string,
        subcommands: [RunCommand.self, ValidateCommand.self, ReplayCommand.self, CalibrateCommand.self, VerifyCommand.self, RenderCommand.self, KeygenCommand.self, Probe.self, Synth.self, TrackCommand.self, Score.self, Bench.self, MigrateCommand.self, EnqueueCommand.self, WorkerCommand.self, StatusCommand.self, ExportCommand.self, EncodeClip.self]
    )

    /// Checks the CPU before any command runs (the detector is compiled for AVX2 unless built with
    /// ROADWATCH_PORTABLE=1; on a CPU without it the detector would die of an illegal instruction mid-run), then runs
    /// the command as ArgumentParser's own `main` does.
    static func main() async {
        #if ROADWATCH_AVX2
        if !CPUFeatures.avx2 {
            printError("error: this roadwatch was built for CPUs with AVX2 (x86-64 since 2013) and this one has none; rebuild it for any x86-64: make clean && ROADWATCH_PORTABLE=1 make build")
            exit(withError: ExitStatus.unsupportedCPU)
        }
        #endif
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? AsyncParsableCommand { try await asynchronous.run() } else { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}

enum RoadwatchVersion {
    static let string = "0.1.0"
}

/// Exit statuses shared by every subcommand (documented in README.md).
enum ExitStatus {
    /// Some inputs could not be read; the others were handled.
    static let someInputsFailed = ExitCode(3)
    /// A pipeline file is invalid (every error printed with FILE:LINE:COL).
    static let invalidConfig = ExitCode(2)
    /// The output folder or store cannot be written (missing parent, read-only, disk full).
    static let outputFailed = ExitCode(5)
    /// `verify` found a mismatch.
    static let verificationFailed = ExitCode(4)
    /// The fleet's database cannot be reached, refused a query, or its schema is not the version this build knows.
    static let databaseFailed = ExitCode(6)
    /// This build needs AVX2 and the CPU has none (see Package.swift).
    static let unsupportedCPU = ExitCode(7)
}
