-- A relocation's history and its steps. Never edit an applied migration.

-- The team a channel was first accepted into, once it was moved elsewhere (NULL until then),
-- and who made the latest move and when: the decision itself (decided_by/decided_at) is kept.
ALTER TABLE review_requests ADD COLUMN accepted_team_id TEXT;
ALTER TABLE review_requests ADD COLUMN moved_by TEXT;
ALTER TABLE review_requests ADD COLUMN moved_at BIGINT;
-- A relocation recorded before it starts (set by one conditional update), cleared when it is
-- recorded as done or rolled back: a restart finishes or rolls back what is left here.
ALTER TABLE review_requests ADD COLUMN relocating_to TEXT;
ALTER TABLE review_requests ADD COLUMN relocating_by TEXT;
