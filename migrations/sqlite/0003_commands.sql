-- What the chat commands need. Never edit an applied migration.

-- Channels an admin asked to share with a connection the other side has not accepted yet:
-- sent once it is confirmed, then deleted.
CREATE TABLE waiting_shares (
    remote_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (remote_id, channel_id)
);

-- Each command post is handled once: claimed before the work, marked done after, so a
-- WebSocket event replayed after a restart neither runs a command twice nor drops it silently.
CREATE TABLE handled_commands (
    post_id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
