import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../test/support/app.ts';
import { testDialects } from '../../test/support/dialects.ts';
import { runOutboxOnce } from '../../test/support/outbox.ts';
import { createSmtpSenderPool } from '../mail/smtp-sender.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Received {
  from: string;
  to: string[];
  raw: string;
}

/**
 * A real SMTP server on a real socket, whose replies each test scripts: the way to see what a
 * provider's 4xx or 5xx does to the outbox.
 */
async function startSmtpServer(options: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString(),
        });
        callback();
      });
    },
    ...options,
  });
  // A pool closed under it resets connections; the server reports that as an error, which is expected here.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    server,
    port,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.each(testDialects)('sending from the outbox on %s', (dialect) => {
  const testApp = useTestApp(dialect, { OUTBOX_RETRY_BASE_MS: '1000', OUTBOX_MAX_ATTEMPTS: '3' });
  const pool = createSmtpSenderPool({ maxConnectionsPerKey: 2 });
  let user: SignedIn;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  const refusals = new Map<string, string>();
  /** RCPT TO for these addresses waits until the promise settles: a server, or a worker, stalled. */
  const stalls = new Map<string, () => Promise<void>>();
  let mailFromReply: string | null = null;

  beforeAll(async () => {
    user = await signUp(testApp.current.container, { org: 'Senders' });
    smtp = await startSmtpServer({
      onMailFrom(_address, _session, callback) {
        if (!mailFromReply) return callback();
        const error = Object.assign(new Error(mailFromReply.slice(4)), {
          responseCode: Number(mailFromReply.slice(0, 3)),
        });
        return callback(error);
      },
      onRcptTo(address, _session, callback) {
        const stall = stalls.get(address.address);
        if (stall) {
          stalls.delete(address.address);
          void stall().then(() => callback());
          return;
        }
        const refusal = refusals.get(address.address);
        if (!refusal) return callback();
        return callback(
          Object.assign(new Error(refusal.slice(4)), { responseCode: Number(refusal.slice(0, 3)) }),
        );
      },
    });
  });
  afterAll(async () => {
    await pool.close();
    await smtp.close();
  });

  const runOutbox = () => runOutboxOnce(testApp.current.container, pool);

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    return request<Body>(testApp.current.baseUrl, method, path, { token: user.token, body, headers });
  }

  async function account(overrides: Body = {}): Promise<string> {
    const response = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'Outbox',
      email: `desk${Math.random().toString(36).slice(2, 8)}@senders.test`,
      displayName: 'Senders Desk',
      smtp: { host: '127.0.0.1', port: smtp.port, security: 'none', requiresAuth: false },
      ...overrides,
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body.id;
  }

  it('sends a queued message, with the account as envelope sender and the Message-ID it stored', async () => {
    const accountId = await account();
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: [{ name: 'Ada', address: 'ada@client.test' }],
      cc: ['cc@client.test'],
      bcc: ['hidden@client.test'],
      subject: 'Quarterly numbers',
      text: 'Hello Ada',
      html: '<p>Hello Ada</p>',
      headers: { 'X-Campaign': 'q4' },
      attachments: [
        {
          filename: 'numbers.csv',
          contentType: 'text/csv',
          content: Buffer.from('a,b\n1,2\n').toString('base64'),
        },
      ],
    });
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({
      status: 'ready',
      recipients: [{ status: 'pending' }, { status: 'pending' }, { status: 'pending' }],
    });

    const before = smtp.received.length;
    await runOutbox();
    const message = (await call('GET', `/api/messages/${queued.body.id}`)).body;
    expect(message).toMatchObject({
      status: 'sent',
      sentAt: expect.any(String),
      attempts: 1,
      reply: { code: 250 },
      recipients: [{ status: 'accepted' }, { status: 'accepted' }, { status: 'accepted' }],
    });
    const delivered = smtp.received.slice(before);
    expect(delivered).toHaveLength(1);
    const account_ = (await call('GET', `/api/accounts/${accountId}`)).body;
    expect(delivered[0]!.from).toBe(account_.email);
    expect(delivered[0]!.to.sort()).toEqual(['ada@client.test', 'cc@client.test', 'hidden@client.test']);
    const parsed = await simpleParser(delivered[0]!.raw);
    expect(parsed.messageId).toBe(message.messageId);
    expect(parsed.from?.value[0]).toMatchObject({ name: 'Senders Desk', address: account_.email });
    expect(parsed.replyTo?.value[0]?.address).toBe(account_.email);
    expect(parsed.headers.get('x-campaign')).toBe('q4');
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(parsed.attachments[0]).toMatchObject({ filename: 'numbers.csv', contentType: 'text/csv' });
    expect(account_.health.outgoing.state).toBe('ok');
  });

  it('uses the default account when none is named, and says so clearly when there is none', async () => {
    const { container } = testApp.current;
    const newcomer = await signUp(container, { org: 'Senders' });
    const none = await request<Body>(testApp.current.baseUrl, 'POST', '/api/messages', {
      token: newcomer.token,
      body: { to: ['x@client.test'], subject: 'Hi', text: 'Hi' },
    });
    expect(none.status).toBe(409);
    expect(none.body.error).toMatchObject({ code: 'NO_DEFAULT_ACCOUNT' });
  });

  it('delivers to the accepted recipients when one is refused at RCPT, and records the refusal as a bounce', async () => {
    const accountId = await account();
    const contact = await call('POST', '/api/contacts', { email: 'Gone@Client.test', name: 'Gone' });
    refusals.set(
      'gone@client.test',
      '550 5.1.1 <gone@client.test>: Recipient address rejected: User unknown',
    );
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: ['stays@client.test', 'gone@client.test'],
      subject: 'Partial',
      text: 'Hello',
    });
    const before = smtp.received.length;
    await runOutbox();
    const message = (await call('GET', `/api/messages/${queued.body.id}`)).body;
    expect(message.status).toBe('sent');
    expect(message.recipients).toEqual([
      expect.objectContaining({ address: 'stays@client.test', status: 'accepted' }),
      expect.objectContaining({
        address: 'gone@client.test',
        status: 'rejected',
        contactId: contact.body.id,
        reply: { code: 550, enhanced: '5.1.1', text: expect.stringContaining('User unknown') },
      }),
    ]);
    expect(smtp.received.slice(before).map((mail) => mail.to)).toEqual([['stays@client.test']]);
    const bounce = await testApp.current.database.db
      .selectFrom('bounces')
      .selectAll()
      .where('message_id', '=', queued.body.id)
      .executeTakeFirstOrThrow();
    expect(bounce).toMatchObject({
      source: 'smtp',
      recipient: 'gone@client.test',
      contact_id: contact.body.id,
      reason: 'userunknown',
      bounce_type: 'hard',
      reply_code: 550,
    });
  });

  it('gives each recipient their own From name from their contact card', async () => {
    const { container } = testApp.current;
    const owner = await signUp(container, { org: 'Senders' });
    await call('PATCH', `/api/users/${owner.userId}`, {});
    const ownerName = (await call('GET', `/api/users/${owner.userId}`)).body.name;
    await call('POST', '/api/contacts', { email: 'owned@client.test', ownerId: owner.userId });
    await call('POST', '/api/contacts', { email: 'orphan@client.test' });
    const accountId = await account({ fromNameTemplate: '{{contact.owner.name}} at Senders' });
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: ['owned@client.test', 'orphan@client.test'],
      subject: 'Personal',
      text: 'Hi',
    });
    const before = smtp.received.length;
    await runOutbox();
    const delivered = smtp.received.slice(before);
    expect(delivered.map((mail) => mail.to)).toEqual([['owned@client.test'], ['orphan@client.test']]);
    const names = await Promise.all(
      delivered.map(async (mail) => (await simpleParser(mail.raw)).from?.value[0]?.name),
    );
    expect(names).toEqual([`${ownerName} at Senders`, 'Senders Desk']);
    expect((await call('GET', `/api/messages/${queued.body.id}`)).body.status).toBe('sent');
  });

  it('retries a 4xx with backoff, then gives up as an error with the server’s words', async () => {
    const { clock } = testApp.current;
    const accountId = await account();
    mailFromReply = '451 4.3.0 Try again later';
    try {
      const queued = await call('POST', '/api/messages', {
        accountId,
        to: ['later@client.test'],
        subject: 'Later',
        text: 'x',
      });
      await runOutbox();
      let message = (await call('GET', `/api/messages/${queued.body.id}`)).body;
      expect(message).toMatchObject({
        status: 'ready',
        attempts: 1,
        errorCode: expect.any(String),
        reply: { code: 451, enhanced: '4.3.0' },
      });
      expect(Date.parse(message.nextAttemptAt)).toBeGreaterThan(clock.now().getTime());
      await runOutbox();
      expect((await call('GET', `/api/messages/${queued.body.id}`)).body.attempts).toBe(1);
      for (let attempt = 2; attempt <= 3; attempt++) {
        clock.advance(3_600_000);
        await runOutbox();
      }
      message = (await call('GET', `/api/messages/${queued.body.id}`)).body;
      expect(message).toMatchObject({
        status: 'error',
        attempts: 3,
        reply: { code: 451, text: expect.stringContaining('Try again later') },
      });

      mailFromReply = null;
      // What the "Clear error status" button says it will change, before it is pressed.
      expect((await call('GET', `/api/accounts/${accountId}/outbox`)).body).toEqual({
        ready: 0,
        sending: 0,
        sent: 0,
        error: 1,
        uncertain: 0,
        cancelled: 0,
      });
      const cleared = await call('POST', `/api/accounts/${accountId}/outbox/clear-errors`);
      expect(cleared.body).toEqual({ count: 1 });
      expect((await call('GET', `/api/accounts/${accountId}/outbox`)).body).toMatchObject({
        ready: 1,
        error: 0,
      });
      await runOutbox();
      expect((await call('GET', `/api/messages/${queued.body.id}`)).body).toMatchObject({
        status: 'sent',
        attempts: 1,
      });
    } finally {
      mailFromReply = null;
    }
  });

  it('stops at once on a 5xx, recording the code, the enhanced status and the command', async () => {
    const accountId = await account();
    mailFromReply = '550 5.7.1 Sender address rejected: not owned by user';
    try {
      const queued = await call('POST', '/api/messages', {
        accountId,
        to: ['x@client.test'],
        subject: 'No',
        text: 'x',
      });
      await runOutbox();
      const message = (await call('GET', `/api/messages/${queued.body.id}`)).body;
      expect(message).toMatchObject({
        status: 'error',
        attempts: 1,
        reply: { code: 550, enhanced: '5.7.1', command: expect.stringMatching(/MAIL/) },
      });
    } finally {
      mailFromReply = null;
    }
  });

  it('pauses an account whose login fails, keeps its messages ready, and resumes when the password changes', async () => {
    const attempts: string[] = [];
    const guarded = await startSmtpServer({
      authOptional: false,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, callback) {
        attempts.push(auth.username ?? '');
        if (auth.password === 'right-password') return callback(null, { user: auth.username });
        return callback(
          Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }),
        );
      },
    });
    let accountId = '';
    try {
      accountId = await account({
        smtp: {
          host: '127.0.0.1',
          port: guarded.port,
          security: 'none',
          username: 'desk',
          password: 'wrong-password',
        },
      });
      const queued = await call('POST', '/api/messages', {
        accountId,
        to: ['x@client.test'],
        subject: 'Auth',
        text: 'x',
      });
      await runOutbox();
      await runOutbox();
      await runOutbox();
      expect(attempts).toHaveLength(1);
      expect((await call('GET', `/api/messages/${queued.body.id}`)).body).toMatchObject({
        status: 'ready',
        attempts: 0,
      });
      const paused = (await call('GET', `/api/accounts/${accountId}`)).body;
      expect(paused.health.outgoing).toMatchObject({
        state: 'auth_error',
        lastError: expect.stringContaining('Authentication credentials invalid'),
      });

      await call('PATCH', `/api/accounts/${accountId}`, { smtp: { password: 'right-password' } });
      await runOutbox();
      expect((await call('GET', `/api/messages/${queued.body.id}`)).body.status).toBe('sent');
      expect(guarded.received).toHaveLength(1);
      expect((await call('GET', `/api/accounts/${accountId}`)).body.health.outgoing.state).toBe('ok');
    } finally {
      await pool.close(accountId);
      await guarded.close();
    }
  });

  it('holds messages for later with sendAt', async () => {
    const { clock } = testApp.current;
    const accountId = await account();
    const sendAt = new Date(clock.now().getTime() + 2 * 3_600_000).toISOString();
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: ['later@client.test'],
      subject: 'Later',
      text: 'x',
      sendAt,
    });
    await runOutbox();
    expect((await call('GET', `/api/messages/${queued.body.id}`)).body).toMatchObject({
      status: 'ready',
      attempts: 0,
    });
    clock.advance(2 * 3_600_000 + 1000);
    await runOutbox();
    expect((await call('GET', `/api/messages/${queued.body.id}`)).body.status).toBe('sent');
  });

  it('returns the first message for a retried request with the same Idempotency-Key', async () => {
    const accountId = await account();
    const body = { accountId, to: ['once@client.test'], subject: 'Once', text: 'x' };
    const first = await call('POST', '/api/messages', body, { 'idempotency-key': 'order-42' });
    const again = await call('POST', '/api/messages', body, { 'idempotency-key': 'order-42' });
    const other = await call('POST', '/api/messages', body, { 'idempotency-key': 'order-43' });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(other.body.id).not.toBe(first.body.id);
    const listed = await call('GET', `/api/messages?accountId=${accountId}`);
    expect(listed.body.total).toBe(2);
  });

  it('queues a batch in one request, all or none', async () => {
    const accountId = await account();
    const ok = await call('POST', '/api/messages/batch', {
      messages: [1, 2, 3].map((n) => ({
        accountId,
        to: [`batch${n}@client.test`],
        subject: `Batch ${n}`,
        text: 'x',
      })),
    });
    expect(ok.status).toBe(202);
    expect(ok.body.items).toHaveLength(3);
    const bad = await call('POST', '/api/messages/batch', {
      messages: [
        { accountId, to: ['fine@client.test'], subject: 'Fine', text: 'x' },
        { accountId, to: [], subject: 'Nobody', text: 'x' },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields).toEqual({
      'messages.1.to': 'give at least one recipient in to, cc or bcc',
    });
    expect((await call('GET', `/api/messages?accountId=${accountId}`)).body.total).toBe(3);
  });

  it('files sent mail on the recipient’s contact, unless the account marks it private', async () => {
    const contact = await call('POST', '/api/contacts', { email: 'filed@client.test' });
    const open = await account();
    const secret = await account({ options: { markOutgoingPrivate: true } });
    const shown = await call('POST', '/api/messages', {
      accountId: open,
      to: ['filed@client.test'],
      subject: 'Shown',
      text: 'x',
    });
    await call('POST', '/api/messages', {
      accountId: secret,
      to: ['filed@client.test'],
      subject: 'Private',
      text: 'x',
    });
    const filed = await call('GET', `/api/messages?contactId=${contact.body.id}`);
    expect(filed.body.items.map((message: Body) => message.id)).toEqual([shown.body.id]);
  });

  it('finds queued mail by a recipient’s name or address as well as by its subject', async () => {
    const accountId = await account();
    await call('POST', '/api/messages', {
      accountId,
      to: [{ name: 'Dora Díaz', address: 'dora@prospects.test' }],
      subject: 'Proposal for Q3',
      text: 'x',
    });
    await call('POST', '/api/messages', {
      accountId,
      to: ['eve@prospects.test'],
      subject: 'Follow-up',
      text: 'x',
    });
    const found = async (q: string) =>
      (
        await call('GET', `/api/messages?direction=out&accountId=${accountId}&q=${encodeURIComponent(q)}`)
      ).body.items.map((message: Body) => message.subject);

    expect(await found('dora')).toEqual(['Proposal for Q3']);
    expect(await found('PROSPECTS.TEST')).toEqual(['Follow-up', 'Proposal for Q3']);
    expect(await found('q3')).toEqual(['Proposal for Q3']);
  });

  it('cancels a ready message, and refuses to cancel a sent one', async () => {
    const accountId = await account();
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: ['x@client.test'],
      subject: 'Cancel me',
      text: 'x',
    });
    expect((await call('POST', `/api/messages/${queued.body.id}/cancel`)).body.status).toBe('cancelled');
    await runOutbox();
    expect((await call('GET', `/api/messages/${queued.body.id}`)).body.status).toBe('cancelled');
    const sent = await call('POST', '/api/messages', {
      accountId,
      to: ['x@client.test'],
      subject: 'Sent',
      text: 'x',
    });
    await runOutbox();
    const refused = await call('POST', `/api/messages/${sent.body.id}/cancel`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('MESSAGE_STATE_CONFLICT');
  });

  it('sends a message whose worker died before DATA again, and holds one that died after DATA as uncertain', async () => {
    const { clock, database } = testApp.current;
    const accountId = await account();
    const before = await call('POST', '/api/messages', {
      accountId,
      to: ['a@client.test'],
      subject: 'Died early',
      text: 'x',
    });
    const after = await call('POST', '/api/messages', {
      accountId,
      to: ['b@client.test'],
      subject: 'Died late',
      text: 'x',
    });
    const claimed = await testApp.current.container.services.outbox.claim(
      'crashed-worker',
      'crashed-worker',
      10,
    );
    expect(claimed.map((message) => message.id).sort()).toEqual([before.body.id, after.body.id].sort());
    await database.db
      .updateTable('message_recipients')
      .set({ data_started_at: clock.now().toISOString() })
      .where('message_id', '=', after.body.id)
      .execute();
    await runOutbox();
    expect((await call('GET', `/api/messages/${before.body.id}`)).body.status).toBe('sending');

    clock.advance(10 * 60_000);
    const sentBefore = smtp.received.length;
    await runOutbox();
    expect((await call('GET', `/api/messages/${before.body.id}`)).body.status).toBe('sent');
    expect((await call('GET', `/api/messages/${after.body.id}`)).body).toMatchObject({
      status: 'uncertain',
      errorCode: 'DELIVERY_UNCERTAIN',
    });
    expect(smtp.received.slice(sentBefore).map((mail) => mail.to)).toEqual([['a@client.test']]);

    const reset = await call('POST', `/api/messages/${after.body.id}/reset-sending`);
    expect(reset.body.status).toBe('ready');
  });

  it('sends nothing from a worker whose lease ended before DATA; the worker that took over sends it once', async () => {
    const { clock, container } = testApp.current;
    const accountId = await account();
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: ['stalled@client.test'],
      subject: 'Stalled worker',
      text: 'x',
    });
    let reachedRcpt!: () => void;
    const atRcpt = new Promise<void>((resolve) => (reachedRcpt = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    stalls.set('stalled@client.test', () => {
      reachedRcpt();
      return released;
    });
    const toThisOne = () => smtp.received.filter((mail) => mail.to.includes('stalled@client.test'));

    const stalledPass = runOutbox();
    await atRcpt;
    clock.advance(10 * 60_000);
    const otherPool = createSmtpSenderPool();
    try {
      await runOutboxOnce(container, otherPool);
    } finally {
      await otherPool.close();
    }
    expect(toThisOne()).toHaveLength(1);
    expect((await call('GET', `/api/messages/${queued.body.id}`)).body.status).toBe('sent');

    release();
    await stalledPass;
    expect(toThisOne()).toHaveLength(1);
    expect((await call('GET', `/api/messages/${queued.body.id}`)).body).toMatchObject({
      status: 'sent',
      attempts: 2,
    });
  });

  it('holds a sent message whose outcome was never written as uncertain, and never sends it again', async () => {
    const { clock, container } = testApp.current;
    const accountId = await account();
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: ['written-behind@client.test'],
      subject: 'Outcome lost',
      text: 'x',
    });
    // A worker whose outcome writes fail, as if it died between the server's 250 and the commit.
    const { outbox } = container.services;
    const complete = outbox.complete;
    outbox.complete = () => Promise.reject(new Error('disk full'));
    const toThisOne = () => smtp.received.filter((mail) => mail.to.includes('written-behind@client.test'));
    try {
      await runOutbox();
    } finally {
      outbox.complete = complete;
    }
    expect(toThisOne()).toHaveLength(1);
    expect((await call('GET', `/api/messages/${queued.body.id}`)).body.status).toBe('sending');

    clock.advance(10 * 60_000);
    await runOutbox();
    expect((await call('GET', `/api/messages/${queued.body.id}`)).body).toMatchObject({
      status: 'uncertain',
      errorCode: 'DELIVERY_UNCERTAIN',
    });
    expect(toThisOne()).toHaveLength(1);
  });

  it('holds a message as uncertain when the dispatcher fails after a DATA began, rather than sending it again', async () => {
    const { clock, container } = testApp.current;
    const accountId = await account({ fromNameTemplate: '{{contact.name}} at Senders' });
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: ['renewal@client.test'],
      subject: 'Lease lost',
      text: 'x',
    });
    const { outbox } = container.services;
    const renewLease = outbox.renewLease;
    outbox.renewLease = () => Promise.reject(new Error('connection reset'));
    const toThisOne = () => smtp.received.filter((mail) => mail.to.includes('renewal@client.test'));
    try {
      await runOutbox();
    } finally {
      outbox.renewLease = renewLease;
    }
    expect(toThisOne()).toHaveLength(1);
    expect((await call('GET', `/api/messages/${queued.body.id}`)).body.status).toBe('uncertain');
    clock.advance(10 * 60_000);
    await runOutbox();
    expect(toThisOne()).toHaveLength(1);
  });
});
