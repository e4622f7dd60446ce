-- One request per channel whatever its state: pending, accepted or rejected (a withdrawn request
-- is history: the sender stopped sharing before anyone decided, and a later share is a new
-- request). The first index held only pending rows, so the arrival path and a reconcile pass
-- could both record an auto-accepted channel. Never edit an applied migration.

-- Duplicates recorded before this index are dropped, keeping per channel the request whose
-- decision is being applied, else a decided one, else the most recently changed; each drop is
-- written to the audit log, and the dropped request's post records go with it.
CREATE TEMPORARY TABLE duplicate_requests AS
SELECT id, channel_id, channel_display_name, org_name, state FROM (
    SELECT r.*, ROW_NUMBER() OVER (
        PARTITION BY channel_id
        ORDER BY (deciding IS NOT NULL) DESC, (state <> 'pending') DESC, updated_at DESC, id DESC
    ) AS place
    FROM review_requests r
    WHERE state <> 'withdrawn'
) ranked
WHERE place > 1;

INSERT INTO audit_log (at, actor, action, subject, detail)
SELECT (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT, 'sharebot', 'request.duplicate_dropped', id,
       'channel ' || channel_display_name || ' from ' || org_name || ' (' || state || ') was recorded twice'
FROM duplicate_requests;
DELETE FROM notification_posts WHERE request_id IN (SELECT id FROM duplicate_requests);
DELETE FROM review_requests WHERE id IN (SELECT id FROM duplicate_requests);
DROP TABLE duplicate_requests;

DROP INDEX review_requests_one_pending_per_channel;
CREATE UNIQUE INDEX review_requests_one_per_channel ON review_requests (channel_id) WHERE state <> 'withdrawn';
