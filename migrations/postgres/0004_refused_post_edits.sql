-- Posts the server will never let sharebot edit again (a post in an archived channel, a post
-- that was deleted): the server's error id, set once, so a reconcile pass does not try again
-- and again. NULL for every post that can still be edited. Never edit an applied migration.
ALTER TABLE notification_posts ADD COLUMN refused_edit TEXT;
