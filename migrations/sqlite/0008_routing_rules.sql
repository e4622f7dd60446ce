-- Routing rules per connection, and the rule that decided a request. Never edit an applied
-- migration.

-- An ordered list of rules per connection (first match wins; the connection's policy is the
-- fallback). `pattern` is kept as the admin wrote it: a glob such as `eng-*`, or a regular
-- expression between slashes. `position` counts from 1 and is rewritten, in one transaction,
-- when a rule is removed or moved.
CREATE TABLE routing_rules (
    id TEXT PRIMARY KEY NOT NULL,
    remote_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    pattern TEXT NOT NULL,
    -- 'O' (public) or 'P' (private); NULL: either.
    channel_type TEXT CHECK (channel_type IN ('O', 'P')),
    -- A glob or /regex/ over the channel's display name; NULL: any.
    display_pattern TEXT,
    action TEXT NOT NULL CHECK (action IN ('accept', 'review', 'reject')),
    -- accept: the destination team; review: the team the DM's menu starts on (or NULL).
    team_id TEXT,
    -- reject: the reason the other organization is told (or NULL).
    reason TEXT,
    -- 1 while the channels already pending from this connection wait to be routed by the
    -- rules at the next pass (`rule add … --apply-pending`); 0 once they were.
    apply_pending BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- One rule per place in a connection's list: of two admins adding at once, one is refused.
CREATE UNIQUE INDEX routing_rules_by_connection ON routing_rules (remote_id, position);

-- The rule that decided a request, as it read then ("rule 2 of org-b: `eng-*`"); NULL when an
-- admin, an expiry or a withdrawal decided.
ALTER TABLE review_requests ADD COLUMN decided_by_rule TEXT;
