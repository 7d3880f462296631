import ArgumentParser
import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardService
import LeaderboardStore
import Synchronization

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bulk import: apply every row of a file to a board as a submission, all or nothing, then build its shards.",
        discussion: """
            The file is CSV with the header player_id,score or player_id,score,username, or NDJSON \
            of ScoreEvents (one JSON object per line). Each row is applied with the board's update \
            mode and recorded as an event of type import, in one PostgreSQL transaction; a bad row \
            stops the import naming its line, with nothing written (exit status 2). Then the \
            board's shards are built from PostgreSQL; the servers answer 503 for the board until \
            they are. Progress goes to standard error, the report (JSON) to standard output. \
            Exit status 3: the import committed but the shards were not built here (a server \
            builds them; do not import again); 4: the reply to COMMIT was lost and its outcome \
            is unknown; 1: anything else, with nothing written.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "The leaderboard.") var board: String
    @Option(help: ArgumentHelp("The file to import.", valueName: "path")) var file: String
    @Option(help: "csv or ndjson (default: from the file name: .csv, .ndjson or .jsonl).") var format: String?

    func validate() throws {
        if let format, ImportRows.Format(rawValue: format) == nil { throw ValidationError("--format must be csv or ndjson") }
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("--file: cannot read \(file)") }
        if format == nil, ImportRows.Format(fileName: file) == nil {
            throw ValidationError("--format: the file name does not say (.csv, .ndjson, .jsonl); give --format csv or ndjson")
        }
    }

    func run() async throws {
        let format = self.format.flatMap(ImportRows.Format.init(rawValue:)) ?? ImportRows.Format(fileName: file)!
        let reader: ImportFileReader
        do { reader = try ImportFileReader(path: file, format: format, board: board) } catch { fail("\(error)", status: 2) }
        let system = await options.system(logLevel: "warning")
        let reading = ProgressDisplay(label: "import \(board)", unit: "bytes")
        let size = reader.size
        let counter = RowCounter()
        let source: @Sendable () throws -> ImportedRow? = {
            let row = try reader.next()
            if row == nil || counter.tick() { reading.update(done: row == nil ? size : reader.bytesRead, total: size) }
            return row
        }
        let building = ProgressDisplay(label: "build \(board)", unit: "members")
        do {
            let report = try await BulkImport(service: system.service, recovery: system.recovery).run(
                board: board, rows: source, building: building.report
            )
            reading.finish()
            building.finish()
            await system.close()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } catch let error as ImportRows.RowError {
            reading.finish()
            await system.close()
            fail("\(file): \(error); nothing was imported", status: 2)
        } catch let error as BulkImport.Failure {
            reading.finish()
            building.finish()
            await system.close()
            switch error {
            case .committedNotBuilt: fail("\(error)", status: 3)
            case .outcomeUnknown: fail("\(error)", status: 4)
            }
        } catch {
            reading.finish()
            await system.close()
            fail("\(error)")
        }
    }
}

/// Counts rows handed to the COPY; progress is shown every 4,096 rows, and at the end.
private final class RowCounter: Sendable {
    private let count = Atomic<Int>(0)

    func tick() -> Bool { count.add(1, ordering: .relaxed).newValue % 4096 == 0 }
}
