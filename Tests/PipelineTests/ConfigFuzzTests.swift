import Foundation
import SceneSynth
import Testing
@testable import Pipeline

/// Random mutations of the sample pipelines (fixed seeds): reading never crashes, and every failure is a list of
/// errors each with a position inside the file. `ROADWATCH_FUZZ_COUNT=N` runs N mutations per sample instead of 150.
struct ConfigFuzzTests {
    static let replacements = ["", "-", "0", "-1", "1e309", "nan", "[]", "{}", ":", "\"", "'", "[[", "]]", "- ", "  ", "\t", "null", "~", "&a", "*a", "!!str",
                               "99999999999999999999", "0.0000001", "away", "toward", "world:", "image:", "ü", "\u{0}", "#", "|", ">", "?"]

    static func mutate(_ text: String, _ g: inout SceneRandom) -> String {
        var chars = Array(text.unicodeScalars)
        for _ in 0..<(1 + g.below(3)) {
            guard !chars.isEmpty else { break }
            let at = g.below(chars.count)
            switch g.below(5) {
            case 0: chars.remove(at: at)
            case 1: chars.insert(contentsOf: replacements[g.below(replacements.count)].unicodeScalars, at: at)
            case 2:
                // Replace a run of digits or a word.
                var end = at
                while end < chars.count && (CharacterSet.alphanumerics.contains(chars[end]) || chars[end] == ".") { end += 1 }
                chars.replaceSubrange(at..<end, with: replacements[g.below(replacements.count)].unicodeScalars)
            case 3:
                // Swap two lines.
                var lines = String(String.UnicodeScalarView(chars)).components(separatedBy: "\n")
                let a = g.below(lines.count), b = g.below(lines.count)
                lines.swapAt(a, b)
                chars = Array(lines.joined(separator: "\n").unicodeScalars)
            default:
                // Duplicate a line.
                var lines = String(String.UnicodeScalarView(chars)).components(separatedBy: "\n")
                let a = g.below(lines.count)
                lines.insert(lines[a], at: a)
                chars = Array(lines.joined(separator: "\n").unicodeScalars)
            }
        }
        return String(String.UnicodeScalarView(chars))
    }

    @Test("mutated sample pipelines never crash the reader, and every error has a position", arguments: ["sample-junction.yaml", "sample-highway.yaml", "TEMPLATE.yaml"])
    func fuzz(_ file: String) throws {
        let text = try String(contentsOfFile: repositoryRoot + "/Pipelines/" + file, encoding: .utf8)
        let count = ProcessInfo.processInfo.environment["ROADWATCH_FUZZ_COUNT"].flatMap(Int.init) ?? 150
        var g = SceneRandom(seed: file.utf8.reduce(UInt64(7)) { $0 &* 31 &+ UInt64($1) })
        var valid = 0, invalid = 0
        for _ in 0..<count {
            let mutated = Self.mutate(text, &g)
            let lines = mutated.split(separator: "\n", omittingEmptySubsequences: false).count
            do {
                let config = try PipelineConfig.parse(text: mutated, path: "fuzz.yaml")
                _ = config.checkAgainstPicture(width: 1280, height: 720, video: "v.mp4")
                valid += 1
            } catch let errors as ConfigErrors {
                invalid += 1
                #expect(!errors.diagnostics.isEmpty)
                for d in errors.diagnostics {
                    #expect(d.line >= 1 && d.line <= lines + 1 && d.column >= 1, "\(d.headline)")
                    #expect(d.headline.hasPrefix("fuzz.yaml:\(d.line):\(d.column): error: "))
                }
            }
        }
        // Most mutations break the file; some land in comments or keep it valid.
        #expect(invalid > count / 3, "valid \(valid), invalid \(invalid)")
    }
}
