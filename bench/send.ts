/**
 * Sending throughput, two ways in one run, to the same local SMTP sink (Postfix's smtp-sink):
 *  - bare nodemailer with a pooled transport: the ceiling;
 *  - Mailroom: POST /api/messages/batch over HTTP, the durable outbox, the dispatcher, until every
 *    message is `sent`.
 * It prints both rates and their ratio, on SQLite and on PostgreSQL. The target is ≥ 0.8.
 *
 *   npm run bench:send -- [--count 2000] [--dialect sqlite|postgres|both]
 *
 * smtp-sink is started by the bench on a free port (install it with `bash test/mail-peers/mail-peers.sh install`).
 */
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { loadConfig } from '../src/config.ts';
import { createContainer } from '../src/container.ts';
import { buildServer } from '../src/http/server.ts';
import { createLogger } from '../src/logger.ts';
import { startWorker } from '../src/workers/runner.ts';
import { createWorkerTasks } from '../src/workers/tasks.ts';
import { createTestDatabase } from '../test/support/dialects.ts';
import { createSendingAccount } from '../test/support/outbox.ts';
import { startSink } from './support/smtp-sink.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '2000' },
    dialect: { type: 'string', default: 'both' },
    connections: { type: 'string', default: '4' },
  },
});
const count = Number(values.count);
const connections = Number(values.connections);
const dialects =
  values.dialect === 'both' ? (['sqlite', 'postgres'] as const) : [values.dialect as 'sqlite' | 'postgres'];
const body = 'Hello,\n\nthis is a benchmark message of a realistic size.\n'.repeat(40);

async function bareNodemailer(port: number): Promise<number> {
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: connections,
    maxMessages: Infinity,
    host: '127.0.0.1',
    port,
    ignoreTLS: true,
  });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, (_, index) =>
      transport.sendMail({
        from: 'bench@bench.test',
        to: `rcpt${index}@client.test`,
        subject: `Bench ${index}`,
        text: body,
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  transport.close();
  return count / seconds;
}

let queuedAfterMs = 0; // set by mailroomOutbox

async function mailroomOutbox(dialect: 'sqlite' | 'postgres', port: number): Promise<number> {
  const database = await createTestDatabase(dialect);
  const config = loadConfig({
    ...database.env,
    LOG_LEVEL: 'silent',
    OUTBOX_POLL_MS: '20',
    OUTBOX_CONCURRENCY: String(connections * 8),
    SMTP_CONNECTIONS_PER_ACCOUNT: String(connections),
  });
  const container = await createContainer(config, { logger: createLogger('silent') });
  const app = await buildServer(container);
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  const { user, account } = await createSendingAccount(container, 'Bench', port);
  const { secret } = await container.services.auth.createApiTokenForEmail(user.email, 'bench');
  const workers = createWorkerTasks(container);
  const worker = startWorker(workers.tasks, createLogger('silent'));
  try {
    const started = performance.now();
    for (let start = 0; start < count; start += 1000) {
      const messages = Array.from({ length: Math.min(1000, count - start) }, (_, offset) => ({
        accountId: account.id,
        to: [`rcpt${start + offset}@client.test`],
        subject: `Bench ${start + offset}`,
        text: body,
      }));
      const response = await fetch(`${baseUrl}/api/messages/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messages }),
      });
      const answer = await response.text();
      if (response.status !== 202) throw new Error(`batch refused: ${response.status} ${answer}`);
    }
    queuedAfterMs = performance.now() - started;
    for (;;) {
      const { sent } = await container.db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number | string>().as('sent'))
        .where('status', '=', 'sent')
        .executeTakeFirstOrThrow();
      if (Number(sent) >= count) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await worker.stop();
    await workers.close();
    await app.close();
    await container.close();
    await database.drop();
  }
}

const sink = await startSink();
try {
  console.log(`${count} messages of ${body.length} bytes to smtp-sink, ${connections} SMTP connections`);
  for (const dialect of dialects) {
    const bare = await bareNodemailer(sink.port);
    const outbox = await mailroomOutbox(dialect, sink.port);
    console.log(
      `${dialect.padEnd(9)} bare nodemailer ${bare.toFixed(0).padStart(6)} msg/s   ` +
        `batch API + outbox ${outbox.toFixed(0).padStart(6)} msg/s   ratio ${(outbox / bare).toFixed(2)}   ` +
        `(all queued after ${(queuedAfterMs / 1000).toFixed(1)} s)`,
    );
  }
} finally {
  sink.stop();
}
