/**
 * Real mail servers for tests: Dovecot, Postfix, Cyrus (JMAP), smtp-sink and a Dante SOCKS5 proxy
 * on 127.0.0.1, run by test/mail-peers/mail-peers.sh (its header says what runs where and why).
 *
 * One set serves every test process on the machine. Each user of it (the vitest main process
 * through the globalSetup in mail-peers-setup.ts, or a test file through `useMailPeers()`) holds a
 * lease while it runs: the first one starts the set (installing the Debian packages when missing),
 * the others reuse it, and the last one to release stops it. A lease whose process died no longer
 * counts, so a killed run leaves nothing that blocks the next one.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { simpleParser, type ParsedMail } from 'mailparser';
import { afterAll, beforeAll } from 'vitest';

export interface MailPeerPorts {
  /** Dovecot IMAP, STARTTLS offered */
  imap: number;
  imaps: number;
  /** Dovecot POP3, STLS offered */
  pop3: number;
  pop3s: number;
  /** Dovecot LMTP (Postfix delivers into it) */
  lmtp: number;
  /** Postfix "MX": STARTTLS and AUTH optional, relaying to other domains only after AUTH */
  smtp: number;
  /** Postfix submission: STARTTLS and AUTH required */
  submission: number;
  /** Postfix submissions: implicit TLS, AUTH required */
  submissions: number;
  /** smtp-sink: accepts every message, keeps each in `sinkDir` (no AUTH, no TLS) */
  sink: number;
  /** smtp-sink refusing every RCPT with 550 5.1.1: the next hop of `deadDomain` */
  deadSink: number;
  /** Where Postfix delivers mail for `bounceDomain`: a test runs Mailroom's bounce intake here */
  bounceIntake: number;
  /** Dante SOCKS5, no auth, CONNECT to 127.0.0.0/8 only */
  socks: number;
  /** Cyrus JMAP over plain HTTP (session `GET /jmap`, API `POST /jmap/`, HTTP Basic); 0 without Cyrus */
  jmap: number;
  /** Cyrus JMAP over HTTPS (the same certificate as the others); 0 without Cyrus */
  jmaps: number;
  /** Cyrus IMAP, plain text (LOGIN, AUTH PLAIN); 0 without Cyrus */
  cyrusImap: number;
  /** Cyrus LMTP (Postfix delivers `*@cyrus.test` into it); 0 without Cyrus */
  cyrusLmtp: number;
}

export interface MailPeers {
  host: '127.0.0.1';
  ports: MailPeerPorts;
  /** The servers' self-signed certificate (CN=localhost, SAN localhost + 127.0.0.1): the CA to trust */
  caPath: string;
  /** The same certificate, PEM */
  ca: string;
  /** Mailboxes live here: Postfix delivers `*@example.test` into Dovecot */
  domain: 'example.test';
  /** Postfix accepts mail for this domain, its next hop refuses it: a real DSN comes back later */
  deadDomain: 'dead.test';
  /** Postfix delivers mail for this domain to `ports.bounceIntake` (VERP return paths) */
  bounceDomain: 'bounces.mailroom.test';
  /** Cyrus's mailboxes: Postfix delivers `*@cyrus.test` into Cyrus */
  cyrusDomain: 'cyrus.test';
  /** The components that run ("dovecot", "postfix", "cyrus", "sink", "dante") */
  components: string[];
  /** Where smtp-sink keeps the messages it received */
  sinkDir: string;
  /** All the state: configs, logs (dovecot/dovecot.log, postfix/postfix.log), mail */
  root: string;
}

export interface Mailbox {
  /** The login name (Dovecot also accepts the full address) */
  user: string;
  address: string;
  password: string;
}

export interface JmapMailbox extends Mailbox {
  /** The JMAP session resource over plain HTTP; Cyrus answers with a relative apiUrl */
  sessionUrl: string;
  /** The same over HTTPS, as https://localhost:…/jmap (the test CA's name) */
  secureSessionUrl: string;
}

export interface InboxMessage {
  uid: number;
  source: Buffer;
  mail: ParsedMail;
}

