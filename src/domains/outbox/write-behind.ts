/**
 * Group commit: the writes asked for while another is running, or in the same turn of the event
 * loop, are made together, one write (one transaction, one commit) at a time. Each caller's
 * promise settles once the write that held its item has committed, or failed with it.
 *
 * An urgent item (one its caller waits on before it may go on, such as the note before DATA) is
 * written at the next turn. Others may wait up to `delayMs` for company, unless `maxItems` are
 * already waiting: an outcome written behind costs no one any time, and its commit is shared.
 */
export function batchWrites<Item>(
  write: (items: Item[]) => Promise<void>,
  options: { urgent(item: Item): boolean; delayMs: number; maxItems: number },
) {
  interface Waiting {
    item: Item;
    resolve(): void;
    reject(error: unknown): void;
  }
  let waiting: Waiting[] = [];
  let urgent = false;
  let writing: Promise<void> | null = null;
  let scheduled: 'now' | ReturnType<typeof setTimeout> | null = null;

  function writeWaiting(): Promise<void> {
    if (scheduled !== null && scheduled !== 'now') clearTimeout(scheduled);
    scheduled = null;
    const batch = waiting;
    waiting = [];
    urgent = false;
    const done = write(batch.map((entry) => entry.item)).then(
      () => batch.forEach((entry) => entry.resolve()),
      (error: unknown) => batch.forEach((entry) => entry.reject(error)),
    );
    writing = done.finally(() => {
      writing = null;
      if (waiting.length > 0) schedule();
    });
    return writing;
  }

  /** At most one write runs; the next is planned once it ends. */
  function schedule(): void {
    if (writing || waiting.length === 0) return;
    if (urgent || waiting.length >= options.maxItems) {
      if (scheduled === 'now') return;
      if (scheduled !== null) clearTimeout(scheduled);
      scheduled = 'now';
      setImmediate(() => {
        if (scheduled === 'now') void writeWaiting();
      });
      return;
    }
    if (scheduled !== null) return;
    scheduled = setTimeout(() => void writeWaiting(), options.delayMs);
    scheduled.unref?.();
  }

  return {
    add(item: Item): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        if (options.urgent(item)) urgent = true;
        schedule();
      });
    },

    /** Writes whatever waits now, and resolves once every write asked for so far has ended. */
    async flush(): Promise<void> {
      while (writing || waiting.length > 0) {
        if (writing) await writing;
        else await writeWaiting();
      }
    },
  };
}
