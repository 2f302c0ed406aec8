/**
 * Group commit: the writes asked for while others are running, or in the same turn of the event
 * loop, are made together, `concurrency` writes (one transaction, one commit each) at a time, one
 * unless said otherwise. Each caller's promise settles once the write that held its item has
 * committed, with what that write returned, or failed with it.
 *
 * An urgent item (one its caller waits on before it may go on, such as the note before DATA) is
 * written at the next turn. Others may wait up to `delayMs` for company, unless `maxItems` are
 * already waiting: an outcome written behind costs no one any time, and its commit is shared.
 */
export function batchWrites<Item, Written = void>(
  write: (items: Item[]) => Promise<Written>,
  options: { urgent(item: Item): boolean; delayMs: number; maxItems: number; concurrency?: number },
) {
  const concurrency = options.concurrency ?? 1;
  interface Waiting {
    item: Item;
    resolve(written: Written): void;
    reject(error: unknown): void;
  }
  let waiting: Waiting[] = [];
  let urgent = false;
  const writing = new Set<Promise<void>>();
  let scheduled: 'now' | ReturnType<typeof setTimeout> | null = null;

  function writeWaiting(): Promise<void> {
    if (scheduled !== null && scheduled !== 'now') clearTimeout(scheduled);
    scheduled = null;
    const batch = waiting;
    waiting = [];
    urgent = false;
    const done = write(batch.map((entry) => entry.item)).then(
      (written) => batch.forEach((entry) => entry.resolve(written)),
      (error: unknown) => batch.forEach((entry) => entry.reject(error)),
    );
    const running: Promise<void> = done.finally(() => {
      writing.delete(running);
      if (waiting.length > 0) schedule();
    });
    writing.add(running);
    return running;
  }

  /** A planned write goes ahead unless the others took its room meanwhile; one that ends plans again. */
  function writeIfRoom(): void {
    scheduled = null;
    if (waiting.length > 0 && writing.size < concurrency) void writeWaiting();
  }

  /** At most `concurrency` writes run; the next is planned once one ends. */
  function schedule(): void {
    if (writing.size >= concurrency || waiting.length === 0) return;
    if (urgent || waiting.length >= options.maxItems) {
      if (scheduled === 'now') return;
      if (scheduled !== null) clearTimeout(scheduled);
      scheduled = 'now';
      setImmediate(() => {
        if (scheduled === 'now') writeIfRoom();
      });
      return;
    }
    if (scheduled !== null) return;
    scheduled = setTimeout(writeIfRoom, options.delayMs);
    scheduled.unref?.();
  }

  return {
    add(item: Item): Promise<Written> {
      return new Promise<Written>((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        if (options.urgent(item)) urgent = true;
        schedule();
      });
    },

    /** Writes whatever waits now, and resolves once every write asked for so far has ended. */
    async flush(): Promise<void> {
      for (;;) {
        if (waiting.length > 0 && writing.size < concurrency) void writeWaiting();
        else if (writing.size > 0) await Promise.race(writing);
        else return;
      }
    },
  };
}
