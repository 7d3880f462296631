import ArgumentParser
import LeaderboardApp
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the API server (the default command).")

    @OptionGroup var options: ConfigOptions

    /// Every way start-up can fail ends the process with one line naming the cause and status 1:
    /// a bad configuration, a port that is taken, PostgreSQL or a Redis node that does not answer
    /// within its timeout. SIGTERM and SIGINT end it at once while it starts, and within
    /// `server.shutdown_timeout` once it serves.
    func run() async throws {
        let config = options.load()
        let logger = makeLogger(config: config)
        let stopper = ProcessStopper(timeout: config.server.shutdownTimeout, logger: logger)
        stopper.install()
        await ensurePortFree(host: config.server.host, port: config.server.port)
        let system: LeaderboardSystem
        do {
            system = try await LeaderboardSystem.make(config: config, logger: logger)
        } catch {
            fail("cannot start: \(error)")
        }
        if let cluster = system.redisCluster {
            // Any seed that answers gives the slot map; every master must answer.
            do {
                try await cluster.checkHealth()
            } catch {
                await system.close()
                fail("cannot start: the Redis Cluster (seeds \(cluster.configuration.seeds)) is not ready: \(error)")
            }
        }
        for (node, pool) in system.redisCluster == nil ? system.redisNodes.sorted(by: { $0.key < $1.key }) : [] {
            do {
                _ = try await pool.command("PING")
            } catch {
                await system.close()
                fail("cannot start: Redis node '\(node)' (\(pool.configuration.connection.host):\(pool.configuration.connection.port)) does not answer: \(error)")
            }
        }
        let app = buildApplication(config: config, system: system, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        stopper.serving(group)
        do {
            try await group.run()
        } catch {
            logger.critical("leaderboard-server stopped", metadata: ["error": "\(error)"])
            fail("stopped: \(error)")
        }
    }

    /// Binds the server's address once (as the server will) and lets it go, so that a port in use
    /// ends start-up at once with a message naming it, before any store is touched.
    private func ensurePortFree(host: String, port: Int) async {
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
            try await channel.close()
        } catch {
            fail("cannot listen on \(host):\(port) (server.host, server.port): \(error)")
        }
    }
}
