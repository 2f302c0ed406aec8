/**
 * Sending throughput, two ways in one run, to the same local SMTP sink (Postfix's smtp-sink):
 *  - bare nodemailer with a pooled transport: the ceiling;
 *  - Mailroom: POST /api/messages/batch over HTTP, the durable outbox, the dispatcher, until every
 *    message is `sent`.
 * It prints both rates and their ratio, on SQLite and on PostgreSQL. The target is ≥ 0.8.
 *
 *   npm run bench:send -- [--count 2000] [--dialect sqlite|postgres|both] [--warmup 1000]
 *
 * Both ways first send `--warmup` messages unmeasured, so that neither is timed while V8 still
 * compiles its code (a cold first run of bare nodemailer was up to a third slower).
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
import { coreCount, countCpu, perMessage, type CpuSpent } from './support/cpu.ts';
import { startSink } from './support/smtp-sink.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '1000' },
    dialect: { type: 'string', default: 'both' },
    connections: { type: 'string', default: '4' },
  },
});
const measured = Number(values.count);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const dialects =
  values.dialect === 'both' ? (['sqlite', 'postgres'] as const) : [values.dialect as 'sqlite' | 'postgres'];
const body = 'Hello,\n\nthis is a benchmark message of a realistic size.\n'.repeat(40);

interface Measured {
  rate: number;
  cpu: CpuSpent;
}

async function bareNodemailer(port: number, count: number): Promise<Measured> {
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: connections,
    maxMessages: Infinity,
    host: '127.0.0.1',
    port,
    ignoreTLS: true,
  });
  const started = performance.now();
  const spent = countCpu(['smtp-sink']);
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
  const cpu = spent();
  transport.close();
  return { rate: count / seconds, cpu };
}

let queuedAfterMs = 0; // set by mailroomOutbox

async function mailroomOutbox(
  dialect: 'sqlite' | 'postgres',
  port: number,
  count: number,
): Promise<Measured> {
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
    const spent = countCpu(['smtp-sink', 'postgres']);
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
    // Polled by whether anything is left to send, one row of an index at most: the poll's own cost
    // is paid on the same cores, and counting would grow with the run.
    while (
      await container.db
        .selectFrom('messages')
        .select('id')
        .where('status', 'in', ['ready', 'sending'])
        .limit(1)
        .executeTakeFirst()
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const rate = count / ((performance.now() - started) / 1000);
    const cpu = spent();
    const { sent } = await container.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number | string>().as('sent'))
      .where('status', '=', 'sent')
      .executeTakeFirstOrThrow();
    if (Number(sent) !== count) throw new Error(`only ${sent} of ${count} messages were sent`);
    return { rate, cpu };
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
  console.log(`${measured} messages of ${body.length} bytes to smtp-sink, ${connections} SMTP connections`);
  if (warmup > 0) {
    await bareNodemailer(sink.port, warmup);
    await mailroomOutbox(dialects[0]!, sink.port, warmup);
  }
  for (const dialect of dialects) {
    const bare = await bareNodemailer(sink.port, measured);
    const outbox = await mailroomOutbox(dialect, sink.port, measured);
    console.log(
      `${dialect.padEnd(9)} bare nodemailer ${bare.rate.toFixed(0).padStart(6)} msg/s   ` +
        `batch API + outbox ${outbox.rate.toFixed(0).padStart(6)} msg/s   ` +
        `ratio ${(outbox.rate / bare.rate).toFixed(2)}   ` +
        `(all queued after ${(queuedAfterMs / 1000).toFixed(1)} s)`,
    );
    // Were the outbox's work spread perfectly over every core, its CPU per message would still cap it here.
    const cpuCeiling = (coreCount * measured) / (outbox.cpu.own + outbox.cpu.others);
    console.log(
      `${''.padEnd(9)} bare: ${perMessage(bare.cpu, measured)}   outbox: ${perMessage(outbox.cpu, measured)}   ` +
        `${coreCount} cores at most ${cpuCeiling.toFixed(0)} msg/s, ratio ${(cpuCeiling / bare.rate).toFixed(2)}`,
    );
  }
} finally {
  sink.stop();
}
