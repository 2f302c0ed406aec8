/**
 * A marketing account's hourly and daily quotas, for one dispatcher. The counts of mail sent in the
 * last hour and day are read once per account and kept up to date as this worker sends; over quota,
 * a message waits (`ready`) until the window has room, and never fails.
 */
export function createQuotaGate(deps: {
  hourly: number;
  daily: number;
  sentSince(accountId: string, since: string): Promise<number>;
  now(): Date;
}) {
  const HOUR = 3_600_000;
  const DAY = 24 * HOUR;
  /** How long a message over quota waits before it is looked at again. */
  const RECHECK = { hour: 60_000, day: 15 * 60_000 };
  const counts = new Map<string, Promise<{ hour: number; day: number; readAt: number }>>();

  function countsOf(accountId: string) {
    const cached = counts.get(accountId);
    const now = deps.now().getTime();
    if (cached) return cached;
    const read = (async () => {
      const [hour, day] = await Promise.all([
        deps.sentSince(accountId, new Date(now - HOUR).toISOString()),
        deps.sentSince(accountId, new Date(now - DAY).toISOString()),
      ]);
      return { hour, day, readAt: now };
    })();
    counts.set(accountId, read);
    // Read again after a minute: other workers send from the same account too.
    void read.then(() => setTimeout(() => counts.delete(accountId), 60_000).unref());
    return read;
  }

  return {
    /**
     * Takes one message's place in the account's quotas. Resolves null when it may go now, or the
     * moment to look at it again.
     */
    async take(accountId: string): Promise<Date | null> {
      const current = await countsOf(accountId);
      const now = deps.now().getTime();
      if (current.day >= deps.daily) return new Date(now + RECHECK.day);
      if (current.hour >= deps.hourly) return new Date(now + RECHECK.hour);
      current.hour += 1;
      current.day += 1;
      return null;
    },
  };
}
