-- Leadership among replicas on one database. The replica that wins the advisory lock raises
-- `epoch` and records who it is; every write made for the leader's loops runs on connections
-- that carry the epoch they were opened for (the `sharebot.fence` setting), and the trigger
-- below refuses it once another replica has raised the epoch: a paused old leader that wakes
-- cannot write. Callbacks run on connections without the setting and are never refused.
-- Never edit an applied migration.

CREATE TABLE leader_epoch (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    epoch BIGINT NOT NULL,
    -- The leading replica's name (ha.name, or host-pid), for `connections` and the log.
    replica TEXT NOT NULL,
    since BIGINT NOT NULL
);
INSERT INTO leader_epoch (id, epoch, replica, since) VALUES (1, 0, '', 0);

-- FOR SHARE: a write either commits before the next epoch is written (the new leader's
-- UPDATE waits for it) or sees that epoch and fails; never a write after a takeover.
CREATE FUNCTION sharebot_fence() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    fence TEXT := current_setting('sharebot.fence', true);
BEGIN
    IF fence IS NULL OR fence = '' THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM leader_epoch WHERE id = 1 AND epoch = fence::BIGINT FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'leader epoch % is over: another replica leads now', fence
            USING ERRCODE = 'SBF01';
    END IF;
    RETURN NULL;
END
$$;

-- Every table there is at this point (those of earlier migrations included); a table made by
-- a later migration must add the same trigger.
DO $$
DECLARE
    t TEXT;
BEGIN
    FOR t IN
        SELECT tablename FROM pg_tables
        WHERE schemaname = current_schema() AND tablename NOT IN ('_sqlx_migrations', 'leader_epoch')
    LOOP
        EXECUTE format(
            'CREATE TRIGGER sharebot_fence BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH STATEMENT EXECUTE FUNCTION sharebot_fence()',
            t
        );
    END LOOP;
END
$$;
