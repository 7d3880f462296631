/// The score spans (``ScoreSpan``) this process found on each board by locating deep windows, so
/// that a window read again (a page refreshed, many players looking at the same page) takes one
/// round instead of three. Bounded: a few spans per board, spans of a limited number of boards.
public struct SpanHints: Sendable {
    public let perBoard: Int
    public let boards: Int
    private var spans: [String: [ScoreSpan]] = [:]

    public init(perBoard: Int = 8, boards: Int = 4096) {
        self.perBoard = max(perBoard, 1)
        self.boards = max(boards, 1)
    }

    /// The narrowest span of `board` that covered the window when it was found.
    public func span(board: String, start: Int, count: Int) -> ScoreSpan? {
        spans[board]?.filter { $0.covers(start: start, count: count) }.min { $0.last - $0.first < $1.last - $1.first }
    }

    /// Forgets `used` (the span a read tried) and keeps `found` (the span it found, if any) in
    /// place of every span it overlaps; the oldest go first beyond ``perBoard``.
    public mutating func note(board: String, used: ScoreSpan?, found: ScoreSpan?) {
        var list = spans[board] ?? []
        if let used { list.removeAll { $0 == used } }
        if let found {
            list.removeAll { $0.first <= found.last && found.first <= $0.last }
            list.append(found)
            if list.count > perBoard { list.removeFirst(list.count - perBoard) }
        }
        if list.isEmpty {
            spans[board] = nil
            return
        }
        if spans[board] == nil, spans.count >= boards { spans.removeAll() }
        spans[board] = list
    }
}
