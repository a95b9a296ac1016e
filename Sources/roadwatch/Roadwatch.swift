import ArgumentParser

@main
struct Roadwatch: AsyncParsableCommand {

    static let configuration = CommandConfiguration(
        commandName: "roadwatch",
        abstract: "Batch pipeline for traffic-camera enforcement footage.",
        version: RoadwatchVersion.string,
        subcommands: [RunCommand.self, ValidateCommand.self, ReplayCommand.self, CalibrateCommand.self, VerifyCommand.self, RenderCommand.self, KeygenCommand.self, Probe.self, Synth.self, TrackCommand.self, Score.self, Bench.self, MigrateCommand.self, EnqueueCommand.self, WorkerCommand.self, StatusCommand.self, ExportCommand.self, EncodeClip.self]
    )
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
}
