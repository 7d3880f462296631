/// The PostgreSQL schema, as ordered migrations applied at start (see ``PostgresScoreRepository/migrate()``).
///
/// Ids use the "C" collation so that ORDER BY player_id is the byte order Redis uses for ties.
enum Migrations {
    static let all: [(version: Int, sql: String)] = [
        (
            1,
            """
            CREATE TABLE leaderboards (
                id VARCHAR(64) COLLATE "C" PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                sort_order VARCHAR(10) NOT NULL DEFAULT 'desc' CHECK (sort_order IN ('desc', 'asc')),
                reset_period VARCHAR(20) NOT NULL DEFAULT 'never' CHECK (reset_period IN ('never', 'daily', 'weekly', 'monthly')),
                max_entries INT NOT NULL DEFAULT 10000 CHECK (max_entries >= 0),
                update_mode VARCHAR(20) NOT NULL DEFAULT 'replace' CHECK (update_mode IN ('replace', 'increment', 'best')),
                layout JSONB NOT NULL DEFAULT '{"strategy": "single"}',
                layout_epoch INT NOT NULL DEFAULT 1,
                current_period INT NOT NULL DEFAULT 1,
                period_started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );

            -- The seed's surrogate id is left out: every score change rewrites the row's index
            -- entries, and (leaderboard_id, player_id) is the key every statement uses.
            CREATE TABLE player_scores (
                leaderboard_id VARCHAR(64) COLLATE "C" NOT NULL REFERENCES leaderboards(id) ON DELETE CASCADE,
                player_id VARCHAR(64) COLLATE "C" NOT NULL,
                score BIGINT NOT NULL CHECK (score BETWEEN -9007199254740991 AND 9007199254740991),
                metadata JSONB,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (leaderboard_id, player_id)
            );
            CREATE INDEX idx_player_scores_score ON player_scores (leaderboard_id, score DESC, player_id DESC);

            CREATE TABLE score_events (
                id BIGSERIAL PRIMARY KEY,
                leaderboard_id VARCHAR(64) COLLATE "C" NOT NULL,
                player_id VARCHAR(64) COLLATE "C" NOT NULL,
                score BIGINT NOT NULL,
                result_score BIGINT,
                event_type VARCHAR(20) NOT NULL,
                period INT NOT NULL,
                metadata JSONB,
                event_time TIMESTAMPTZ,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            CREATE INDEX idx_score_events_player ON score_events (player_id, created_at DESC);
            CREATE INDEX idx_score_events_board ON score_events (leaderboard_id, id);

            CREATE TABLE players (
                player_id VARCHAR(64) COLLATE "C" PRIMARY KEY,
                username VARCHAR(64),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );

            CREATE TABLE leaderboard_periods (
                leaderboard_id VARCHAR(64) COLLATE "C" NOT NULL REFERENCES leaderboards(id) ON DELETE CASCADE,
                period INT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                ended_at TIMESTAMPTZ NOT NULL,
                player_count BIGINT NOT NULL,
                PRIMARY KEY (leaderboard_id, period)
            );

            CREATE TABLE archived_scores (
                leaderboard_id VARCHAR(64) COLLATE "C" NOT NULL,
                period INT NOT NULL,
                player_id VARCHAR(64) COLLATE "C" NOT NULL,
                score BIGINT NOT NULL,
                rank BIGINT NOT NULL,
                metadata JSONB,
                PRIMARY KEY (leaderboard_id, period, player_id),
                FOREIGN KEY (leaderboard_id, period) REFERENCES leaderboard_periods(leaderboard_id, period) ON DELETE CASCADE
            );
            """
        ),
        (
            2,
            """
            -- Node id of each shard, fixed when the board is created (see Topology.placement).
            ALTER TABLE leaderboards ADD COLUMN placement JSONB NOT NULL DEFAULT '[]';
            """
        ),
        (
            3,
            """
            -- The official standings of each board, replaced by every sync pass (source=batch reads).
            CREATE TABLE board_snapshots (
                leaderboard_id VARCHAR(64) COLLATE "C" PRIMARY KEY REFERENCES leaderboards(id) ON DELETE CASCADE,
                taken_at TIMESTAMPTZ NOT NULL,
                player_count BIGINT NOT NULL,
                last_event_id BIGINT NOT NULL
            );
            CREATE TABLE snapshot_entries (
                leaderboard_id VARCHAR(64) COLLATE "C" NOT NULL REFERENCES board_snapshots(leaderboard_id) ON DELETE CASCADE,
                rank BIGINT NOT NULL,
                player_id VARCHAR(64) COLLATE "C" NOT NULL,
                score BIGINT NOT NULL,
                PRIMARY KEY (leaderboard_id, rank)
            );
            CREATE INDEX idx_snapshot_entries_player ON snapshot_entries (leaderboard_id, player_id);

            -- The last report of each board's sync pass, and who may run one (a lease, across processes).
            CREATE TABLE sync_reports (
                leaderboard_id VARCHAR(64) COLLATE "C" PRIMARY KEY REFERENCES leaderboards(id) ON DELETE CASCADE,
                report JSONB NOT NULL,
                finished_at TIMESTAMPTZ NOT NULL
            );
            CREATE TABLE sync_leases (
                leaderboard_id VARCHAR(64) COLLATE "C" PRIMARY KEY REFERENCES leaderboards(id) ON DELETE CASCADE,
                holder TEXT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL
            );
            """
        ),
        (
            4,
            """
            -- Reads of archived periods by rank (period= on the read endpoints).
            CREATE INDEX idx_archived_scores_rank ON archived_scores (leaderboard_id, period, rank);
            """
        ),
        (
            5,
            """
            -- One order of changes per board (see PostgresScoreRepository+GroupCommit): change_seq numbers
            -- every change of the board's real-time view, gapless, under the board row's lock;
            -- board_changes keeps each change so any process can apply one that was committed but
            -- not applied. player_count and the cut (the member at rank max_entries, NULL while the
            -- board has at most max_entries players) make trimming exact without reading the board.
            ALTER TABLE leaderboards
                ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN player_count BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN cut_score BIGINT,
                ADD COLUMN cut_player VARCHAR(64) COLLATE "C";
            UPDATE leaderboards l SET player_count = (SELECT count(*) FROM player_scores s WHERE s.leaderboard_id = l.id);
            UPDATE leaderboards l SET (cut_score, cut_player) = (
                SELECT s.score, s.player_id FROM player_scores s WHERE s.leaderboard_id = l.id
                ORDER BY s.score DESC, s.player_id DESC OFFSET l.max_entries - 1 LIMIT 1)
            WHERE l.max_entries > 0 AND l.player_count > l.max_entries AND l.sort_order = 'desc';
            UPDATE leaderboards l SET (cut_score, cut_player) = (
                SELECT s.score, s.player_id FROM player_scores s WHERE s.leaderboard_id = l.id
                ORDER BY s.score ASC, s.player_id ASC OFFSET l.max_entries - 1 LIMIT 1)
            WHERE l.max_entries > 0 AND l.player_count > l.max_entries AND l.sort_order = 'asc';
            CREATE TABLE board_changes (
                leaderboard_id VARCHAR(64) COLLATE "C" NOT NULL REFERENCES leaderboards(id) ON DELETE CASCADE,
                seq BIGINT NOT NULL,
                reset BOOLEAN NOT NULL DEFAULT false,
                period INT NOT NULL,
                players TEXT[] NOT NULL,
                before_scores BIGINT[] NOT NULL,
                after_scores BIGINT[] NOT NULL,
                last_event_id BIGINT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (leaderboard_id, seq)
            );
            CREATE INDEX idx_board_changes_age ON board_changes (created_at);
            """
        ),
        (
            6,
            """
            -- incarnation tells a board from an earlier one of the same id (deleted, created again):
            -- each shard's metadata names it, and keys of another incarnation are not the board's.
            CREATE SEQUENCE IF NOT EXISTS board_incarnations;
            ALTER TABLE leaderboards ADD COLUMN IF NOT EXISTS incarnation BIGINT NOT NULL DEFAULT nextval('board_incarnations');
            """
        ),
        (
            7,
            """
            -- Idempotency-Key of score submissions (see IdempotencyClaims): claimed and answered in
            -- the transaction of the request's group commit, kept 24 hours. The answer is the
            -- request's scores (comma-separated) or its error.
            CREATE TABLE IF NOT EXISTS idempotency_keys (
                key VARCHAR(64) COLLATE "C" PRIMARY KEY,
                fingerprint TEXT NOT NULL,
                scores TEXT,
                error_code TEXT,
                error_message TEXT,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS idx_idempotency_keys_age ON idempotency_keys (created_at);
            """
        ),
        (
            8,
            """
            -- Boards deleted whose Redis keys may remain (a node was unreachable during the delete):
            -- the recovery service drops them and then the row.
            CREATE TABLE IF NOT EXISTS board_removals (
                leaderboard_id VARCHAR(64) COLLATE "C" NOT NULL,
                incarnation BIGINT NOT NULL,
                layout TEXT NOT NULL,
                placement TEXT NOT NULL,
                removed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (leaderboard_id, incarnation)
            );
            """
        ),
        (
            9,
            """
            -- Boards whose real-time view must be rebuilt (a failed Redis write, a shard that lost its
            -- data), shared by every process: each learns the marks, one at a time rebuilds (a lease).
            CREATE TABLE IF NOT EXISTS board_rebuilds (
                leaderboard_id VARCHAR(64) COLLATE "C" PRIMARY KEY REFERENCES leaderboards(id) ON DELETE CASCADE,
                whole BOOLEAN NOT NULL,
                requested_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                holder TEXT,
                lease_until TIMESTAMPTZ
            );
            """
        ),
        (
            10,
            """
            -- Online layout changes: the layout a board is migrating to (read by every commit under the
            -- board's lock), each change's progress and lease, and removals of a retired epoch's keys.
            ALTER TABLE leaderboards ADD COLUMN IF NOT EXISTS migration_target JSONB;
            CREATE TABLE IF NOT EXISTS board_migrations (
                leaderboard_id VARCHAR(64) COLLATE "C" NOT NULL REFERENCES leaderboards(id) ON DELETE CASCADE,
                epoch INT NOT NULL,
                from_epoch INT NOT NULL,
                layout JSONB NOT NULL,
                placement JSONB NOT NULL,
                state TEXT NOT NULL,
                copied BIGINT NOT NULL DEFAULT 0,
                total BIGINT NOT NULL DEFAULT 0,
                failures INT NOT NULL DEFAULT 0,
                started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                finished_at TIMESTAMPTZ,
                holder TEXT,
                lease_until TIMESTAMPTZ,
                PRIMARY KEY (leaderboard_id, epoch)
            );
            ALTER TABLE board_removals ADD COLUMN IF NOT EXISTS epoch INT NOT NULL DEFAULT 1;
            ALTER TABLE board_removals ADD COLUMN IF NOT EXISTS not_before TIMESTAMPTZ NOT NULL DEFAULT now();
            ALTER TABLE board_removals DROP CONSTRAINT IF EXISTS board_removals_pkey;
            ALTER TABLE board_removals ADD PRIMARY KEY (leaderboard_id, incarnation, epoch);
            """
        ),
        (
            11,
            """
            -- Competition ranks from the official snapshot and archived periods: the first rank of a
            -- score is found by index.
            CREATE INDEX IF NOT EXISTS idx_snapshot_entries_score ON snapshot_entries (leaderboard_id, score, rank);
            CREATE INDEX IF NOT EXISTS idx_archived_scores_score ON archived_scores (leaderboard_id, period, score, rank);
            """
        ),
        (
            12,
            """
            -- Tie-breaks by commit time (`tie_break` earliest/latest): each commit that sets a score
            -- takes the board's next counter value, kept as the score's tie key (0 on player_id
            -- boards), and the board's order becomes (score, tie_key, player_id). The cut of a
            -- trimmed board is that triple.
            ALTER TABLE leaderboards ADD COLUMN IF NOT EXISTS tie_break VARCHAR(10) NOT NULL DEFAULT 'player_id'
                CHECK (tie_break IN ('player_id', 'earliest', 'latest'));
            ALTER TABLE leaderboards ADD COLUMN IF NOT EXISTS tie_counter BIGINT NOT NULL DEFAULT 0;
            ALTER TABLE leaderboards ADD COLUMN IF NOT EXISTS cut_tie BIGINT;
            ALTER TABLE player_scores ADD COLUMN IF NOT EXISTS tie_key BIGINT NOT NULL DEFAULT 0;
            CREATE INDEX IF NOT EXISTS idx_player_scores_order ON player_scores (leaderboard_id, score DESC, tie_key DESC, player_id DESC);
            DROP INDEX IF EXISTS idx_player_scores_score;
            """
        ),
        (
            13,
            """
            -- No foreign key from player_scores to leaderboards: its per-row check cost a bulk import
            -- about 7 s per million rows. Every writer of player_scores holds the board's row lock
            -- (a group commit and an import FOR NO KEY UPDATE, a delete of the board its row), so no
            -- score can be written for a board being or already deleted; the delete removes the
            -- board's scores itself.
            ALTER TABLE player_scores DROP CONSTRAINT IF EXISTS player_scores_leaderboard_id_fkey;
            """
        ),
        (
            14,
            """
            -- A removal row says how the board broke ties: the shards of a board ordered by commit
            -- time have tie maps to drop with them.
            ALTER TABLE board_removals ADD COLUMN IF NOT EXISTS tie_break VARCHAR(10) NOT NULL DEFAULT 'player_id';
            """
        ),
    ]
}