export interface SinkMessage {
  file: string;
  /** MAIL FROM, without the angle brackets */
  mailFrom: string;
  /** Every RCPT TO, without the angle brackets */
  rcptTo: string[];
  /** The message as received (smtp-sink's envelope lines and Received header removed) */
  source: Buffer;
  mail: ParsedMail;
}

export const mailPeersScript = fileURLToPath(new URL('../mail-peers/mail-peers.sh', import.meta.url));

/** Where the running set keeps its state; `MAILROOM_MAIL_PEERS_ROOT` moves it. */
export const mailPeersRoot = path.resolve(process.env.MAILROOM_MAIL_PEERS_ROOT ?? '/tmp/mailroom-mail-peers');
const leaseDir = `${mailPeersRoot}.leases`;
const lockDir = `${mailPeersRoot}.lock`;
const stateFile = path.join(mailPeersRoot, 'state.json');

interface StateFile {
  root: string;
  host: '127.0.0.1';
  domain: 'example.test';
  deadDomain: 'dead.test';
  bounceDomain: 'bounces.mailroom.test';
  /** absent in a set started before Cyrus was one of its components */
  cyrusDomain?: 'cyrus.test';
  caPath: string;
  sinkDir: string;
  components?: string;
  ports: Omit<MailPeerPorts, 'jmap' | 'jmaps' | 'cyrusImap' | 'cyrusLmtp'> &
    Partial<MailPeerPorts> & { auth: number };
}

let cached: { mtimeMs: number; peers: MailPeers } | undefined;

/** The running set, as its state file describes it; throws when none was started. */
export function readMailPeers(): MailPeers {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(stateFile);
  } catch {
    throw new Error(
      `No mail peers are running (no ${stateFile}). Call ensureMailPeers() first: the globalSetup ` +
        'test/support/mail-peers-setup.ts or useMailPeers() in the test file does.',
    );
  }
  if (cached?.mtimeMs === stat.mtimeMs) return cached.peers;
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as StateFile;
  const peers: MailPeers = {
    host: state.host,
    ports: {
      imap: state.ports.imap,
      imaps: state.ports.imaps,
      pop3: state.ports.pop3,
      pop3s: state.ports.pop3s,
      lmtp: state.ports.lmtp,
      smtp: state.ports.smtp,
      submission: state.ports.submission,
      submissions: state.ports.submissions,
      sink: state.ports.sink,
      deadSink: state.ports.deadSink,
      bounceIntake: state.ports.bounceIntake,
      socks: state.ports.socks,
      jmap: state.ports.jmap ?? 0,
      jmaps: state.ports.jmaps ?? 0,
      cyrusImap: state.ports.cyrusImap ?? 0,
      cyrusLmtp: state.ports.cyrusLmtp ?? 0,
    },
    caPath: state.caPath,
    ca: fs.readFileSync(state.caPath, 'utf8'),
    domain: state.domain,
    deadDomain: state.deadDomain,
    bounceDomain: state.bounceDomain,
    cyrusDomain: state.cyrusDomain ?? 'cyrus.test',
    components: (state.components ?? 'dovecot postfix sink dante').split(/\s+/).filter(Boolean),
    sinkDir: state.sinkDir,
    root: state.root,
  };
  cached = { mtimeMs: stat.mtimeMs, peers };
  return peers;
}

/**
 * The running set's addresses, read on first use (after `ensureMailPeers()`):
 * `mailPeers.ports.submission`, `mailPeers.caPath`, ...
 */
export const mailPeers: MailPeers = Object.defineProperties({} as MailPeers, {
  host: { get: () => readMailPeers().host, enumerable: true },
  ports: { get: () => readMailPeers().ports, enumerable: true },
  caPath: { get: () => readMailPeers().caPath, enumerable: true },
  ca: { get: () => readMailPeers().ca, enumerable: true },
  domain: { get: () => readMailPeers().domain, enumerable: true },
  deadDomain: { get: () => readMailPeers().deadDomain, enumerable: true },
  bounceDomain: { get: () => readMailPeers().bounceDomain, enumerable: true },
  cyrusDomain: { get: () => readMailPeers().cyrusDomain, enumerable: true },
  components: { get: () => readMailPeers().components, enumerable: true },
  sinkDir: { get: () => readMailPeers().sinkDir, enumerable: true },
  root: { get: () => readMailPeers().root, enumerable: true },
});

