-- The queue check that ends an asynchronous command's acceptance (src/modules/async-commands/store.ts,
-- checkQueueCap), in one round trip: take the queue lock, then count what waits or runs. In a
-- VOLATILE function each statement takes a new snapshot, so the count, made once the lock is held,
-- sees every acceptance that committed before (a single statement would count from a snapshot taken
-- before it waited for the lock). Not in write.prisma: Prisma does not describe functions.
CREATE FUNCTION async_command_queue_depth(cap integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  depth bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('async-commands:queue', 0));
  SELECT count(*) INTO depth FROM (SELECT 1 FROM async_commands WHERE status IN ('ACCEPTED', 'RUNNING') LIMIT cap + 1) queued;
  RETURN depth;
END
$$;
