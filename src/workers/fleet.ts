import type { Logger } from 'pino';
import type { FleetService } from '../domains/workers/fleet.service.ts';
import type { PasswordCourier } from '../domains/workers/password-courier.ts';
import type { PeriodicTask } from './runner.ts';

/** Past this share of the dead-after time without a heartbeat, a worker closes IDLE on its own. */
const SELF_FENCE_SHARE = 0.75;

export interface FleetMembershipDeps {
  fleet: FleetService;
  courier: PasswordCourier;
  /** Opens and closes IDLE as holds come and go. */
  mailboxes: { hold(accountIds: ReadonlySet<string>): Promise<void> };
  /** PostgreSQL: where the password channel listens; SQLite has one process and needs none. */
  databaseUrl: string | undefined;
  logger: Logger;
  now: () => Date;
  /** Counts accounts taken over from dead workers. */
  onTakeover?(holds: number): void;
}

/**
 * This process as a member of the fleet of workers: a heartbeat every `heartbeatMs` that renews
 * its holds, buries dead workers and evens out the holds, then opens or closes IDLE to match. A
 * worker that cannot reach the database for most of the dead-after time lets its IDLE connections
 * go before the others take its accounts, so no account is ever watched twice; one that comes back
 * after being buried forgets the memory-only passwords it had, which were given up with it.
 */
export function createFleetMembership(deps: FleetMembershipDeps) {
  const { fleet, courier, mailboxes, logger } = deps;
  let lastTurnAt: number | null = null;
  let listener: { close(): Promise<void> } | null = null;

  async function turn(): Promise<void> {
    let outcome;
    try {
      outcome = await fleet.turn();
    } catch (error) {
      const silentMs = lastTurnAt === null ? 0 : deps.now().getTime() - lastTurnAt;
      if (silentMs > fleet.settings.deadAfterMs * SELF_FENCE_SHARE) await mailboxes.hold(new Set());
      throw error;
    }
    if (outcome.joined && lastTurnAt !== null) {
      courier.forgetAll();
      logger.warn(
        'this worker had been taken for dead: its accounts and memory-only passwords were given up',
      );
    }
    lastTurnAt = deps.now().getTime();
    if (outcome.buried.workers > 0 || outcome.buried.holds > 0) {
      logger.info(outcome.buried, 'dead workers buried; their accounts are taken over');
      deps.onTakeover?.(outcome.buried.holds);
    }
    await mailboxes.hold(outcome.held);
  }

  const task: PeriodicTask = {
    name: 'fleet',
    intervalMs: fleet.settings.heartbeatMs,
    run: turn,
  };

  return {
    task,
    /** Joins the fleet before anything else runs, so passwords given to this process are its. */
    async join(): Promise<void> {
      await turn();
      if (deps.databaseUrl) listener = courier.listen(deps.databaseUrl, logger);
    },
    /** Hands memory-only passwords to another worker, lets the accounts go, and leaves. */
    async leave(): Promise<void> {
      await listener?.close();
      await mailboxes.hold(new Set());
      await courier.handOver();
      await fleet.leave();
    },
  };
}
