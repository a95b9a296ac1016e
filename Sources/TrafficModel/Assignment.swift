/// Minimum-cost assignment of rows to columns (the Hungarian method, Jonker–Volgenant style shortest
/// augmenting paths, O(n³)). Rectangular matrices are allowed; each row gets at most one column.
public enum Assignment {
    /// For each row, the column it is assigned to (nil when there are more rows than columns).
    /// Costs must be finite; use a large value for "forbidden" and filter those pairs afterwards.
    public static func minimumCost(_ cost: [[Double]]) -> [Int?] {
        let rows = cost.count
        guard rows > 0, let columns = cost.first?.count, columns > 0 else { return Array(repeating: nil, count: rows) }
        let transposed = rows > columns
        let n = transposed ? columns : rows, m = transposed ? rows : columns
        func c(_ i: Int, _ j: Int) -> Double { transposed ? cost[j][i] : cost[i][j] }
        // Potentials u (rows), v (columns); p[j] = row matched to column j (1-based, 0 = none).
        var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1), way = [Int](repeating: 0, count: m + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            var minv = [Double](repeating: .infinity, count: m + 1)
            var used = [Bool](repeating: false, count: m + 1)
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity, j1 = 0
                for j in 1...m where !used[j] {
                    let cur = c(i0 - 1, j - 1) - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...m {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var result = [Int?](repeating: nil, count: rows)
        for j in 1...m where p[j] != 0 {
            if transposed { result[j - 1] = p[j] - 1 } else { result[p[j] - 1] = j - 1 }
        }
        return result
    }
}
