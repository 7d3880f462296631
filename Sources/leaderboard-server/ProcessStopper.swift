import Dispatch
import Foundation

/// The write end of the pipe the signal handler writes to (set once, before the handler is installed).
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1
import Logging
import ServiceLifecycle
import Synchronization

/// SIGTERM and SIGINT, for the whole life of the server process. Before the service group runs
/// (pools opening, migrations, a store that is slow to answer) a signal ends the process at once;
/// once it runs, the first signal starts a graceful shutdown, and the process exits anyway when
/// that has not ended within the timeout (a hung store cannot keep it alive) or at a second signal.
final class ProcessStopper: Sendable {
    private let timeout: Duration
    private let logger: Logger
    private let state = Mutex<(group: ServiceGroup?, signalled: Bool)>((nil, false))
    init(timeout: Duration, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    /// Installs the signal handlers (once per process, before anything can block). The handler
    /// only writes the signal's number to a pipe (what a signal handler may safely do, on whichever
    /// thread the signal lands); a thread of its own reads the pipe and acts.
    func install() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { fatalError("pipe: \(errno)") }
        signalPipeWrite = fds[1]
        for number in [SIGTERM, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWrite, &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(number, &action, nil)
        }
        let readEnd = fds[0]
        Thread.detachNewThread { [self] in
            while true {
                var byte: UInt8 = 0
                let count = read(readEnd, &byte, 1)
                if count == 1 {
                    received(Int32(byte))
                } else if count == 0 || errno != EINTR {
                    return
                }
            }
        }
    }

    /// From now on a signal shuts `group` down gracefully.
    func serving(_ group: ServiceGroup) {
        state.withLock { $0.group = group }
    }

    private func received(_ number: Int32) {
        let name = number == SIGTERM ? "SIGTERM" : "SIGINT"
        let (group, again) = state.withLock { state -> (ServiceGroup?, Bool) in
            defer { state.signalled = true }
            return (state.group, state.signalled)
        }
        guard let group else {
            logger.notice("stopped by \(name) while starting")
            Self.exitNow(0)
        }
        if again {
            logger.warning("stopped by a second \(name) before the graceful shutdown ended")
            Self.exitNow(1)
        }
        logger.info("shutting down (\(name))")
        Task { await group.triggerGracefulShutdown() }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [logger] in
            logger.error("graceful shutdown took longer than server.shutdown_timeout (\(seconds) s); exiting")
            Self.exitNow(1)
        }
    }

    /// Ends the process from this thread while others may still run: the output is flushed, and
    /// no exit handlers run (they could race the threads that are still working).
    private static func exitNow(_ status: Int32) -> Never {
        fflush(nil)
        _exit(status)
    }
}