// ------------------------------------------------------------------------------- the shared set

function runScript(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [mailPeersScript, ...args],
      { env: { ...process.env, MP_ROOT: mailPeersRoot }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`mail-peers.sh ${args[0]} failed (${error.message.split('\n')[0]}):\n${stderr}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** Alive and not a zombie (a zombie waits for PID 1 to reap it: it is gone). */
function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A directory as a lock between processes; a lock whose holder died is taken over. */
async function withLock<T>(work: () => Promise<T>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder = 0;
      try {
        holder = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'));
      } catch {
        // taken a moment ago and the pid not written yet, or released since
      }
      const age = Date.now() - (fs.statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if ((holder > 0 && !processAlive(holder)) || (!holder && age > 5_000)) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`mail peers: ${lockDir} is held by pid ${holder}`);
      await sleep(50);
    }
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function liveLeases(): string[] {
  fs.mkdirSync(leaseDir, { recursive: true });
  return fs.readdirSync(leaseDir).filter((lease) => {
    if (processAlive(Number(lease.split('-')[0]))) return true;
    fs.rmSync(path.join(leaseDir, lease), { force: true });
    return false;
  });
}

function portOpen(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: timeoutMs });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

async function healthy(): Promise<boolean> {
  try {
    // The bounce intake's port is where a test's own listener goes, not a peer: closed between tests.
    const { bounceIntake: _intake, ...ports } = readMailPeers().ports;
    // 0: a component this set does not run
    const open = await Promise.all(
      Object.values(ports)
        .filter((port) => port > 0)
        .map((port) => portOpen(port)),
    );
    return open.every(Boolean);
  } catch {
    return false;
  }
}

async function healthyWithin(timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await healthy()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

let myLease: string | undefined;

/** Whether MP_COMPONENTS (the script's choice of servers; all when unset) includes this one. */
const wanted = (component: string): boolean =>
  !process.env.MP_COMPONENTS || process.env.MP_COMPONENTS.split(/\s+/).includes(component);

/**
 * Makes sure the set is running, installing and starting it when no live process holds it, and
 * takes a lease on it for this process (once; later calls only return the addresses).
 */
export async function ensureMailPeers(): Promise<MailPeers> {
  if (myLease && fs.existsSync(path.join(leaseDir, myLease))) return readMailPeers();
  await withLock(async () => {
    const install = async () => {
      if (process.env.MAILROOM_MAIL_PEERS_INSTALL !== '0') await runScript(['install'], 600_000);
    };
    // A set another run holds may still be starting (Cyrus takes a while) or slow under load:
    // restarting it would give it a new certificate under that run's feet, so wait for it first.
    if (liveLeases().length === 0 || !(await healthyWithin(30_000))) {
      await install();
      await runScript(['up'], 60_000);
      cached = undefined;
    } else if (wanted('cyrus') && !readMailPeers().components.includes('cyrus')) {
      // a set started before Cyrus was part of it, still used by another run: Cyrus joins it
      await install();
      await runScript(['add-component', 'cyrus'], 60_000);
      cached = undefined;
    }
    myLease = `${process.pid}-${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(path.join(leaseDir, myLease), '');
  });
  return readMailPeers();
}

/** Gives this process's lease back; the last lease stops the set. */
export async function releaseMailPeers(): Promise<void> {
  const lease = myLease;
  if (!lease) return;
  myLease = undefined;
  await withLock(async () => {
    fs.rmSync(path.join(leaseDir, lease), { force: true });
    if (liveLeases().length === 0) await runScript(['down'], 30_000);
  });
}

/** For a test file: the set is up for its tests (beforeAll) and released after them (afterAll). */
export function useMailPeers(): void {
  beforeAll(async () => {
    await ensureMailPeers();
  }, 600_000);
  afterAll(releaseMailPeers);
}

// -------------------------------------------------------------------------------------- mailboxes

