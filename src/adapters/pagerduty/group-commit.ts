// Group commit: webhook events arriving together are written in one transaction, so a burst costs one disk sync.

/**
 * Wraps a synchronous batch writer. Items submitted during one turn of the event loop are written
 * together on the next `setImmediate`; each caller's promise settles once its batch is committed
 * (or rejects with the batch's error). `maxBatch` bounds how long one transaction holds the loop.
 */
export function groupCommit<I, O>(write: (items: I[]) => Promise<O[]>, options: { maxBatch?: number } = {}): (item: I) => Promise<O> {
  const maxBatch = Math.max(1, options.maxBatch ?? 256);
  let queue: Array<{ item: I; resolve: (o: O) => void; reject: (err: unknown) => void }> = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    if (queue.length > 0) schedule();
    write(batch.map((b) => b.item)).then(
      (results) => batch.forEach((b, i) => b.resolve(results[i]!)),
      (err: unknown) => {
        for (const b of batch) b.reject(err);
      },
    );
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  }

  return (item: I) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      schedule();
    });
}
