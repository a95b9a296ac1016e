import Crypto
import Foundation

/// Ed25519 signing of a run's manifest (run.json), which holds the hashes of the exports, which hold the hashes of
/// every input and evidence file: one signature covers the whole run. Keys are files of hex text (32 bytes).
public enum RunSigning {
    public static let signatureFile = "run.json.sig"

    public static func generateKeys(prefix: String) throws -> (privateKey: String, publicKey: String) {
        let key = Curve25519.Signing.PrivateKey()
        let privatePath = prefix + ".key", publicPath = prefix + ".pub"
        guard FileManager.default.createFile(atPath: privatePath, contents: Data((hex(key.rawRepresentation) + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw PipelineError.output(privatePath, "cannot write the private key")
        }
        do { try Data((hex(key.publicKey.rawRepresentation) + "\n").utf8).write(to: URL(fileURLWithPath: publicPath)) } catch {
            throw PipelineError.output(publicPath, "cannot write the public key")
        }
        return (privatePath, publicPath)
    }

    /// Signs `run.json` in `runDirectory` with the private key in `keyFile`; writes `run.json.sig` (hex).
    public static func sign(runDirectory: String, keyFile: String) throws {
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: readKey(keyFile))
        let manifest = (runDirectory as NSString).appendingPathComponent("run.json")
        guard let data = FileManager.default.contents(atPath: manifest) else { throw PipelineError.input(manifest, "cannot read") }
        let signature = try key.signature(for: data)
        let target = (runDirectory as NSString).appendingPathComponent(signatureFile)
        try InputProcessor.writeAtomically(Data((hex(signature) + "\n").utf8), to: target)
    }

    /// Whether `run.json.sig` is a valid signature of `run.json` by the holder of `publicKeyFile`'s key.
    public static func check(runDirectory: String, publicKeyFile: String) throws -> Verify.Finding {
        let key = try Curve25519.Signing.PublicKey(rawRepresentation: readKey(publicKeyFile))
        let manifest = (runDirectory as NSString).appendingPathComponent("run.json")
        let sigPath = (runDirectory as NSString).appendingPathComponent(signatureFile)
        guard let data = FileManager.default.contents(atPath: manifest) else { throw PipelineError.input(manifest, "cannot read") }
        guard let text = FileManager.default.contents(atPath: sigPath).map({ String(decoding: $0, as: UTF8.self) }), let signature = unhex(text) else {
            return Verify.Finding(subject: signatureFile, match: false, detail: "missing or not hex")
        }
        let ok = key.isValidSignature(signature, for: data)
        return Verify.Finding(subject: "run.json", match: ok, detail: ok ? "signature valid (\(publicKeyFile))" : "signature does not match: run.json or its signature changed, or another key signed it")
    }

    static func readKey(_ path: String) throws -> Data {
        guard let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw PipelineError.input(path, "cannot read the key")
        }
        guard let bytes = unhex(text), bytes.count == 32 else { throw PipelineError.input(path, "not a key: expected 64 hex digits (32 bytes)") }
        return bytes
    }

    static func hex<D: DataProtocol>(_ d: D) -> String { d.map { String(format: "%02x", $0) }.joined() }

    static func unhex(_ text: String) -> Data? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.count % 2 == 0 else { return nil }
        var out = Data()
        var i = t.startIndex
        while i < t.endIndex {
            let j = t.index(i, offsetBy: 2)
            guard let b = UInt8(t[i..<j], radix: 16) else { return nil }
            out.append(b)
            i = j
        }
        return out
    }
}
