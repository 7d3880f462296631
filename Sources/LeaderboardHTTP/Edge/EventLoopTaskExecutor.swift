import NIOCore

/// Runs a task's jobs on one NIO event loop.
///
/// A connection's requests are handled with this executor of the connection's own loop as their
/// task's preference (``GuardedHTTP1Channel``), so a read runs where its bytes arrived: the
/// request, the Redis round (on connections of the same loop, see
/// `RedisConnectionPool.callersLoop`), the replies and the answer all on one thread. Without it,
/// each of those steps crossed between the cooperative pool and an event loop, a thread wake-up
/// and a context switch each time.
///
/// What runs here must not block: everything that does (PostgreSQL, files) already runs on its
/// own threads and is awaited.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
