-- Wakes the readers of the event log (relays, and consumers in embedded mode: src/cqrs/log-source.ts)
-- when events commit. A statement-level trigger rather than a pg_notify call after each append: one
-- round trip less per command, and no insert into event_log, by any path, can forget to wake them.
-- PostgreSQL delivers a notification at commit, and only once per transaction for the same channel
-- and payload. Not in write.prisma: Prisma does not describe triggers.
CREATE FUNCTION event_log_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('event_log', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER event_log_notify AFTER INSERT ON event_log FOR EACH STATEMENT EXECUTE FUNCTION event_log_notify();
