import Foundation
import TrafficModel
import Yams

/// Walks a composed YAML tree and collects every problem with its position, rather than stopping at the first.
/// Each accessor returns nil when the value is wrong (and records why); the caller carries on.
final class ConfigReader {
    let file: String
    let text: String
    private(set) var diagnostics: [ConfigDiagnostic] = []

    init(file: String, text: String) {
        self.file = file
        self.text = text
    }

    func error(_ node: Node?, _ path: String, _ message: String) {
        let mark = node?.mark
        diagnostics.append(ConfigDiagnostic(file: file, text: text, line: mark?.line ?? 1, column: mark?.column ?? 1, keyPath: path, message: message))
    }

    func error(at mark: Mark?, _ path: String, _ message: String) {
        diagnostics.append(ConfigDiagnostic(file: file, text: text, line: mark?.line ?? 1, column: mark?.column ?? 1, keyPath: path, message: message))
    }

    /// A mapping's entries by key, with the key's node (for positions). Unknown keys are errors naming the
    /// closest known key.
    struct Map {
        let node: Node
        let path: String
        var entries: [String: (key: Node, value: Node)]
        func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        subscript(_ key: String) -> Node? { entries[key]?.value }
    }

    func map(_ node: Node?, _ path: String, keys: [String]) -> Map? {
        guard let node else { return nil }
        guard let mapping = node.mapping else {
            error(node, path, "expected a mapping of \(keys.prefix(4).joined(separator: ", "))\(keys.count > 4 ? ", ..." : ""), found \(describe(node))")
            return nil
        }
        var entries: [String: (key: Node, value: Node)] = [:]
        for (k, v) in mapping {
            guard let name = k.scalar?.string else {
                error(k, path, "keys must be plain words")
                continue
            }
            let childPath = path.isEmpty ? name : "\(path).\(name)"
            if !keys.contains(name) {
                if let near = suggestion(for: name, in: keys) {
                    error(k, childPath, "unknown key '\(name)'; did you mean '\(near)'?")
                } else {
                    error(k, childPath, "unknown key '\(name)'; expected one of \(keys.joined(separator: ", "))")
                }
                continue
            }
            entries[name] = (k, v)
        }
        return Map(node: node, path: path, entries: entries)
    }

    /// A key that must be there; its absence is reported at the mapping.
    func required(_ m: Map, _ key: String, _ what: String = "") -> Node? {
        if let v = m[key] { return v }
        error(m.node, m.path, "missing required key '\(key)'\(what.isEmpty ? "" : " (\(what))")")
        return nil
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return s.string.isEmpty ? "an empty value" : "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    func string(_ node: Node?, _ path: String, nonEmpty: Bool = true) -> String? {
        guard let node else { return nil }
        guard let s = node.scalar?.string else {
            error(node, path, "expected text, found \(describe(node))")
            return nil
        }
        if nonEmpty && s.trimmingCharacters(in: .whitespaces).isEmpty {
            error(node, path, "must not be empty")
            return nil
        }
        return s
    }

    /// A number in `range`; `unit` names the unit in messages ("km/h", "s").
    func number(_ node: Node?, _ path: String, _ range: ClosedRange<Double>, unit: String) -> Double? {
        guard let node else { return nil }
        guard let scalar = node.scalar else {
            error(node, path, "expected a number in \(unit), found \(describe(node))")
            return nil
        }
        guard let v = Double(scalar.string.trimmingCharacters(in: .whitespaces)), v.isFinite else {
            let s = scalar.string
            if let unitStart = s.firstIndex(where: { $0.isLetter || $0 == "%" }), Double(s[..<unitStart].trimmingCharacters(in: .whitespaces)) != nil {
                error(node, path, "write the number alone ('\(s[..<unitStart].trimmingCharacters(in: .whitespaces))'); the unit is \(unit)")
            } else {
                error(node, path, "expected a number in \(unit), found '\(s)'")
            }
            return nil
        }
        guard range.contains(v) else {
            error(node, path, "\(format(v)) \(unit) is out of range \(format(range.lowerBound))...\(format(range.upperBound)) \(unit)")
            return nil
        }
        return v
    }

    func integer(_ node: Node?, _ path: String, _ range: ClosedRange<Int>, unit: String) -> Int? {
        guard let v = number(node, path, Double(range.lowerBound)...Double(range.upperBound), unit: unit) else { return nil }
        guard v == v.rounded() else {
            error(node, path, "expected a whole number of \(unit), found \(format(v))")
            return nil
        }
        return Int(v)
    }

    func bool(_ node: Node?, _ path: String) -> Bool? {
        guard let node else { return nil }
        guard let s = node.scalar?.string.lowercased(), ["true", "false", "yes", "no", "on", "off"].contains(s) else {
            error(node, path, "expected true or false, found \(describe(node))")
            return nil
        }
        return ["true", "yes", "on"].contains(s)
    }

    func choice<E: RawRepresentable & CaseIterable>(_ node: Node?, _ path: String, _ type: E.Type) -> E? where E.RawValue == String {
        guard let s = string(node, path) else { return nil }
        if let v = E(rawValue: s) { return v }
        let names = E.allCases.map(\.rawValue)
        let near = suggestion(for: s, in: names).map { "; did you mean '\($0)'?" } ?? ""
        error(node, path, "'\(s)' is not one of \(names.joined(separator: ", "))\(near)")
        return nil
    }

    func list(_ node: Node?, _ path: String) -> [Node]? {
        guard let node else { return nil }
        guard let seq = node.sequence else {
            error(node, path, "expected a list, found \(describe(node))")
            return nil
        }
        return Array(seq)
    }

    /// An image box `[x, y, width, height]` in pixels, each number in `range`, each side at least `minimumSide`
    /// (positive when 0): `detection.ignore`'s boxes and `detection.detail_region`. A box of the wrong shape is one
    /// error at the box, described by `sides`; a number out of range, or not a number, is reported at the number.
    func imageBox(_ node: Node?, _ path: String, range: ClosedRange<Double>, minimumSide: Double, sides: String) -> Box? {
        guard let items = list(node, path) else { return nil }
        let values = items.enumerated().compactMap { number($1, "\(path)[\($0)]", range, unit: "px") }
        guard values.count == items.count else { return nil }
        guard values.count == 4, values[2] >= minimumSide, values[3] >= minimumSide, values[2] > 0, values[3] > 0 else {
            error(node, path, "expected a box [x, y, width, height] \(sides)")
            return nil
        }
        return Box(numbers: values)
    }

    /// `[x, y]`.
    func point(_ node: Node?, _ path: String, range: ClosedRange<Double> = -1e6...1e6) -> Point2? {
        guard let items = list(node, path) else { return nil }
        guard items.count == 2 else {
            error(node, path, "expected a point [x, y], found \(items.count) number\(items.count == 1 ? "" : "s")")
            return nil
        }
        guard let x = number(items[0], path + "[0]", range, unit: "units"), let y = number(items[1], path + "[1]", range, unit: "units") else { return nil }
        return Point2(x, y)
    }

    func points(_ node: Node?, _ path: String, count: ClosedRange<Int>) -> [Point2]? {
        guard let items = list(node, path) else { return nil }
        guard count.contains(items.count) else {
            let want = count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "at least \(count.lowerBound)"
            error(node, path, "expected \(want) points, found \(items.count)")
            return nil
        }
        let ps = items.enumerated().compactMap { point($1, "\(path)[\($0)]") }
        return ps.count == items.count ? ps : nil
    }

    func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
    }
}
