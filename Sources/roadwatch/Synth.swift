import ArgumentParser
import Foundation
import SceneSynth

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a roadside scene with exact ground truth: NAME.mp4 and NAME.truth.json.",
        discussion: "The scene file's keys are documented in docs/scene-format.md, the truth file in docs/truth-format.md."
    )

    @Argument(help: "Scene files (YAML).", completion: .file(extensions: ["yaml", "yml"]))
    var scenes: [String]

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Render only the first N frames (for a quick look).")
    var frames: Int?

    @Option(help: "Also write a JPEG still every this many seconds.")
    var stills: Double?

    func run() throws {
        var failed = 0
        for path in scenes {
            do {
                let spec = try SceneSynthesizer.load(path)
                let interactive = isatty(STDERR_FILENO) != 0
                let result = try SceneSynthesizer.render(spec, into: out, frameLimit: frames, stillsEverySeconds: stills) { done, total in
                    if interactive, done % 25 == 0 || done == total {
                        FileHandle.standardError.write(Data("\r\(spec.name): frame \(done)/\(total)".utf8))
                    }
                }
                if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
                print(String(format: "%@: %d frames in %.1f s -> %@, %@", spec.name, result.frames, result.seconds, result.video, result.truth))
            } catch {
                failed += 1
                printError("error: \(error)")
            }
        }
        if failed > 0 { throw ExitStatus.someInputsFailed }
    }
}
