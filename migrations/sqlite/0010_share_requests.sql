-- Members' share requests: a member asks for one of our channels to be shared with a
-- connection; an approver decides. Never edit an applied migration.

-- pending -> approved | denied | withdrawn, each by one conditional update. `number` is what
-- the asker types (`withdraw <n>`). `applied` stays '' until an approval's share was made
-- ('shared', 'waiting', 'refused: …'); `finished_at` is set once every post shows the outcome
-- and the asker was told, so a restart finishes what a decision left undone.
CREATE TABLE share_requests (
    id TEXT PRIMARY KEY NOT NULL,
    number BIGINT NOT NULL,
    channel_id TEXT NOT NULL,
    channel_name TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    org_name TEXT NOT NULL,
    asked_by TEXT NOT NULL,
    -- Where the request was typed, and its thread: the asker's confirmation goes there.
    asked_in TEXT NOT NULL,
    asked_root TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'withdrawn')),
    decided_by TEXT,
    decided_at BIGINT,
    reason TEXT NOT NULL DEFAULT '',
    applied TEXT NOT NULL DEFAULT '',
    -- Every approver was sent the request (set after the fan-out).
    fanned_out BIGINT NOT NULL DEFAULT 0,
    finished_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX share_requests_by_number ON share_requests (number);
-- One open request per channel and connection: asking again is answered with the open one.
CREATE UNIQUE INDEX share_requests_one_pending ON share_requests (channel_id, remote_id) WHERE state = 'pending';
CREATE INDEX share_requests_by_state ON share_requests (state, created_at);

-- The posts about each share request: every approver's DM (recipient: the approver's id), the
-- asker's confirmation ('asker') and the asker's DM with the outcome ('outcome'). Claimed
-- before sending, completed after: a restart never sends a second copy and every copy can be
-- updated. `shown` is the request state the post shows.
CREATE TABLE share_request_posts (
    request_id TEXT NOT NULL REFERENCES share_requests (id) ON DELETE CASCADE,
    recipient TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    root_id TEXT NOT NULL DEFAULT '',
    post_id TEXT,
    shown TEXT NOT NULL DEFAULT '',
    key_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, recipient)
);
CREATE INDEX share_request_posts_by_post ON share_request_posts (post_id);
