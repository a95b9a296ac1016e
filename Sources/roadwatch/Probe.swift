import ArgumentParser
import Foundation
import VideoIO

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what FFmpeg reads from media files: container, codec, size, frame rate, duration, creation time.",
        discussion: "A file that cannot be read prints 'error: FILE: reason' on standard error; the other files are still probed and the exit status is 3."
    )

    @Flag(name: .long, help: "Print one JSON array for machines instead of a table.")
    var json = false

    @Argument(help: "Media files to probe.", completion: .file())
    var files: [String]

    func run() throws {
        var infos: [MediaInfo] = []
        var failed = 0
        for file in files {
            do {
                infos.append(try VideoReader(path: file).info)
            } catch {
                failed += 1
                printError("error: \(error)")
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(infos), as: UTF8.self))
        } else if !infos.isEmpty {
            print(Self.table(infos))
        }
        if failed > 0 { throw ExitStatus.someInputsFailed }
    }

    static func table(_ infos: [MediaInfo]) -> String {
        let header = ["file", "container", "codec", "size", "pixels", "fps (nominal/avg)", "duration s", "frames", "kbit/s", "creation time"]
        let rows = infos.map { info -> [String] in
            [
                (info.path as NSString).lastPathComponent,
                info.container.split(separator: ",").first.map(String.init) ?? info.container,
                info.codec,
                "\(info.width)x\(info.height)",
                info.pixelFormat,
                "\(format(info.nominalFrameRate))/\(format(info.averageFrameRate))",
                format(info.duration, digits: 3),
                info.frameCount.map(String.init) ?? "-",
                info.bitRate.map { String($0 / 1000) } ?? "-",
                info.creationTimeText ?? "-",
            ]
        }
        return TextTable(header: header, rows: rows).render()
    }

    static func format(_ value: Double?, digits: Int = 2) -> String {
        guard let value else { return "-" }
        return String(format: "%.\(digits)f", value)
    }
}
