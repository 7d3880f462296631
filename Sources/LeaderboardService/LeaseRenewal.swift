/// Work that holds a lease in PostgreSQL (a sync pass, a rebuild) renews it while it runs.
enum LeaseRenewal {
    /// Runs `body` while calling `renew` every `interval`. Returns the body's result, or nil when
    /// `renew` reported the lease lost (the body is then cancelled; it stops at its next check).
    static func whileRenewing<T: Sendable>(
        every interval: Duration, renew: @escaping @Sendable () async -> Bool, _ body: @escaping @Sendable () async -> T
    ) async -> T? {
        await withTaskGroup(of: T??.self) { group -> T? in
            group.addTask { .some(await body()) }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled { break }
                    if await !renew() { return .some(nil) }
                }
                return nil
            }
            var outcome: T? = nil
            // The renewer ends by itself only when the lease is lost; cancelled, it says nothing.
            while let next = await group.next() {
                guard let next else { continue }
                outcome = next
                break
            }
            group.cancelAll()
            return outcome
        }
    }
}
