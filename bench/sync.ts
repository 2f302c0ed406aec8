/**
 * Receiving over IMAP, against the real Dovecot of test/mail-peers, two figures in one run:
 *  - import of a 10,000-message mailbox by the mailbox worker (read, parse, de-duplicate, file on
 *    contacts, store raw, emit events), in messages per second, against a bare imapflow fetch of
 *    the same mailbox (`UID FETCH 1:* BODY.PEEK[]`). Target: at least 0.7. On SQLite and PostgreSQL.
 *  - the same import over POP3, against a bare RETR loop of the same mailbox (over TLS both).
 *  - resident memory per idle account: 200 accounts holding IMAP IDLE in one worker. Target: under
 *    1 MB each.
 *
 *   npm run bench:sync -- [--count 10000] [--idle 200] [--dialect sqlite|postgres|both]
 *
 * Starts the mail peers when they are not running (bash test/mail-peers/mail-peers.sh installs them).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { createContainer, type Container } from '../src/container.ts';
import type { IncomingInput } from '../src/domains/accounts/accounts.ts';
import { createLogger } from '../src/logger.ts';
import { parseMessage } from '../src/mail/parse.ts';
import { createTestDatabase } from '../test/support/dialects.ts';
import { createTestMailboxSync, imapAccountInput } from '../test/support/mailboxes.ts';
import {
  connectImap,
  createMailbox,
  mailPeers,
  releaseMailPeers,
  type Mailbox,
} from '../test/support/mail-peers.ts';
import { rerunTrustingMailPeers } from './support/mail-peers-ca.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    idle: { type: 'string', default: '200' },
    dialect: { type: 'string', default: 'both' },
    // Internal: the memory probe runs in a process of its own.
    probe: { type: 'string' },
    mailboxes: { type: 'string' },
  },
});
const count = Number(values.count);
const idleAccounts = Number(values.idle);
const dialects =
  values.dialect === 'both' ? (['sqlite', 'postgres'] as const) : [values.dialect as 'sqlite' | 'postgres'];

const paragraph = 'Thank you for your message. We will come back to you with an offer shortly.\r\n';

function message(index: number, to: string): Buffer {
  const body = paragraph.repeat(10 + (index % 40));
  return Buffer.from(
    [
      `From: Sender ${index % 300} <sender${index % 300}@clients.test>`,
      `To: ${to}`,
      `Subject: Enquiry ${index}`,
      'Date: Mon, 23 Nov 2026 08:00:00 +0000',
      `Message-ID: <bench.${index}.${Date.now()}@clients.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
    ].join('\r\n'),
  );
}

/** Fills the mailbox over 8 connections at once. */
async function fill(mailbox: Mailbox, total: number): Promise<void> {
  const lanes = 8;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const client = await connectImap(mailbox.user, mailbox.password);
      try {
        for (let index = lane; index < total; index += lanes) {
          await client.append('INBOX', message(index, mailbox.address), [], new Date('2026-11-20T10:00:00Z'));
        }
      } finally {
        await client.logout();
      }
    }),
  );
}

/**
 * The bare fetch, with or without parsing each message as the import must (mailparser, through
 * src/mail/parse.ts) on the thread that reads the connection. Fetch and parse together is the
 * ceiling of any import that parses there: nothing stored, classified, filed or announced.
 */
async function bareFetch(mailbox: Mailbox, { parse = false } = {}): Promise<number> {
  const client = await connectImap(mailbox.user, mailbox.password, {
    port: mailPeers.ports.imap,
    secure: false,
    doSTARTTLS: true,
    tls: { ca: mailPeers.ca, servername: 'localhost' },
  });
  try {
    const started = performance.now();
    await client.mailboxOpen('INBOX', { readOnly: true });
    let fetched = 0;
    for await (const entry of client.fetch('1:*', { uid: true, source: true })) {
      if (!entry.source) continue;
      if (parse && !(await parseMessage(entry.source)).ok) throw new Error(`UID ${entry.uid} did not parse`);
      fetched += 1;
    }
    if (fetched !== count) throw new Error(`bare fetch read ${fetched} of ${count}`);
    return fetched / ((performance.now() - started) / 1000);
  } finally {
    await client.logout();
  }
}

