// `COPY … FROM STDIN` on a node-postgres client, which has no COPY support of its own (the usual
// add-on, pg-copy-streams, is not a dependency): a submittable query that sends the data when the
// server asks for it. Rebuilds write a view's rows with it (row-replay.ts); the bench's ceiling too.
import type pg from 'pg';

interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/** Runs `statement` (a `COPY … FROM STDIN`) with `data`, in the COPY text format, as its input. */
export function copyFrom(client: pg.Client, statement: string, data: string): Promise<void> {
  const bytes = Buffer.from(data);
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    const ignore = () => {};
    const submittable = {
      submit(connection: CopyConnection) {
        connection.query(statement);
      },
      handleCopyInResponse(connection: CopyConnection) {
        for (let at = 0; at < bytes.length; at += 64 * 1024) connection.sendCopyFromChunk(bytes.subarray(at, at + 64 * 1024));
        connection.endCopyFrom();
      },
      handleError(error: Error) {
        failure = error;
        reject(error);
      },
      handleReadyForQuery() {
        if (!failure) resolve();
      },
      handleCommandComplete: ignore,
      handleRowDescription: ignore,
      handleDataRow: ignore,
      handleEmptyQuery: ignore,
      handlePortalSuspended: ignore,
      handleCopyData: ignore,
    };
    void client.query(submittable as unknown as pg.QueryConfig);
  });
}
