import { describe, expect, it } from 'vitest';
import { groupCommits } from './outbox.service.ts';

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
