/// How hard a build of shards from a snapshot (a rebuild, a layout change) may push the nodes:
/// the members of each staging command (one per node and round) and the rest after each round,
/// as a multiple of the round's time (the same rest follows each page of the snapshot's read).
/// A smaller piece and a longer rest leave more of the nodes and the cores to the other boards.
public struct BuildPace: Sendable, Equatable {
    public var members: Int
    public var rest: Double

    public init(members: Int, rest: Double) {
        self.members = members
        self.rest = rest
    }

    /// A rebuild's pace: it runs while its board answers 503, beside every other board's traffic.
    public static let rebuild = BuildPace(members: 500, rest: 1.0)

    /// A bulk import's build: an operator's command whose board answers 503 until it is built, so
    /// it goes faster (the same pieces, a quarter of the rest), still leaving a fifth of the time
    /// and pieces of well under a millisecond to the other boards.
    public static let bulkImport = BuildPace(members: 500, rest: 0.25)
}
