-- Who leads. SQLite serves one process (a file lock refuses a second), so that process always
-- leads and nothing is fenced; the table keeps the bot's queries the same on both engines.
-- Never edit an applied migration.

CREATE TABLE leader_epoch (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    epoch BIGINT NOT NULL,
    replica TEXT NOT NULL,
    since BIGINT NOT NULL
);
INSERT INTO leader_epoch (id, epoch, replica, since) VALUES (1, 0, '', 0);
