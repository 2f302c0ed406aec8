import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createContainer, type Container } from '../../src/container.ts';
import { createLogger } from '../../src/logger.ts';
import { exited, startMailroom } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/dialects.ts';
import { createSendingAccount, messageIdOf } from '../support/outbox.ts';

const MESSAGES = 2_000;
const WORKERS = 3;
/** How long the sink takes over each message: slow enough that the kill lands mid-run. */
const SINK_DELAY_MS = 25;

type Worker = ReturnType<typeof startMailroom>;

interface Delivery {
  messageId: string;
  /** The worker process whose connection brought it; 0 when it could not be told. */
  pid: number;
  at: number;
}

/**
 * The process at the other end of a loopback TCP connection to us, from the kernel's tables: the
 * connection's socket inode in /proc/net/tcp, then the one process among `pids` holding it.
 */
function pidOfPeer(peerPort: number, pids: readonly number[]): number {
  const hexPort = peerPort.toString(16).toUpperCase().padStart(4, '0');
  const line = fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((row) => row.trim().split(/\s+/))
    .find((fields) => fields[1]?.endsWith(`:${hexPort}`));
  const inode = line?.[9];
  if (!inode || inode === '0') return 0;
  for (const pid of pids) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // the process is gone
    }
  }
  return 0;
}

/**
 * The issue's proof of crash safety: three real `mailroom worker` processes share 2,000 queued
 * messages on one PostgreSQL, and one is SIGKILLed while it sends. Every message is delivered
 * exactly once, or is `uncertain` (never re-sent: at most once), and none is lost.
 */