/** A bare POP3 loop over TLS: USER, PASS, then RETR 1, RETR 2, … each read to its final dot. */
async function bareRetrLoop(mailbox: Mailbox): Promise<number> {
  const socket = tls.connect({ host: '127.0.0.1', port: mailPeers.ports.pop3s, servername: 'localhost' });
  let buffered = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    waiters.splice(0).forEach((wake) => wake());
  });
  async function readUntil(end: string): Promise<string> {
    for (;;) {
      const at = buffered.indexOf(end);
      if (at >= 0) {
        const text = buffered.subarray(0, at + end.length).toString('latin1');
        buffered = buffered.subarray(at + end.length);
        return text;
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }
  const command = async (line: string, end = '\r\n') => {
    socket.write(`${line}\r\n`);
    const reply = await readUntil(end);
    if (!reply.startsWith('+OK')) throw new Error(`${line.split(' ')[0]}: ${reply}`);
    return reply;
  };
  await readUntil('\r\n');
  const started = performance.now();
  await command(`USER ${mailbox.user}`);
  await command(`PASS ${mailbox.password}`);
  const stat = await command('STAT');
  const total = Number(stat.split(' ')[1]);
  if (total !== count) throw new Error(`the bare loop found ${total} of ${count}`);
  for (let number = 1; number <= total; number++) await command(`RETR ${number}`, '\r\n.\r\n');
  const seconds = (performance.now() - started) / 1000;
  await command('QUIT');
  socket.end();
  return total / seconds;
}

async function withContainer<T>(
  dialect: 'sqlite' | 'postgres',
  work: (container: Container) => Promise<T>,
): Promise<T> {
  const database = await createTestDatabase(dialect);
  const container = await createContainer(loadConfig({ ...database.env, LOG_LEVEL: 'silent' }), {
    logger: createLogger('silent'),
  });
  try {
    return await work(container);
  } finally {
    await container.close();
    await database.drop();
  }
}

/** POP3 over implicit TLS, the same for the bare loop and the worker. */
const pop3Incoming = () => ({
  protocol: 'pop3' as const,
  port: mailPeers.ports.pop3s,
  security: 'tls' as const,
  folders: null,
  maxMessagesPerFetch: 1000,
});

async function addImapAccount(
  container: Container,
  mailbox: Mailbox,
  orgName = 'Bench',
  incoming: Partial<IncomingInput> = {},
) {
  const { users, accounts } = container.services;
  const email = `owner.${mailbox.user}@bench.test`;
  const { user, organisation } = await users.createUserInOrganisation({
    organisationName: orgName,
    email,
    password: 'bench-password',
  });
  return accounts.create(
    { userId: user.id, orgId: organisation.id, role: 'admin' },
    imapAccountInput(mailbox, { syncSince: '2020-01-01', maxMessagesPerFetch: 1000, ...incoming }),
  );
}

async function mailroomImport(
  dialect: 'sqlite' | 'postgres',
  mailbox: Mailbox,
  incoming: Partial<IncomingInput> = {},
): Promise<number> {
  return withContainer(dialect, async (container) => {
    await addImapAccount(container, mailbox, 'Bench', incoming);
    const sync = createTestMailboxSync(container);
    const started = performance.now();
    await sync.runOnce(new AbortController().signal);
    const seconds = (performance.now() - started) / 1000;
    await sync.close();
    const { stored } = await container.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number | string>().as('stored'))
      .where('direction', '=', 'in')
      .executeTakeFirstOrThrow();
    if (Number(stored) !== count) {
      const health = await container.db
        .selectFrom('accounts')
        .select(['incoming_state', 'incoming_last_error'])
        .execute();
      throw new Error(`Mailroom stored ${stored} of ${count}: ${JSON.stringify(health)}`);
    }
    return count / seconds;
  });
}

function settle(): Promise<void> {
  global.gc?.();
  return new Promise((resolve) => setTimeout(resolve, 500));
}

/**
 * One worker process with the accounts of `mailboxFile` synced once, then IDLE kept open on each
 * (`watch`) or not: the difference between the two processes' resident memory is what the IDLE
 * connections cost. Prints its reading as JSON.
 */
