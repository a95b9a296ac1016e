import Foundation
import SceneSynth
import Rules
import Testing
import TrafficModel
@testable import Pipeline

/// Random mutations of the sample pipelines (fixed seeds): reading never crashes, and every failure is a list of
/// errors each with a position inside the file. `ROADWATCH_FUZZ_COUNT=N` runs N mutations per sample instead of 150.
struct ConfigFuzzTests {
    /// Two vehicles driving up a 1280×720 picture, one fast, one stopping, and a signal that cycles.
    static let probeTracks: [Track] = (0..<2).map { k in
        Track(id: k + 1, points: (0..<150).map { i in
            let y = 700 - Double(i) * (k == 0 ? 4 : 2) * (k == 1 && i > 80 ? 0 : 1)
            return TrackPoint(time: FrameTime(index: i, pts: Double(i) / 25), box: Box(x: 500 + Double(k) * 150, y: y - 60, width: 80, height: 60), coasted: false)
        })
    }
    static let probeTimeline = PhaseTimeline([PhaseInterval(phase: .green, start: 0, end: 2), PhaseInterval(phase: .amber, start: 2, end: 3),
                                              PhaseInterval(phase: .red, start: 3, end: 10)])

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
                // What `run` does with a valid file: the rules over tracks (a vehicle up the picture through
                // every line), which must not crash whatever the geometry.
                _ = RuleEngine(rules: config.ruleSet(pictureWidth: 1280)).evaluate(tracks: Self.probeTracks, timeline: Self.probeTimeline)
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
