import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Turns the inputs of a run (command-line arguments, else the pipeline's `inputs`) into a sorted list of files:
/// a file is itself; a folder gives its files (not recursing, hidden files and the side files that sit beside
/// footage skipped); a pattern with * ? [ is a glob. Relative config inputs are relative to the config's folder.
public enum InputList {
    /// Extensions that are never footage: truth, scene and pipeline files, notes, exports.
    public static let sideFileExtensions: Set<String> = ["json", "jsonl", "yaml", "yml", "csv", "txt", "md", "sqlite", "sqlite-wal", "sqlite-shm", "log", "sha256", "sig"]

    public static func expand(_ patterns: [String], relativeTo base: String?) -> (files: [String], problems: [String]) {
        var files: [String] = []
        var problems: [String] = []
        for raw in patterns {
            let pattern = base.map { resolve(raw, against: $0) } ?? raw
            if pattern.contains(where: { "*?[".contains($0) }) {
                let matches = glob(pattern)
                if matches.isEmpty { problems.append("\(raw): no file matches this pattern") }
                files += matches.filter { isFile($0) }
                continue
            }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: pattern, isDirectory: &isDir) else {
                // A missing file is kept: it fails as an input with a clear error, like any other bad file.
                files.append(pattern)
                continue
            }
            if isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: pattern)) ?? []
                let found = names.filter { !$0.hasPrefix(".") && !sideFileExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
                    .map { (pattern as NSString).appendingPathComponent($0) }
                    .filter { isFile($0) }
                if found.isEmpty { problems.append("\(raw): the folder holds no footage") }
                files += found
            } else {
                files.append(pattern)
            }
        }
        var seen = Set<String>()
        let unique = files.map(normalise).filter { seen.insert($0).inserted }
        return (unique.sorted(), problems)
    }

    /// Removes "." and "dir/.." components without touching the file system, so records name inputs the same way
    /// on every machine (relative stays relative).
    public static func normalise(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            if c == "..", absolute, parts.isEmpty { continue }
            parts.append(c)
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    static func isFile(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { i in result.gl_pathv[i].map { String(cString: $0) } }
    }
}
