-- Which key signed the buttons of each open post, so that after a change of server.secret
-- the start-up re-signs every post an older key signed. Never edit an applied migration.

-- The review DMs, channel notices and `pending` cards. NULL: signed before key ids were
-- recorded (re-signed at the next start).
ALTER TABLE notification_posts ADD COLUMN key_id TEXT;

-- Posts with command buttons (disconnect's confirmation, accept-invite's button, …). Each
-- post's buttons carry a signed `button` id; a click counts only from the post recorded for
-- that id, and only while the post is open. `props` is the post's props as sent (the
-- button contexts included; no secret), so it can be re-signed.
CREATE TABLE button_posts (
    button_id TEXT PRIMARY KEY NOT NULL,
    post_id TEXT,
    channel_id TEXT NOT NULL,
    props TEXT NOT NULL,
    key_id TEXT NOT NULL,
    closed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX button_posts_post_id ON button_posts (post_id);
