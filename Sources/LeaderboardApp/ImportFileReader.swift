import Foundation
import LeaderboardCore
import LeaderboardStore
import Synchronization

/// Reads a bulk-import file one line at a time (1 MB reads, never the whole file) and hands out
/// its submissions (``ImportRows``), each with its line number. A line that is not UTF-8, or
/// longer than any valid row can be, is a row error naming the line.
public final class ImportFileReader: Sendable {
    private struct State {
        var buffer: [UInt8] = []
        /// Where the unread part of `buffer` begins.
        var start = 0
        var atEnd = false
        var line = 0
        var rows: ImportRows
        var bytesRead = 0
    }

    private let descriptor: Int32
    private let state: Mutex<State>
    /// The file's size in bytes.
    public let size: Int
    /// The longest line accepted: a player id, a username and 4 KB of metadata fit many times over.
    static let longestLine = 64 * 1024
    static let readSize = 1 << 20

    /// Opens `path`; throws when it cannot be read.
    public init(path: String, format: ImportRows.Format, board: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ImportFileError("cannot open \(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw ImportFileError("\(path) is not a regular file")
        }
        self.descriptor = descriptor
        size = Int(info.st_size)
        state = Mutex(State(rows: ImportRows(format: format, board: board)))
    }

    deinit { close(descriptor) }

    /// Bytes consumed so far (for progress).
    public var bytesRead: Int { state.withLock { $0.bytesRead } }

    /// The next submission, nil at the end of the file. Throws ``ImportRows/RowError`` for a bad
    /// row, ``ImportFileError`` when the file cannot be read.
    public func next() throws -> ImportedRow? {
        try state.withLock { state in
            while let (number, text) = try nextLine(&state) {
                if let command = try state.rows.row(Substring(text), number: number) { return ImportedRow(line: number, command: command) }
            }
            try state.rows.finish(lines: state.line)
            return nil
        }
    }

    private func nextLine(_ state: inout State) throws -> (Int, String)? {
        while true {
            if let end = state.buffer[state.start...].firstIndex(of: UInt8(ascii: "\n")) {
                let bytes = state.buffer[state.start..<end]
                state.bytesRead += bytes.count + 1
                state.start = end + 1
                return try decode(bytes, state: &state)
            }
            if state.atEnd {
                guard state.start < state.buffer.count else { return nil }
                let bytes = state.buffer[state.start...]
                state.bytesRead += bytes.count
                state.start = state.buffer.count
                return try decode(bytes, state: &state)
            }
            if state.buffer.count - state.start > Self.longestLine {
                throw ImportRows.RowError(line: state.line + 1, message: "the line is longer than \(Self.longestLine) bytes")
            }
            state.buffer.removeSubrange(0..<state.start)
            state.start = 0
            let old = state.buffer.count
            state.buffer.reserveCapacity(old + Self.readSize)
            state.buffer.append(contentsOf: repeatElement(0, count: Self.readSize))
            let count = state.buffer.withUnsafeMutableBytes { raw in read(descriptor, raw.baseAddress! + old, Self.readSize) }
            guard count >= 0 else {
                state.buffer.removeSubrange(old...)
                if errno == EINTR { continue }
                throw ImportFileError("cannot read the file: \(String(cString: strerror(errno)))")
            }
            state.buffer.removeSubrange((old + count)...)
            if count == 0 { state.atEnd = true }
        }
    }

    private func decode(_ bytes: ArraySlice<UInt8>, state: inout State) throws -> (Int, String) {
        state.line += 1
        if bytes.count > Self.longestLine {
            throw ImportRows.RowError(line: state.line, message: "the line is longer than \(Self.longestLine) bytes")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ImportRows.RowError(line: state.line, message: "the line is not valid UTF-8")
        }
        return (state.line, text)
    }
}

/// A bulk-import file that cannot be opened or read.
public struct ImportFileError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
