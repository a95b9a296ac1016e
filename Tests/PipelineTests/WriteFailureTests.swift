import Foundation
import Testing
@testable import Pipeline

/// A failed output write names the file and the operating system's reason, whichever layer failed: the store and
/// the video writer say "No space left on device", and so must the track and signal files Foundation writes (it says
/// "There isn't enough space" in its own words).
struct WriteFailureTests {
    @Test("a full disk reads 'No space left on device' from Foundation's errors as from the system's")
    func fullDisk() {
        let system = String(cString: strerror(ENOSPC))
        #expect(system == "No space left on device")
        #expect(InputProcessor.reason(CocoaError(.fileWriteOutOfSpace)) == system)
        #expect(InputProcessor.reason(NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))) == system)
        let wrapped = NSError(domain: NSCocoaErrorDomain, code: CocoaError.fileWriteUnknown.rawValue,
                              userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(EACCES))])
        #expect(InputProcessor.reason(wrapped) == String(cString: strerror(EACCES)))
    }

    @Test("a write into a missing folder fails naming the file, and leaves nothing behind")
    func missingFolder() throws {
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-missing-\(UUID().uuidString)/a.csv").path
        do {
            try InputProcessor.writeAtomically(Data("x".utf8), to: target)
            Issue.record("no error")
        } catch let error as PipelineError {
            #expect("\(error)".contains(target) && "\(error)".contains("cannot write: "), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: target))
    }
}
