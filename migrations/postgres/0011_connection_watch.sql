-- What the bot last saw of each secure connection, so a change of health or an expiring
-- invite is announced once, and a restart neither repeats an announcement nor floods the
-- admin channel. Never edit an applied migration.
CREATE TABLE connection_watch (
    remote_id TEXT PRIMARY KEY NOT NULL,
    -- 1 online, 0 offline, as last announced (or first recorded); NULL: not confirmed yet.
    online BIGINT,
    -- Since when that state holds (ms): the last ping before it went offline, or when it
    -- was first seen online again.
    since BIGINT,
    -- When the "invite expires soon" warning and the "invite expired" note were posted.
    invite_warned_at BIGINT,
    invite_expired_at BIGINT,
    updated_at BIGINT NOT NULL
);
