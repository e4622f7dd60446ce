-- The review workflow's tables (PostgreSQL). Never edit an applied migration: add a new one.

-- How each secure connection (Mattermost remote cluster) treats incoming shared channels.
CREATE TABLE connection_policies (
    remote_id TEXT PRIMARY KEY NOT NULL,
    policy TEXT NOT NULL CHECK (policy IN ('review', 'auto_accept')),
    -- Team that channels go to under auto_accept (NULL under review: they wait in the inbox team).
    destination_team_id TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One request per arrival of a shared channel: pending -> accepted | rejected | withdrawn.
CREATE TABLE review_requests (
    id TEXT PRIMARY KEY NOT NULL,
    remote_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    channel_name TEXT NOT NULL,
    channel_display_name TEXT NOT NULL,
    channel_type TEXT NOT NULL,
    channel_purpose TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected', 'withdrawn')),
    team_id TEXT,
    decided_by TEXT,
    decided_at BIGINT,
    note TEXT,
    reminded_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- A channel has at most one open request: a second discovery is a no-op.
CREATE UNIQUE INDEX review_requests_one_pending_per_channel ON review_requests (channel_id) WHERE state = 'pending';
CREATE INDEX review_requests_by_state ON review_requests (state, created_at);

-- The DM post each admin got about a request, so every copy can be updated and none is sent twice.
CREATE TABLE notification_posts (
    request_id TEXT NOT NULL REFERENCES review_requests (id) ON DELETE CASCADE,
    admin_user_id TEXT NOT NULL,
    channel_id TEXT,
    -- NULL while the post is being sent (claimed), set once Mattermost has it.
    post_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, admin_user_id)
);

-- Who did what, when.
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);

-- Runtime state such as the WebSocket resume point. Nothing secret.
CREATE TABLE kv (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
