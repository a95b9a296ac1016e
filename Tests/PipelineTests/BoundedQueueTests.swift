import Foundation
import Testing
@testable import Pipeline

/// The decode queue between the decoder thread and the analysis: bounded, in order, and holding no item it has
/// handed out (a popped 1080p frame kept referenced is 3 MB of memory that never comes back until compaction).
struct BoundedQueueTests {
    final class Tracked: @unchecked Sendable {
        static let lock = NSLock()
        nonisolated(unsafe) static var alive = 0
        let value: Int
        init(_ value: Int) { self.value = value; Self.lock.lock(); Self.alive += 1; Self.lock.unlock() }
        deinit { Self.lock.lock(); Self.alive -= 1; Self.lock.unlock() }
        static var count: Int { lock.lock(); defer { lock.unlock() }; return alive }
    }

    @Test("items come out in order, and an item handed out is no longer held: never more than the capacity alive")
    func releasesPoppedItems() throws {
        let queue = BoundedQueue<Tracked>(capacity: 4)
        let producer = Thread {
            for i in 0..<500 { if !queue.push(Tracked(i)) { break } }
            queue.close()
        }
        producer.start()
        var expected = 0, mostAlive = 0
        while let item = queue.pop() {
            #expect(item.value == expected)
            expected += 1
            // The consumer holds this one; the queue at most its capacity; the producer at most one it is pushing.
            mostAlive = max(mostAlive, Tracked.count)
        }
        #expect(expected == 500)
        #expect(mostAlive <= 4 + 2, "at most capacity + 2 items alive, found \(mostAlive)")
        while !producer.isFinished { usleep(1000) }
        #expect(Tracked.count == 0)
    }
}