/** A new mailbox user, unique to this call, usable at once (no restart). */
export async function createMailbox(password = randomBytes(12).toString('base64url')): Promise<Mailbox> {
  const user = `t${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  const address = (await runScript(['add-user', user, password], 10_000)).trim();
  return { user, address, password };
}

/**
 * A new Cyrus account, unique to this call, with its folders (Inbox, Drafts, Sent, Trash, Junk,
 * Archive) made by a first IMAP login, so that JMAP knows it at once.
 */
export async function createJmapMailbox(
  password = randomBytes(12).toString('base64url'),
): Promise<JmapMailbox> {
  const peers = readMailPeers();
  if (!peers.components.includes('cyrus')) {
    throw new Error(`The mail peers under ${peers.root} run no Cyrus (MP_COMPONENTS leaves it out)`);
  }
  const user = `j${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  const address = (await runScript(['add-cyrus-user', user, password], 15_000)).trim();
  return {
    user,
    address,
    password,
    sessionUrl: `http://${peers.host}:${peers.ports.jmap}/jmap`,
    secureSessionUrl: `https://localhost:${peers.ports.jmaps}/jmap`,
  };
}

/** A JMAP method call: [name, arguments, call id]. */
export type JmapInvocation = [string, Record<string, unknown>, string];

/**
 * One JMAP request as this Cyrus user, over plain HTTP (the test's own view of the account, not
 * the code under test): the method responses, or an error for anything but 200.
 */
export async function jmapRequest(box: Mailbox, methodCalls: JmapInvocation[]): Promise<JmapInvocation[]> {
  const { host, ports } = readMailPeers();
  const response = await fetch(`http://${host}:${ports.jmap}/jmap/`, {
    method: 'POST',
    headers: { authorization: basicAuth(box), 'content-type': 'application/json' },
    body: JSON.stringify({
      using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
      methodCalls,
    }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok)
    throw new Error(`JMAP ${response.status} ${response.statusText}: ${await response.text()}`);
  return ((await response.json()) as { methodResponses: JmapInvocation[] }).methodResponses;
}

/** JMAP's UTCDate: no fractional seconds when they are zero (RFC 8620 1.4), and here never any. */
const utcDate = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

const basicAuth = (box: Mailbox): string =>
  `Basic ${Buffer.from(`${box.user}:${box.password}`).toString('base64')}`;

/** The account's mailboxes: id, name and role (Cyrus names its inbox "Inbox", role "inbox"). */
export async function jmapMailboxes(
  box: Mailbox,
): Promise<{ id: string; name: string; role: string | null }[]> {
  const [[, result]] = (await jmapRequest(box, [
    ['Mailbox/get', { accountId: box.user, properties: ['name', 'role'] }, 'm'],
  ])) as [JmapInvocation];
  return result.list as { id: string; name: string; role: string | null }[];
}

/**
 * Puts a message into a Cyrus mailbox the way JMAP does (upload, then Email/import): into the
 * mailbox with this role or name (the inbox by default), received at `receivedAt` when given.
 * Returns the new Email id.
 */
export async function importJmapEmail(
  box: Mailbox,
  raw: string | Buffer,
  options: { mailbox?: string; receivedAt?: Date; keywords?: string[] } = {},
): Promise<string> {
  const { host, ports } = readMailPeers();
  const upload = await fetch(`http://${host}:${ports.jmap}/jmap/upload/${box.user}/`, {
    method: 'POST',
    headers: { authorization: basicAuth(box), 'content-type': 'message/rfc822' },
    body: typeof raw === 'string' ? raw : new Uint8Array(raw),
    signal: AbortSignal.timeout(10_000),
  });
  if (!upload.ok) throw new Error(`JMAP upload: ${upload.status} ${await upload.text()}`);
  const { blobId } = (await upload.json()) as { blobId: string };
  const wanted = options.mailbox ?? 'inbox';
  const mailbox = (await jmapMailboxes(box)).find((m) => m.role === wanted || m.name === wanted);
  if (!mailbox) throw new Error(`No mailbox ${wanted} for ${box.user}`);
  const [[name, result]] = (await jmapRequest(box, [
    [
      'Email/import',
      {
        accountId: box.user,
        emails: {
          e: {
            blobId,
            mailboxIds: { [mailbox.id]: true },
            keywords: Object.fromEntries((options.keywords ?? []).map((k) => [k, true])),
            ...(options.receivedAt ? { receivedAt: utcDate(options.receivedAt) } : {}),
          },
        },
      },
      'i',
    ],
  ])) as [JmapInvocation];
  const created = (result.created as Record<string, { id: string }> | undefined)?.e;
  if (name !== 'Email/import' || !created) {
    throw new Error(`JMAP Email/import failed: ${JSON.stringify([name, result])}`);
  }
  return created.id;
}

/**
 * An ImapFlow client for this user, connected and logged in: over IMAPS trusting the test CA,
 * unless `overrides` say otherwise (`{ port: mailPeers.ports.imap, secure: false, doSTARTTLS: true }`,
 * `{ proxy: 'socks5://…' }`, …). A client that fails to connect is closed before the error is thrown.
 */
export async function connectImap(
  user: string,
  password: string,
  overrides: Partial<ImapFlowOptions> = {},
): Promise<ImapFlow> {
  const peers = readMailPeers();
  const client = new ImapFlow({
    host: peers.host,
    port: peers.ports.imaps,
    secure: true,
    tls: { ca: peers.ca, servername: 'localhost' },
    auth: { user, pass: password },
    logger: false,
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 10_000,
    ...overrides,
  });
  // failures reach the caller through the promises; an 'error' event nobody listens to would
  // end the test process instead
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

/** Every message in the user's INBOX, oldest first, read over IMAPS and parsed. */
export async function readInbox(user: string, password: string): Promise<InboxMessage[]> {
  const client = await connectImap(user, password);
  try {
    const mailbox = await client.mailboxOpen('INBOX', { readOnly: true });
    if (mailbox.exists === 0) return [];
    const fetched: { uid: number; source: Buffer }[] = [];
    for await (const message of client.fetch('1:*', { uid: true, source: true })) {
      if (message.source) fetched.push({ uid: message.uid, source: message.source });
    }
    return Promise.all(fetched.map(async (m) => ({ ...m, mail: await simpleParser(m.source) })));
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** The first INBOX message that satisfies `predicate`, polling until `timeoutMs` runs out. */
export async function waitForMessage(
  user: string,
  password: string,
  predicate: (message: InboxMessage) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<InboxMessage> {
  const deadline = Date.now() + timeoutMs;
  let seen: InboxMessage[] = [];
  for (;;) {
    seen = await readInbox(user, password);
    const found = seen.find(predicate);
    if (found) return found;
    if (Date.now() >= deadline) {
      const subjects = seen.map((m) => JSON.stringify(m.mail.subject ?? '')).join(', ') || 'none';
      throw new Error(`No matching message for ${user} within ${timeoutMs} ms; INBOX subjects: ${subjects}`);
    }
    await sleep(100);
  }
}

// ------------------------------------------------------------------------------------- smtp-sink

const envelopeLine =
  /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args|Xforward-\S+|Xclient-\S+): ?(.*)$/;

/** What smtp-sink received, oldest first (each file is complete once the client had its 250). */
export async function sinkMessages(): Promise<SinkMessage[]> {
  const { sinkDir } = readMailPeers();
  const files = fs.readdirSync(sinkDir).sort();
  return Promise.all(
    files.map(async (name) => {
      const file = path.join(sinkDir, name);
      const lines = fs.readFileSync(file).toString('latin1').split('\n');
      let mailFrom = '';
      const rcptTo: string[] = [];
      let i = 0;
      for (; i < lines.length; i++) {
        const match = envelopeLine.exec(lines[i]!.replace(/\r$/, ''));
        if (!match) break;
        const value = match[2]!.replace(/^<([^>]*)>.*$/, '$1');
        if (match[1] === 'Mail-Args') mailFrom = value;
        if (match[1] === 'Rcpt-Args') rcptTo.push(value);
      }
      // smtp-sink's own Received header: its first line and the continuation lines
      let end = i + 1;
      while (/^[ \t]/.test(lines[end] ?? '')) end++;
      if (lines[i]?.startsWith('Received:') && lines.slice(i, end).join('\n').includes('by smtp-sink'))
        i = end;
      const source = Buffer.from(lines.slice(i).join('\n'), 'latin1');
      return { file, mailFrom, rcptTo, source, mail: await simpleParser(source) };
    }),
  );
}
