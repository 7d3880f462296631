import NIOConcurrencyHelpers

/// A per-board readers–writer gate (writers first), used by band boards: a player whose score
/// crosses a band bound is removed from one shard and added to another, two Redis nodes that no
/// single command spans, so reads wait while such a move is applied and never see the player
/// twice or not at all.
final class BoardGate: Sendable {
    private struct Waiter {
        let write: Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct Entry {
        var readers = 0
        var writing = false
        var queue: [Waiter] = []
    }

    private let state = NIOLockedValueBox<[String: Entry]>([:])

    func withReading<T: Sendable>(_ board: String, _ body: () async throws -> T) async throws -> T {
        await acquire(board, write: false)
        do {
            let value = try await body()
            release(board, write: false)
            return value
        } catch {
            release(board, write: false)
            throw error
        }
    }

    /// Runs `body` holding the write side of every board in `boards` (taken in sorted order).
    func withWriting<T: Sendable>(_ boards: [String], _ body: () async throws -> T) async throws -> T {
        let ordered = Array(Set(boards)).sorted()
        for board in ordered { await acquire(board, write: true) }
        defer { for board in ordered.reversed() { release(board, write: true) } }
        return try await body()
    }

    private func acquire(_ board: String, write: Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLockedValue { entries -> Bool in
                var entry = entries[board, default: Entry()]
                defer { entries[board] = entry }
                if write, !entry.writing, entry.readers == 0, entry.queue.isEmpty {
                    entry.writing = true
                    return true
                }
                if !write, !entry.writing, entry.queue.isEmpty {
                    entry.readers += 1
                    return true
                }
                entry.queue.append(Waiter(write: write, continuation: continuation))
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release(_ board: String, write: Bool) {
        let woken = state.withLockedValue { entries -> [CheckedContinuation<Void, Never>] in
            guard var entry = entries[board] else { return [] }
            if write { entry.writing = false } else { entry.readers -= 1 }
            var woken: [CheckedContinuation<Void, Never>] = []
            while let next = entry.queue.first {
                if next.write {
                    guard entry.readers == 0, !entry.writing else { break }
                    entry.writing = true
                    woken.append(entry.queue.removeFirst().continuation)
                    break
                }
                guard !entry.writing else { break }
                entry.readers += 1
                woken.append(entry.queue.removeFirst().continuation)
            }
            entries[board] = entry.readers == 0 && !entry.writing && entry.queue.isEmpty ? nil : entry
            return woken
        }
        for continuation in woken { continuation.resume() }
    }
}
