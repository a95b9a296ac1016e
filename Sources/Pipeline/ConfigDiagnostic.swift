import Foundation

/// One problem in a pipeline file, at a position: `FILE:LINE:COL: error: key.path: what is wrong`, then the
/// offending line and a caret under the column (as compilers and Yams print them).
public struct ConfigDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var keyPath: String
    public var message: String
    /// The source line and a caret line; empty when the position is unknown.
    public var snippet: String

    /// The first line alone.
    public var headline: String {
        let path = keyPath.isEmpty ? "" : "\(keyPath): "
        return "\(file):\(line):\(column): error: \(path)\(message)"
    }

    public var description: String { snippet.isEmpty ? headline : headline + "\n" + snippet }

    init(file: String, text: String, line: Int, column: Int, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if line >= 1 && line <= lines.count {
            let source = String(lines[line - 1])
            let prefix = source.unicodeScalars.prefix(max(0, column - 1))
            // Tabs stay tabs so the caret lines up in a terminal.
            let pad = String(String.UnicodeScalarView(prefix.map { $0 == "\t" ? "\t" : " " }))
            snippet = source + "\n" + pad + "^"
        } else {
            snippet = ""
        }
    }
}

/// All the problems of one or more pipeline files.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Edit distance, for "did you mean" suggestions.
func levenshtein(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count), current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The closest of `candidates` to `word`, when close enough to be a likely typo.
func suggestion(for word: String, in candidates: [String]) -> String? {
    let scored = candidates.map { ($0, levenshtein(word.lowercased(), $0.lowercased())) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
    guard let best = scored.first, best.1 <= max(2, (word.count + 2) / 3) else { return nil }
    return best.0
}
