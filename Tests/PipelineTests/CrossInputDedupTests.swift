import Testing
import TrafficModel
@testable import Pipeline

struct CrossInputDedupTests {
    /// A speeding record of one of two overlapping files of one camera, 0.2 s of wall-clock time after the first's.
    func item(_ id: String, input: String, at absolute: Double, box: Box?) -> CrossInputDedup.Item {
        CrossInputDedup.Item(id: id, input: input, rule: "speeding", lane: "all", absolute: absolute, speed: 92,
                             inputOrder: [input], pts: absolute - 1000, box: box)
    }

    @Test("one vehicle seen in two overlapping files is one record; two side by side at the same moment are two")
    func sideBySide() {
        let car = Box(x: 640, y: 300, width: 160, height: 170)
        // The same car in both files (its box a little different: each file's detector learnt its own background).
        #expect(CrossInputDedup.duplicates([item("a", input: "f1", at: 1000, box: car),
                                            item("b", input: "f2", at: 1000.2, box: Box(x: 650, y: 310, width: 150, height: 150))]) == ["b": "a"])
        // The second file found only a piece of it: still the same car.
        #expect(CrossInputDedup.duplicates([item("a", input: "f1", at: 1000, box: car),
                                            item("b", input: "f2", at: 1000.2, box: Box(x: 700, y: 330, width: 60, height: 60))]) == ["b": "a"])
        // Another car in the next lane, at the same speed at the same moment, where one lane polygon holds the road.
        #expect(CrossInputDedup.duplicates([item("a", input: "f1", at: 1000, box: car),
                                            item("b", input: "f2", at: 1000.2, box: Box(x: 860, y: 310, width: 160, height: 170))]).isEmpty)
        // Records without boxes are matched as before, by rule, lane, time and speed.
        #expect(CrossInputDedup.duplicates([item("a", input: "f1", at: 1000, box: nil), item("b", input: "f2", at: 1000.2, box: nil)]) == ["b": "a"])
        // One file's own records are never each other's duplicates here (the rules' dedup has seen them).
        #expect(CrossInputDedup.duplicates([item("a", input: "f1", at: 1000, box: car), item("b", input: "f1", at: 1000.2, box: car)]).isEmpty)
    }
}
