import { hostname } from 'node:os';
import type { Clock } from '../../clock.ts';
import type { Db, Dialect } from '../../db/database.ts';
import * as repo from './fleet.repository.ts';

export interface FleetSettings {
  /** How often a worker says it is alive, which renews every account it holds. */
  heartbeatMs: number;
  /** A worker silent this long is dead; a hold or password of its is given up. */
  deadAfterMs: number;
}

export interface FleetTurn {
  /** The accounts this worker holds now. */
  held: Set<string>;
  /** The worker's row was missing: it is new, or the others buried it after it went silent. */
  joined: boolean;
  /** Workers found dead and buried in this turn, and their holds given up. */
  buried: { workers: number; holds: number; passwords: number };
}

export type FleetService = ReturnType<typeof createFleetService>;

/**
 * The worker processes that share one database, and which of them holds each account. A hold
 * lasts while its worker's heartbeat is fresh: one heartbeat renews all of a worker's holds.
 * Every turn, each worker buries the dead, keeps its own holds, and moves towards an even share:
 * above it, it lets accounts go; below it, it takes accounts nobody holds. Accounts whose
 * memory-only passwords a worker has stay with that worker, whatever the share.
 *
 * On SQLite one process runs the workers, so any other worker found there is from before a
 * restart and is buried at once.
 */
export function createFleetService(deps: {
  db: Db;
  dialect: Dialect;
  now: Clock;
  workerId: string;
  settings: FleetSettings;
}) {
  const { db, dialect, now, workerId, settings } = deps;
  const aliveSince = () => new Date(now().getTime() - settings.deadAfterMs).toISOString();

  return {
    workerId,
    settings,

    async turn(): Promise<FleetTurn> {
      const at = now().toISOString();
      const joined =
        (await repo.beat(db, { id: workerId, host: hostname(), pid: process.pid, now: at })) === 'joined';
      const buried = await db.transaction().execute((tx) =>
        repo.buryDeadWorkers(tx, {
          aliveSince: dialect === 'sqlite' ? 'none' : aliveSince(),
          except: workerId,
          sweepHolds: joined,
        }),
      );
      await repo.dropStrayHolds(db, workerId);
      await repo.takePinnedHolds(db, workerId, at);
      const live = (await repo.findLiveWorkerIds(db, aliveSince())).length || 1;
      const share = Math.ceil((await repo.countHoldableAccounts(db)) / live);
      let holds = await repo.findHolds(db, workerId);
      if (holds.length > share) {
        const movable = holds
          .filter((hold) => hold.passwordHolder !== workerId)
          .map((hold) => hold.accountId)
          .sort()
          .slice(-(holds.length - share));
        await repo.releaseHolds(db, workerId, movable);
      } else if (holds.length < share) {
        await repo.claimFreeAccounts(db, { workerId, now: at, limit: share - holds.length });
      }
      if (holds.length !== share) holds = await repo.findHolds(db, workerId);
      return { held: new Set(holds.map((hold) => hold.accountId)), joined, buried };
    },

    /** A worker stopping on purpose lets its accounts go at once, for the others to take. */
    async leave(): Promise<void> {
      await repo.releaseHolds(db, workerId);
      await db.deleteFrom('workers').where('id', '=', workerId).execute();
    },

    /** The worker that holds the account now, if it is alive. */
    liveHolder: (accountId: string, tx = db) => repo.findLiveHolder(tx, accountId, aliveSince()),

    isLive: (id: string, tx = db) => repo.isLiveWorker(tx, id, aliveSince()),

    liveWorkerIds: () => repo.findLiveWorkerIds(db, aliveSince()),
  };
}
