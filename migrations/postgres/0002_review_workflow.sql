-- What the review workflow needs beyond the first schema. Never edit an applied migration.

-- The organization (connection display name) and the channel's header, as shown in the DMs;
-- the team suggested in the menu; whether the channel was auto-accepted (no review asked).
ALTER TABLE review_requests ADD COLUMN org_name TEXT NOT NULL DEFAULT '';
ALTER TABLE review_requests ADD COLUMN channel_header TEXT NOT NULL DEFAULT '';
ALTER TABLE review_requests ADD COLUMN suggested_team_id TEXT;
ALTER TABLE review_requests ADD COLUMN auto_accepted BIGINT NOT NULL DEFAULT 0;
-- A decision being applied: 'accept' or 'reject' while the request is still 'pending', set by one
-- conditional update (the winner of concurrent clicks), cleared when the work fails so the
-- request stays retryable. team_id/decided_by/decided_at/note hold the claimed decision meanwhile.
ALTER TABLE review_requests ADD COLUMN deciding TEXT;
-- Steps of a decision already done (e.g. 'notice' once the reject notice is posted), so a
-- restart finishes the work without repeating them.
ALTER TABLE review_requests ADD COLUMN progress TEXT NOT NULL DEFAULT '';

-- 'dm' (an admin's review DM) or 'channel' (the auto-accept notice in the admin channel).
ALTER TABLE notification_posts ADD COLUMN kind TEXT NOT NULL DEFAULT 'dm';
-- The team this admin picked in the menu of this post, used by Accept.
ALTER TABLE notification_posts ADD COLUMN chosen_team_id TEXT;
-- What the post shows now (a key of the request's state), so a post that falls behind the
-- request (a restart between the decision and the DM update) is brought up to date.
ALTER TABLE notification_posts ADD COLUMN shown TEXT NOT NULL DEFAULT '';
CREATE INDEX notification_posts_by_post ON notification_posts (post_id);
