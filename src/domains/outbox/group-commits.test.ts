import { describe, expect, it } from 'vitest';
import { batchWrites } from './write-behind.ts';

/** Every item urgent: written at the next turn, with whatever else was asked for in this one. */
function groupCommits<Item>(write: (items: Item[]) => Promise<void>) {
  const writes = batchWrites(write, { urgent: () => true, delayMs: 0, maxItems: Infinity });
  return (item: Item) => writes.add(item);
}

describe('group commits', () => {
  it('makes the writes asked for at the same moment together, and lets each caller go once it is done', async () => {
    const writes: string[][] = [];
    const write = groupCommits<string>(async (items) => {
      writes.push(items);
    });
    await Promise.all([write('a'), write('b'), write('c')]);
    await write('d');
    expect(writes).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('fails every caller whose item was in a failed write', async () => {
    const write = groupCommits<number>(async () => {
      throw new Error('disk full');
    });
    const outcomes = await Promise.allSettled([write(1), write(2)]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('writes behind', () => {
  it('lets items that need not hurry wait for the next urgent one, and share its write', async () => {
    const writes: string[][] = [];
    const journal = batchWrites<string>(
      async (items) => {
        writes.push(items);
      },
      { urgent: (item) => item.startsWith('note'), delayMs: 60_000, maxItems: 100 },
    );
    const behind = [journal.add('outcome 1'), journal.add('outcome 2')];
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual([]);
    await journal.add('note 3');
    await Promise.all(behind);
    expect(writes).toEqual([['outcome 1', 'outcome 2', 'note 3']]);
  });

  it('writes what waits at once on flush, never two writes at the same time', async () => {
    const writes: string[][] = [];
    let running = 0;
    let overlapped = false;
    const journal = batchWrites<string>(
      async (items) => {
        running += 1;
        overlapped ||= running > 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
        writes.push(items);
        running -= 1;
      },
      { urgent: (item) => item === 'urgent', delayMs: 60_000, maxItems: 100 },
    );
    void journal.add('urgent');
    await new Promise((resolve) => setImmediate(resolve));
    void journal.add('a');
    void journal.add('urgent');
    void journal.add('b');
    await journal.flush();
    expect(writes).toEqual([['urgent'], ['a', 'urgent', 'b']]);
    expect(overlapped).toBe(false);
  });
});

describe('writes side by side', () => {
  it('runs up to `concurrency` writes at once, and gathers what comes meanwhile into the next', async () => {
    const writes: number[][] = [];
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const notes = batchWrites<number>(
      async (items) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        writes.push(items);
        running -= 1;
      },
      { urgent: () => true, delayMs: 0, maxItems: Infinity, concurrency: 2 },
    );
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const done = [notes.add(1)];
    await turn();
    done.push(notes.add(2));
    await turn();
    done.push(notes.add(3), notes.add(4));
    await turn();
    expect(running).toBe(2);
    releases.shift()!();
    await turn();
    await turn();
    while (releases.length > 0) {
      releases.shift()!();
      await turn();
      await turn();
    }
    await Promise.all(done);
    expect(writes).toEqual([[1], [2], [3, 4]]);
    expect(most).toBe(2);
  });
});