async function idleProbe(mailboxFile: string, watch: boolean): Promise<void> {
  const mailboxes = JSON.parse(fs.readFileSync(mailboxFile, 'utf8')) as Mailbox[];
  await withContainer('sqlite', async (container) => {
    for (const mailbox of mailboxes) await addImapAccount(container, mailbox, 'Idle');
    const sync = createTestMailboxSync(container, { idle: watch });
    await sync.runOnce(new AbortController().signal);
    await settle();
    await settle();
    const { rss, heapUsed } = process.memoryUsage();
    console.log(JSON.stringify({ rss, heapUsed, watching: sync.watching().length }));
    await sync.close();
  });
}

function runProbe(mailboxFile: string, watch: boolean): { rss: number; heapUsed: number; watching: number } {
  const { stdout, status, stderr } = spawnSync(
    process.execPath,
    [...process.execArgv, process.argv[1]!, '--probe', watch ? 'watch' : 'poll', '--mailboxes', mailboxFile],
    { encoding: 'utf8', env: process.env },
  );
  if (status !== 0) throw new Error(`the memory probe failed: ${stderr}`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { rss: number; heapUsed: number; watching: number };
}

async function idleMemory() {
  const mailboxes: Mailbox[] = [];
  for (let index = 0; index < idleAccounts; index++) mailboxes.push(await createMailbox());
  const mailboxFile = path.join(os.tmpdir(), `mailroom-bench-idle-${process.pid}.json`);
  fs.writeFileSync(mailboxFile, JSON.stringify(mailboxes));
  try {
    const polling = runProbe(mailboxFile, false);
    const watching = runProbe(mailboxFile, true);
    return {
      watching: watching.watching,
      perAccountKb: (watching.rss - polling.rss) / 1024 / watching.watching,
      heapPerAccountKb: (watching.heapUsed - polling.heapUsed) / 1024 / watching.watching,
    };
  } finally {
    fs.rmSync(mailboxFile, { force: true });
  }
}

if (values.probe) {
  await idleProbe(values.mailboxes!, values.probe === 'watch');
  process.exit(0);
}

await rerunTrustingMailPeers();
try {
  const mailbox = await createMailbox();
  const fillStarted = performance.now();
  await fill(mailbox, count);
  console.log(
    `${count} messages (${paragraph.length * 10}–${paragraph.length * 50} bytes of text each) in one Dovecot ` +
      `mailbox, filled in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s; IMAP with STARTTLS`,
  );
  const bareRates = [];
  for (let run = 0; run < 3; run++) {
    bareRates.push({ fetch: await bareFetch(mailbox), parsed: await bareFetch(mailbox, { parse: true }) });
  }
  const fetchRate = Math.max(...bareRates.map((rate) => rate.fetch));
  const parsedRate = Math.max(...bareRates.map((rate) => rate.parsed));
  console.log(
    `bare imapflow fetch ${fetchRate.toFixed(0)} msg/s; the same fetch parsing each message with ` +
      `mailparser ${parsedRate.toFixed(0)} msg/s: the ceiling of an import that parses on one thread is ` +
      `${(parsedRate / fetchRate).toFixed(2)} (best of 3 each)`,
  );
  for (const dialect of dialects) {
    const bare = await bareFetch(mailbox);
    const mailroom = await mailroomImport(dialect, mailbox);
    console.log(
      `${dialect.padEnd(9)} bare imapflow fetch ${bare.toFixed(0).padStart(6)} msg/s   ` +
        `mailbox worker import ${mailroom.toFixed(0).padStart(6)} msg/s   ratio ${(mailroom / bare).toFixed(2)}`,
    );
  }
  for (const dialect of dialects) {
    const bare = await bareRetrLoop(mailbox);
    const mailroom = await mailroomImport(dialect, mailbox, pop3Incoming());
    console.log(
      `${dialect.padEnd(9)} bare POP3 RETR loop ${bare.toFixed(0).padStart(6)} msg/s   ` +
        `mailbox worker import ${mailroom.toFixed(0).padStart(6)} msg/s   ratio ${(mailroom / bare).toFixed(2)}`,
    );
  }
  if (idleAccounts > 0) {
    const memory = await idleMemory();
    console.log(
      `${memory.watching} accounts in IDLE in one worker: ${memory.perAccountKb.toFixed(0)} KB resident ` +
        `(${memory.heapPerAccountKb.toFixed(0)} KB of JS heap) per account, over the same worker polling`,
    );
  }
} finally {
  await releaseMailPeers();
}