describe('three workers and a SIGKILL mid-run on postgres', () => {
  let database: TestDatabase;
  let container: Container;
  let sink: SMTPServer;
  let sinkPort = 0;
  const workers: Worker[] = [];
  const deliveries: Delivery[] = [];
  /** SMTP connection (its client's port) → worker pid, told once per connection. */
  const connectionPids = new Map<number, number>();

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    container = await createContainer(loadConfig(database.env), { logger: createLogger('silent') });
    sink = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onConnect(session, callback) {
        connectionPids.set(
          session.remotePort,
          pidOfPeer(
            session.remotePort,
            workers.map((worker) => worker.pid!),
          ),
        );
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const messageId = messageIdOf(Buffer.concat(chunks));
          // Counted once the whole message is here, before the 250 that the sink is slow to give:
          // a message whose sender dies meanwhile has arrived all the same, and may not come twice.
          deliveries.push({ messageId, pid: connectionPids.get(session.remotePort) ?? 0, at: Date.now() });
          setTimeout(() => callback(), SINK_DELAY_MS);
        });
      },
    });
    // A killed worker resets its connections; the sink reports that as an error, expected here.
    sink.on('error', () => undefined);
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    sinkPort = (sink.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    const running = workers.filter((worker) => worker.exitCode === null && worker.signalCode === null);
    for (const worker of running) worker.kill('SIGKILL');
    await Promise.all(running.map((worker) => exited(worker)));
    await new Promise<void>((resolve) => (sink ? sink.close(() => resolve()) : resolve()));
    await container?.close();
    await database?.drop();
  });

  async function countByStatus(): Promise<Record<string, number>> {
    const rows = await database.db
      .selectFrom('messages')
      .select(['status', (eb) => eb.fn.countAll<number | string>().as('count')])
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
  }

  it('delivers every message once, or holds it as uncertain, and loses none', async () => {
    const { messages } = container.services;
    const { actor, account } = await createSendingAccount(container, 'Scale', sinkPort);

    const env = {
      ...database.env,
      OUTBOX_LEASE_MS: '5000',
      OUTBOX_POLL_MS: '100',
      LOG_LEVEL: 'info',
    };
    for (let index = 0; index < WORKERS; index++) workers.push(startMailroom(['worker'], env));
    // All three are up before the mail is queued, so that they share it from the start.
    await expect
      .poll(() => workers.every((worker) => worker.output().includes('worker started')), {
        timeout: 60_000,
        interval: 100,
      })
      .toBe(true);

    const started = Date.now();
    for (let start = 0; start < MESSAGES; start += 1000) {
      await messages.queueBatch(
        actor,
        Array.from({ length: Math.min(1000, MESSAGES - start) }, (_, offset) => ({
          accountId: account.id,
          to: [`rcpt${start + offset}@client.test`],
          subject: `Scale ${start + offset}`,
          text: `Message ${start + offset}`,
        })),
      );
    }

    // Roughly a third has arrived, every worker has sent some, and the victim is sending right now.
    let victim: Worker | undefined;
    await expect
      .poll(
        () => {
          if (deliveries.length < MESSAGES / 3) return false;
          const pids = new Set(deliveries.map((delivery) => delivery.pid));
          if (!workers.every((worker) => pids.has(worker.pid!))) return false;
          const recent = Date.now() - 200;
          victim = workers.find((worker) =>
            deliveries.some((delivery) => delivery.pid === worker.pid && delivery.at >= recent),
          );
          return victim !== undefined;
        },
        { timeout: 60_000, interval: 10 },
      )
      .toBe(true);
    victim!.kill('SIGKILL');
    const killedAt = Date.now();
    const deliveredBeforeKill = deliveries.length;
    await exited(victim!);
    const survivors = workers.filter((worker) => worker !== victim);

    await expect
      .poll(
        async () => {
          const counts = await countByStatus();
          return (counts.ready ?? 0) + (counts.sending ?? 0);
        },
        { timeout: 120_000, interval: 250 },
      )
      .toBe(0);
    const seconds = (Date.now() - started) / 1000;

    // Every worker but the victim is still running.
    for (const worker of survivors) expect(worker.exitCode, worker.output()).toBeNull();

    const rows = await database.db
      .selectFrom('messages')
      .select(['id', 'status', 'message_id_header', 'attempts', 'error_code'])
      .where('direction', '=', 'out')
      .execute();
    const received = new Map<string, number>();
    for (const { messageId } of deliveries) received.set(messageId, (received.get(messageId) ?? 0) + 1);

    const sent = rows.filter((row) => row.status === 'sent');
    const uncertain = rows.filter((row) => row.status === 'uncertain');
    // None lost: each one is sent or uncertain, nothing else.
    expect(rows).toHaveLength(MESSAGES);
    expect(sent.length + uncertain.length).toBe(MESSAGES);
    // Sent: exactly once at the sink.
    expect(sent.filter((row) => received.get(row.message_id_header) !== 1)).toEqual([]);
    // Uncertain: the server may have it (once) or not; it was never sent again.
    expect(uncertain.filter((row) => (received.get(row.message_id_header) ?? 0) > 1)).toEqual([]);
    expect(uncertain.every((row) => row.error_code === 'DELIVERY_UNCERTAIN')).toBe(true);
    // No Message-ID arrived twice, and none the outbox does not know.
    expect([...received].filter(([, count]) => count > 1)).toEqual([]);
    const known = new Set(rows.map((row) => row.message_id_header));
    expect([...received.keys()].filter((id) => !known.has(id))).toEqual([]);

    // The kill landed mid-run: the victim had been sending, the others went on after it...
    const byPid = (pid: number) => deliveries.filter((delivery) => delivery.pid === pid).length;
    expect(byPid(victim!.pid!)).toBeGreaterThan(0);
    // (what it wrote just before dying may still be read a moment later)
    expect(
      deliveries.filter((delivery) => delivery.pid === victim!.pid && delivery.at > killedAt + 1000),
    ).toEqual([]);
    expect(deliveries.length - deliveredBeforeKill).toBeGreaterThan(MESSAGES / 3);
    // ...and it died holding leases: those messages were taken over, either held as uncertain or
    // (their DATA not begun) claimed and sent again by a survivor.
    const retaken = rows.filter((row) => row.status === 'sent' && row.attempts > 1);
    expect(uncertain.length + retaken.length).toBeGreaterThan(0);

    console.log(
      `${MESSAGES} messages, ${WORKERS} workers, one SIGKILLed after ${deliveredBeforeKill} had arrived: ` +
        `${sent.length} sent exactly once, ${uncertain.length} uncertain ` +
        `(${uncertain.filter((row) => received.has(row.message_id_header)).length} of them reached the sink), ` +
        `${retaken.length} taken over and sent by another worker; ` +
        `per worker ${workers.map((worker) => `${byPid(worker.pid!)}${worker === victim ? ' (killed)' : ''}`).join(' / ')}` +
        `${byPid(0) > 0 ? `, ${byPid(0)} from an unidentified connection` : ''}; ${seconds.toFixed(1)} s`,
    );
  }, 240_000);
});
