/**
 * The fleet of workers sharing one database: even holds as workers join, leave and die, and
 * memory-only passwords that reach the worker holding the account, sealed, and die with it.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.ts';
import { createContainer, type Container } from '../../container.ts';
import { createLogger } from '../../logger.ts';
import { createTestClock, signUp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects, useTestDatabase } from '../../../test/support/dialects.ts';
import type { Actor } from '../users/users.ts';
import { createFleetService, type FleetService } from './fleet.service.ts';

const HEARTBEAT_MS = 1_000;
const DEAD_AFTER_MS = 5_000;

describe.each(testDialects)('the fleet of workers on %s', (dialect) => {
  const database = useTestDatabase(dialect);
  const clock = createTestClock();
  const containers: Container[] = [];
  let container: Container;
  let actor: Actor;
  let user: SignedIn;

  /** A process of its own on the same database, with a name. */
  async function startProcess(workerId: string): Promise<Container> {
    const config = loadConfig({
      ...database.current.env,
      WORKER_HEARTBEAT_MS: String(HEARTBEAT_MS),
      WORKER_DEAD_AFTER_MS: String(DEAD_AFTER_MS),
    });
    const started = await createContainer(config, {
      logger: createLogger('silent'),
      now: clock.now,
      workerId,
    });
    containers.push(started);
    return started;
  }

  const fleet = (workerId: string): FleetService =>
    createFleetService({
      db: container.db,
      dialect,
      now: clock.now,
      workerId,
      settings: { heartbeatMs: HEARTBEAT_MS, deadAfterMs: DEAD_AFTER_MS },
    });

  async function holdings(): Promise<Record<string, number>> {
    const rows = await container.db.selectFrom('account_holds').select('worker_id').execute();
    const counts: Record<string, number> = {};
    for (const row of rows) counts[row.worker_id] = (counts[row.worker_id] ?? 0) + 1;
    return counts;
  }

  /** Every worker's turn, a few times over, a heartbeat apart. */
  async function settle(workers: FleetService[]): Promise<void> {
    for (let round = 0; round < 4; round += 1) {
      for (const worker of workers) await worker.turn();
      clock.advance(HEARTBEAT_MS);
    }
  }

  function imapAccount(remember: boolean, password?: string) {
    return {
      type: 'own' as const,
      name: 'Sales',
      email: `sales${Math.random().toString(36).slice(2)}@acme.test`,
      smtp: { host: 'smtp.acme.test', security: 'starttls' as const, requiresAuth: false },
      incoming: {
        protocol: 'imap' as const,
        host: 'imap.acme.test',
        username: 'sales',
        rememberPassword: remember,
        ...(password && { password }),
      },
    };
  }

  beforeAll(async () => {
    container = await startProcess('api');
    user = await signUp(container, { org: 'Fleet' });
    actor = { userId: user.userId, orgId: user.orgId, role: 'member' };
    for (let index = 0; index < 9; index += 1) {
      await container.services.accounts.create(actor, imapAccount(true, 'remembered'));
    }
  });

  afterAll(async () => {
    await Promise.all(containers.map((each) => each.close()));
  });

  if (dialect === 'sqlite') {
    it('has one worker, which holds every account; a restarted one takes them all at once', async () => {
      const first = fleet('first');
      await first.turn();
      expect(await holdings()).toEqual({ first: 9 });
      const restarted = fleet('restarted');
      const turn = await restarted.turn();
      expect(turn.buried.workers).toBe(1);
      expect(turn.held.size).toBe(9);
      expect(await holdings()).toEqual({ restarted: 9 });
      await restarted.leave();
      expect(await holdings()).toEqual({});
    });
    return;
  }

  it('spreads the accounts evenly, and evens them out again as workers leave, join and die', async () => {
    const [a, b, c] = [fleet('a'), fleet('b'), fleet('c')];
    await settle([a, b, c]);
    expect(await holdings()).toEqual({ a: 3, b: 3, c: 3 });
    const distinct = await container.db.selectFrom('account_holds').select('account_id').distinct().execute();
    expect(distinct).toHaveLength(9);

    await c.leave();
    await settle([a, b]);
    const afterLeaving = await holdings();
    expect(Object.keys(afterLeaving).sort()).toEqual(['a', 'b']);
    expect(afterLeaving.a! + afterLeaving.b!).toBe(9);
    expect(Math.max(afterLeaving.a!, afterLeaving.b!)).toBe(5);

    const d = fleet('d');
    await settle([a, b, d]);
    expect(await holdings()).toEqual({ a: 3, b: 3, d: 3 });

    // b stops without a word, as after SIGKILL; the others go on beating.
    let buried = { workers: 0, holds: 0, passwords: 0 };
    for (let waited = 0; waited <= DEAD_AFTER_MS + HEARTBEAT_MS; waited += HEARTBEAT_MS) {
      for (const worker of [a, d]) {
        const turn = await worker.turn();
        buried = {
          workers: buried.workers + turn.buried.workers,
          holds: buried.holds + turn.buried.holds,
          passwords: buried.passwords + turn.buried.passwords,
        };
      }
      clock.advance(HEARTBEAT_MS);
    }
    await settle([a, d]);
    expect(buried).toEqual({ workers: 1, holds: 3, passwords: 0 });
    const afterDeath = await holdings();
    expect(Object.keys(afterDeath).sort()).toEqual(['a', 'd']);
    expect(afterDeath.a! + afterDeath.d!).toBe(9);
    expect(await a.liveWorkerIds()).toEqual(expect.arrayContaining(['a', 'd']));
    expect(await a.liveWorkerIds()).not.toContain('b');
    await Promise.all([a.leave(), d.leave()]);
  });

  it('takes a memory-only password to the worker holding the account, sealed, and loses it with that worker', async () => {
    const secret = `memory-only-${Math.random().toString(36).slice(2)}`;
    const account = await container.services.accounts.create(actor, imapAccount(false));
    const worker = await startProcess('worker-b');
    await worker.services.fleet.turn();
    expect(await worker.services.fleet.liveHolder(account.id)).toBe('worker-b');
    const url = (database.current.config as { url: string }).url;
    const listener = worker.services.passwordCourier.listen(url, createLogger('silent'));
    const notes: string[] = [];
    const eavesdropper = new pg.Client({ connectionString: url });
    await eavesdropper.connect();
    eavesdropper.on('notification', (message) => notes.push(message.payload ?? ''));
    await eavesdropper.query('listen mailroom_passwords');
    try {
      await listener.ready;
      const supplied = await container.services.accounts.supplyPasswords(actor, account.id, {
        incoming: secret,
      });
      expect(supplied.incoming.hasPassword).toBe(true);
      expect(supplied.health.incoming.state).not.toBe('password_required');
      await expect
        .poll(async () => (await worker.services.accounts.sender(account.id))?.passwords.incoming)
        .toBe(secret);
      // The process that took it from the person does not keep it; nor does any table.
      expect((await container.services.accounts.sender(account.id))?.passwords.incoming).toBeNull();
      const row = await container.db
        .selectFrom('accounts')
        .selectAll()
        .where('id', '=', account.id)
        .executeTakeFirstOrThrow();
      expect(JSON.stringify(row)).not.toContain(secret);
      expect(row).toMatchObject({ password_holder: 'worker-b', memory_kinds: 'incoming', secrets: null });
      expect(notes).toHaveLength(1);
      expect(notes[0]).not.toContain(secret);

      // worker-b dies; the api process, a worker too, buries it and the account asks again.
      await listener.close();
      const api = container.services.fleet;
      for (let waited = 0; waited <= DEAD_AFTER_MS + HEARTBEAT_MS; waited += HEARTBEAT_MS) {
        await api.turn();
        clock.advance(HEARTBEAT_MS);
      }
      const asked = await container.services.accounts.get(actor, account.id);
      expect(asked.incoming.hasPassword).toBe(false);
      expect(asked.health.incoming.state).toBe('password_required');

      // Given again, it stays with the api process (it holds the account now); when that stops on
      // purpose, it hands the password to the worker still running.
      await api.turn();
      await container.services.accounts.supplyPasswords(actor, account.id, { incoming: secret });
      expect((await container.services.accounts.sender(account.id))?.passwords.incoming).toBe(secret);
      const heir = await startProcess('worker-c');
      const heirListener = heir.services.passwordCourier.listen(url, createLogger('silent'));
      try {
        await heirListener.ready;
        await heir.services.fleet.turn();
        await container.services.passwordCourier.handOver();
        await expect
          .poll(async () => (await heir.services.accounts.sender(account.id))?.passwords.incoming)
          .toBe(secret);
        const handed = await container.db
          .selectFrom('accounts')
          .select(['password_holder', 'memory_kinds'])
          .where('id', '=', account.id)
          .executeTakeFirstOrThrow();
        expect(handed).toEqual({ password_holder: 'worker-c', memory_kinds: 'incoming' });
        expect(notes.every((note) => !note.includes(secret))).toBe(true);
      } finally {
        await heirListener.close();
      }
    } finally {
      await listener.close();
      await eavesdropper.end();
    }
  });
});
