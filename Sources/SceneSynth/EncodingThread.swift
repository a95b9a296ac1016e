import Foundation
import VideoIO

/// Encodes pictures on a thread of its own, fed through a bounded queue, so that rendering the next frames
/// and encoding the last ones use both cores. `finish()` waits for the queue to drain and rethrows the
/// writer's first error.
final class EncodingThread: @unchecked Sendable {
    // All mutable state below is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Picture] = []
    private var closed = false
    private var done = false
    private var failure: Error?
    private let capacity: Int
    private let writer: VideoWriter

    init(writer: VideoWriter, capacity: Int = 4) {
        self.writer = writer
        self.capacity = capacity
        let thread = Thread { [self] in run() }
        thread.name = "roadwatch.synth.encode"
        thread.start()
    }

    /// Queues a picture; blocks while the queue is full. Throws the writer's error, if it has failed.
    func write(_ picture: Picture) throws {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= capacity && failure == nil { condition.wait() }
        if let failure { throw failure }
        queue.append(picture)
        condition.broadcast()
    }

    /// Encodes what is queued, then finishes the file.
    func finish() throws {
        condition.lock()
        closed = true
        condition.broadcast()
        while !done { condition.wait() }
        let failure = failure
        condition.unlock()
        if let failure { throw failure }
        try writer.finish()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty && closed {
                done = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let picture = queue.removeFirst()
            condition.broadcast()
            condition.unlock()
            do {
                try writer.write(picture)
            } catch {
                condition.lock()
                failure = error
                queue.removeAll()
                done = true
                condition.broadcast()
                condition.unlock()
                return
            }
        }
    }
}
