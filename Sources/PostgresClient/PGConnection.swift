import BlockingPool
import CLibPQ

#if canImport(Glibc)
import Glibc
#endif

/// A blocking libpq connection.
///
/// `@unchecked Sendable` is safe because ``BlockingConnectionPool`` lends a connection to one
/// thread at a time, and the `PGconn` is only touched inside those calls.
public final class PGConnection: PooledConnection, @unchecked Sendable {
    /// Where and how to connect.
    public struct Configuration: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String
        public var database: String
        public var connectTimeoutSeconds: Int
        /// Server-side statement timeout; 0 disables it.
        public var statementTimeoutMilliseconds: Int
        /// `application_name`: what pg_stat_activity shows for the connection.
        public var applicationName = "leaderboard"

        public init(
            host: String = "127.0.0.1", port: Int = 5432, user: String = "leaderboard", password: String = "",
            database: String = "leaderboard", connectTimeoutSeconds: Int = 3, statementTimeoutMilliseconds: Int = 30_000
        ) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        }

        /// The libpq keywords and values.
        var parameters: [(String, String)] {
            var parameters = [
                ("host", host), ("port", String(port)), ("user", user), ("dbname", database),
                ("connect_timeout", String(max(connectTimeoutSeconds, 1))),
                ("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
                ("application_name", applicationName), ("client_encoding", "UTF8"),
                ("options", "-c statement_timeout=\(statementTimeoutMilliseconds)"),
            ]
            if !password.isEmpty { parameters.append(("password", password)) }
            return parameters
        }
    }

    private var connection: OpaquePointer?
    private var failed = false

    /// The server process of this connection (`pg_backend_pid()`), 0 when closed.
    public var backendPID: Int32 {
        guard let connection else { return 0 }
        return PQbackendPID(connection)
    }

    public var isBroken: Bool {
        guard let connection else { return true }
        return failed || PQstatus(connection) != CONNECTION_OK
    }

    /// Connects. Blocking: call on a pool thread.
    public init(configuration: Configuration) throws {
        let parameters = configuration.parameters
        let connection: OpaquePointer? = Self.withCStrings(parameters.map(\.0)) { keywords in
            Self.withCStrings(parameters.map(\.1)) { values in
                PQconnectdbParams(keywords, values, 0)
            }
        }
        guard let connection else { throw PGError(.connection, "cannot allocate a connection") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw PGError(.connection, message.trimmingTrailingNewlines)
        }
        // Notices (e.g. "relation already exists, skipping") would go to stderr; they are not errors.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.connection = connection
    }

    deinit { close() }

    public func close() {
        if let connection {
            PQfinish(connection)
            self.connection = nil
        }
    }

    /// Runs one parameterized statement (text parameters and results) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> PGRows {
        guard let connection else { throw PGError(.connection, "connection is closed") }
        let result: OpaquePointer? = Self.withCStrings(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try consume(result, connection: connection)
    }

    /// Runs one or more statements without parameters (migrations, BEGIN/COMMIT).
    public func execute(_ sql: String) throws {
        guard let connection else { throw PGError(.connection, "connection is closed") }
        try consume(PQexec(connection, sql), connection: connection)
    }

    /// Runs `COPY … FROM STDIN` (`sql`, text format) and sends `rows` in chunks of about 1 MB
    /// (``PGCopyText``). Returns the number of rows PostgreSQL stored. A row that fails on the
    /// server (a type or constraint error) fails the whole COPY, which then stores nothing.
    /// The COPY is one statement for `statement_timeout`, rows being produced included: a big
    /// one runs in a transaction that sets `SET LOCAL statement_timeout` first.
    @discardableResult
    public func copyIn<Rows: Sequence<[String?]>>(_ sql: String, rows: Rows) throws -> Int {
        guard let connection else { throw PGError(.connection, "connection is closed") }
        guard let start = PQexec(connection, sql) else {
            failed = true
            throw PGError(.connection, String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines)
        }
        // Text format only: the rows are encoded for it (``PGCopyText``).
        guard PQresultStatus(start) == PGRES_COPY_IN, PQbinaryTuples(start) == 0 else {
            if PQresultStatus(start) == PGRES_COPY_IN {
                PQclear(start)
                _ = PQputCopyEnd(connection, "only text-format COPY is supported")
                while let result = PQgetResult(connection) { PQclear(result) }
                throw PGError(.query, "copyIn needs COPY … FROM STDIN in text format")
            }
            // Not a COPY FROM STDIN (or refused): report it as the statement's error.
            try consume(start, connection: connection)
            throw PGError(.query, "not a COPY FROM STDIN statement: \(sql.prefix(60))")
        }
        PQclear(start)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20 + 4096)
        var sendError: String?
        func flush() {
            guard sendError == nil, !buffer.isEmpty else { return }
            // In slices of at most 1 MB (libpq takes an Int32 length; one huge row stays safe).
            buffer.withUnsafeBufferPointer { bytes in
                bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { base in
                    var offset = 0
                    while offset < bytes.count, sendError == nil {
                        let length = min(1 << 20, bytes.count - offset)
                        if PQputCopyData(connection, base + offset, Int32(length)) != 1 {
                            sendError = String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines
                        }
                        offset += length
                    }
                }
            }
            buffer.removeAll(keepingCapacity: true)
        }
        for row in rows {
            PGCopyText.append(row, to: &buffer)
            if buffer.count >= 1 << 20 { flush() }
            if sendError != nil { break }
        }
        flush()
        // Ending with an error message makes the server abandon the COPY.
        let ended = sendError.map { PQputCopyEnd(connection, $0) } ?? PQputCopyEnd(connection, nil)
        if ended != 1 {
            failed = true
            throw PGError(.connection, String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines)
        }
        // The COPY's result, then NULL (libpq's protocol: read results until there are none).
        var stored = 0
        var firstError: (any Error)?
        while let result = PQgetResult(connection) {
            do {
                let rows = try consume(result, connection: connection)
                stored += rows.affected
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        if let sendError {
            failed = true
            throw PGError(.connection, sendError)
        }
        return stored
    }

    /// Runs `COPY … TO STDOUT` (`sql`, text format with its default delimiter: not CSV, which
    /// libpq does not tell apart) and hands each row's fields to `row` as they
    /// arrive (``PGCopyText/fields(of:)``); while `row` takes its time, the server stops once the
    /// socket's buffers are full. Returns
    /// the rows read. When `row` throws, the rest is read and dropped (the connection stays
    /// usable) and the error is rethrown.
    @discardableResult
    public func copyOut(_ sql: String, row: ([String?]) throws -> Void) throws -> Int {
        guard let connection else { throw PGError(.connection, "connection is closed") }
        guard let start = PQexec(connection, sql) else {
            failed = true
            throw PGError(.connection, String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines)
        }
        guard PQresultStatus(start) == PGRES_COPY_OUT, PQbinaryTuples(start) == 0 else {
            if PQresultStatus(start) == PGRES_COPY_OUT {
                // A binary COPY now running: its rows are not read here, so the connection is not reused.
                PQclear(start)
                failed = true
                throw PGError(.query, "copyOut needs COPY … TO STDOUT in text format")
            }
            // Not a COPY TO STDOUT (or refused): report it as the statement's error.
            try consume(start, connection: connection)
            throw PGError(.query, "not a COPY … TO STDOUT statement: \(sql.prefix(60))")
        }
        PQclear(start)
        var count = 0
        var rowError: (any Error)?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(connection, &buffer, 0)
            if length == -1 { break }  // done: the statement's result follows
            guard length >= 0, let buffer else {
                failed = true
                throw PGError(.connection, String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines)
            }
            defer { PQfreemem(buffer) }
            guard rowError == nil else { continue }
            count += 1
            let fields = buffer.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
                PGCopyText.fields(of: UnsafeBufferPointer(start: $0, count: Int(length)))
            }
            do { try row(fields) } catch { rowError = error }
        }
        var firstError: (any Error)?
        while let result = PQgetResult(connection) {
            do { try consume(result, connection: connection) } catch { if firstError == nil { firstError = error } }
        }
        if let firstError { throw firstError }
        if let rowError { throw rowError }
        return count
    }

    /// The text as an SQL string literal (libpq's quoting, for statements that take no
    /// parameters, such as `COPY`).
    public func literal(_ text: String) throws -> String {
        guard let connection else { throw PGError(.connection, "connection is closed") }
        if text.isEmpty { return "''" }
        let utf8 = Array(text.utf8)
        guard let quoted = utf8.withUnsafeBufferPointer({ bytes in
            bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(bytes.count, 1)) { PQescapeLiteral(connection, $0, bytes.count) }
        }) else {
            throw PGError(.query, String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines)
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Runs `body` inside BEGIN … COMMIT; rolls back when it throws.
    /// - Parameter mode: what follows BEGIN, e.g. `ISOLATION LEVEL REPEATABLE READ READ ONLY`.
    public func transaction<T>(_ mode: String = "", _ body: (PGConnection) throws -> T) throws -> T {
        try execute(mode.isEmpty ? "BEGIN" : "BEGIN \(mode)")
        do {
            let value = try body(self)
            try execute("COMMIT")
            return value
        } catch {
            if !isBroken { try? execute("ROLLBACK") }
            throw error
        }
    }

    @discardableResult
    private func consume(_ result: OpaquePointer?, connection: OpaquePointer) throws -> PGRows {
        guard let result else {
            failed = true
            throw PGError(.connection, String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            let columnCount = Int(PQnfields(result))
            let rowCount = Int(PQntuples(result))
            var columns: [String] = []
            columns.reserveCapacity(columnCount)
            for column in 0..<columnCount { columns.append(String(cString: PQfname(result, Int32(column)))) }
            var rows: [[String?]] = []
            rows.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                var values: [String?] = []
                values.reserveCapacity(columnCount)
                for column in 0..<columnCount {
                    if PQgetisnull(result, Int32(row), Int32(column)) != 0 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                    }
                }
                rows.append(values)
            }
            let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            return PGRows(columns: columns, rows: rows, affected: affected)
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines
            if PQstatus(connection) != CONNECTION_OK || status == PGRES_FATAL_ERROR && sqlState == nil {
                failed = true
                throw PGError(.connection, sqlState: sqlState, message)
            }
            throw PGError(.query, sqlState: sqlState, message)
        }
    }

    /// Passes `strings` to C as a NULL-terminated array of C strings (nil entries stay NULL).
    private static func withCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        var owned: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
        defer { for pointer in owned { free(pointer) } }
        owned.append(nil)
        return owned.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
        }
    }
}

extension String {
    fileprivate var trimmingTrailingNewlines: String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
