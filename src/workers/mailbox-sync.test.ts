/**
 * Receiving over IMAP end to end, against the real Dovecot of test/mail-peers: mail is delivered
 * into a fresh mailbox with IMAP APPEND (or sent through Postfix), read by the real mailbox worker,
 * and checked through the API as a user would.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../test/support/app.ts';
import { testDialects } from '../../test/support/dialects.ts';
import { createTestMailboxSync, imapAccountInput, runMailboxSyncOnce } from '../../test/support/mailboxes.ts';
import {
  connectImap,
  createJmapMailbox,
  createMailbox,
  importJmapEmail,
  jmapMailboxes,
  jmapRequest,
  mailPeers,
  type JmapMailbox,
  type Mailbox,
} from '../../test/support/mail-peers.ts';
import { runOutboxOnce } from '../../test/support/outbox.ts';
import { createSmtpSenderPool } from '../mail/smtp-sender.ts';
import { createLogger } from '../logger.ts';
import { startWorker } from './runner.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let sequence = 0;

function mail(options: {
  from: string;
  to: string;
  subject: string;
  body?: string;
  messageId?: string | null;
  inReplyTo?: string;
  extraHeaders?: string[];
}): Buffer {
  sequence += 1;
  const messageId =
    options.messageId === undefined ? `<m${sequence}.${Date.now()}@sender.test>` : options.messageId;
  const lines = [
    `From: ${options.from}`,
    `To: ${options.to}`,
    `Subject: ${options.subject}`,
    'Date: Mon, 23 Nov 2026 08:00:00 +0000',
    ...(messageId ? [`Message-ID: ${messageId}`] : []),
    ...(options.inReplyTo ? [`In-Reply-To: ${options.inReplyTo}`, `References: ${options.inReplyTo}`] : []),
    ...(options.extraHeaders ?? []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    options.body ?? `Body of ${options.subject}`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

/** Appends the messages to the folder, over several connections when there are many. */
async function deliver(
  mailbox: Mailbox,
  raws: Buffer[],
  { folder = 'INBOX', date = new Date('2026-11-20T10:00:00Z') }: { folder?: string; date?: Date } = {},
) {
  const lanes = Math.min(8, Math.ceil(raws.length / 100));
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const client = await connectImap(mailbox.user, mailbox.password);
      try {
        for (let index = lane; index < raws.length; index += lanes)
          await client.append(folder, raws[index]!, [], date);
      } finally {
        await client.logout();
      }
    }),
  );
}

describe.each(testDialects)('receiving over IMAP on %s', (dialect) => {
  const testApp = useTestApp(dialect, { RAW_MESSAGE_MAX_BYTES: '4096' });
  let user: SignedIn;

  beforeAll(async () => {
    user = await signUp(testApp.current.container, { org: `Receivers ${dialect}`, role: 'admin' });
  });

  const api = <Result = Body>(method: string, path: string, body?: unknown, token = user.token) =>
    request<Result>(testApp.current.baseUrl, method, path, { token, ...(body !== undefined && { body }) });

  async function addAccount(
    mailbox: Mailbox,
    overrides: { incoming?: Body; options?: Body; scope?: 'personal' | 'team'; smtp?: Body } = {},
    token = user.token,
  ): Promise<string> {
    const input = imapAccountInput(mailbox, overrides.incoming);
    const response = await api(
      'POST',
      '/api/accounts',
      {
        ...input,
        scope: overrides.scope ?? 'personal',
        smtp: overrides.smtp ?? {
          host: '127.0.0.1',
          port: mailPeers.ports.submission,
          security: 'starttls',
          requiresAuth: true,
          username: mailbox.user,
          password: mailbox.password,
        },
        ...(overrides.options && { options: overrides.options }),
      },
      token,
    );
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body.id as string;
  }

  /** A Cyrus JMAP account's incoming settings, through its session URL over plain HTTP. */
  const jmapIncoming = (box: JmapMailbox, extra: Body = {}): Body => ({
    protocol: 'jmap',
    url: box.sessionUrl,
    security: 'none',
    host: null,
    port: null,
    ...extra,
  });

  async function inbox(accountId: string, extra = '') {
    const response = await api<{ items: Body[]; total: number }>(
      'GET',
      `/api/messages?direction=in&accountId=${accountId}&pageSize=200${extra}`,
    );
    expect(response.status).toBe(200);
    return response.body;
  }

  async function eventsOf(accountId: string) {
    return testApp.current.container.db
      .selectFrom('events')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('type', '=', 'email.received')
      .execute();
  }

  /** Past every account's next poll, as time passing would be. */
  const later = () => testApp.current.clock.advance(3_600_000);

  it('finds received mail by words of its subject or by its sender, whatever the case, % and _ taken as written', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox);
    await deliver(mailbox, [
      mail({ from: 'Carla Cortez <carla@orders.test>', to: mailbox.address, subject: 'Order 1187 shipped' }),
      mail({ from: 'news@shop.test', to: mailbox.address, subject: 'Spring sale: 50% off' }),
      mail({ from: 'news@shop.test', to: mailbox.address, subject: 'Spring sale: 50 offers' }),
    ]);
    await runMailboxSyncOnce(testApp.current.container);
    const found = async (q: string) =>
      (await inbox(accountId, `&q=${encodeURIComponent(q)}`)).items.map((message) => message.subject).sort();

    expect(await found('ORDER 1187')).toEqual(['Order 1187 shipped']);
    expect(await found('cortez')).toEqual(['Order 1187 shipped']);
    expect(await found('@shop.test')).toEqual(['Spring sale: 50 offers', 'Spring sale: 50% off']);
    expect(await found('50%')).toEqual(['Spring sale: 50% off']);
    expect(await found('50_')).toEqual([]);
    expect(await found('nowhere')).toEqual([]);
  });

  it('imports new mail once, files it on the From contact and emits email.received once, across restarts', async () => {
    const mailbox = await createMailbox();
    const contact = await api('POST', '/api/contacts', { email: 'Alice@Client.test', name: 'Alice' });
    expect(contact.status).toBe(201);
    const accountId = await addAccount(mailbox);
    await deliver(mailbox, [
      mail({ from: 'Alice <alice@client.test>', to: mailbox.address, subject: 'Hello from Alice' }),
      mail({ from: 'bob@elsewhere.test', to: mailbox.address, subject: 'Hello from Bob' }),
    ]);

    expect(await runMailboxSyncOnce(testApp.current.container)).toBeGreaterThanOrEqual(1);
    const first = await inbox(accountId);
    expect(first.items.map((message) => message.subject).sort()).toEqual([
      'Hello from Alice',
      'Hello from Bob',
    ]);
    const alice = first.items.find((message) => message.subject === 'Hello from Alice')!;
    expect(alice).toMatchObject({
      direction: 'in',
      status: 'received',
      from: { name: 'Alice', address: 'alice@client.test' },
      private: false,
      quarantine: null,
      placements: [{ accountId, folder: 'INBOX', private: false, contactId: contact.body.id }],
    });
    expect((await inbox(accountId, `&contactId=${contact.body.id}`)).items.map((m) => m.subject)).toEqual([
      'Hello from Alice',
    ]);
    const raw = await fetch(`${testApp.current.baseUrl}/api/messages/${alice.id}/raw`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(raw.headers.get('content-type')).toContain('message/rfc822');
    expect(await raw.text()).toContain('Subject: Hello from Alice');

    // A restart: a new worker with the stored cursor, and the poll interval gone by.
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).total).toBe(2);
    expect(await eventsOf(accountId)).toHaveLength(2);

    await deliver(mailbox, [mail({ from: 'alice@client.test', to: mailbox.address, subject: 'Third' })]);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).total).toBe(3);
    const events = await eventsOf(accountId);
    expect(events).toHaveLength(3);
    expect(JSON.parse(events.find((event) => event.message_id === alice.id)!.payload)).toMatchObject({
      accountId,
      contactId: contact.body.id,
      subject: 'Hello from Alice',
      from: { address: 'alice@client.test' },
    });

    // The worker never marks mail read.
    const client = await connectImap(mailbox.user, mailbox.password);
    try {
      await client.mailboxOpen('INBOX', { readOnly: true });
      for await (const message of client.fetch('1:*', { flags: true })) {
        expect([...(message.flags ?? [])]).not.toContain('\\Seen');
      }
    } finally {
      await client.logout();
    }
    const account = await api('GET', `/api/accounts/${accountId}`);
    expect(account.body.health.incoming).toMatchObject({ state: 'ok' });
  });

  it('reads only mail received since syncSince on the first sync', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, [mail({ from: 'old@client.test', to: mailbox.address, subject: 'Old news' })], {
      date: new Date('2025-06-01T10:00:00Z'),
    });
    await deliver(mailbox, [mail({ from: 'new@client.test', to: mailbox.address, subject: 'Fresh news' })]);
    const accountId = await addAccount(mailbox, { incoming: { syncSince: '2026-06-01' } });
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).items.map((message) => message.subject)).toEqual(['Fresh news']);
  });

  it('stores mail that reached a personal and a team account once, each place with its own private flag', async () => {
    const contact = await api('POST', '/api/contacts', { email: 'carol@client.test' });
    const personalBox = await createMailbox();
    const teamBox = await createMailbox();
    const personal = await addAccount(personalBox, { options: { markIncomingPrivate: true } });
    const team = await addAccount(teamBox, { scope: 'team' });
    const shared = mail({
      from: 'carol@client.test',
      to: `${personalBox.address}, ${teamBox.address}`,
      subject: 'To you both',
    });
    await deliver(personalBox, [
      Buffer.concat([Buffer.from(`Delivered-To: ${personalBox.address}\r\n`), shared]),
    ]);
    await deliver(teamBox, [Buffer.concat([Buffer.from(`Delivered-To: ${teamBox.address}\r\n`), shared])]);
    // The same Message-ID with other content is other mail, never swallowed.
    const reused = mail({
      from: 'carol@client.test',
      to: teamBox.address,
      subject: 'Reused id',
      body: 'Other',
    });
    const sharedId = /Message-ID: (.*)\r\n/.exec(shared.toString())![1]!;
    await deliver(teamBox, [
      Buffer.from(reused.toString().replace(/Message-ID: .*\r\n/, `Message-ID: ${sharedId}\r\n`)),
    ]);

    await runMailboxSyncOnce(testApp.current.container);
    const inPersonal = (await inbox(personal)).items;
    const inTeam = (await inbox(team)).items;
    expect(inPersonal).toHaveLength(1);
    expect(inTeam.map((message) => message.subject).sort()).toEqual(['Reused id', 'To you both']);
    const once = inTeam.find((message) => message.subject === 'To you both')!;
    expect(once.id).toBe(inPersonal[0]!.id);
    expect(once.placements).toHaveLength(2);
    expect(once.placements).toEqual(
      expect.arrayContaining([
        { accountId: personal, folder: 'INBOX', private: true, contactId: null },
        { accountId: team, folder: 'INBOX', private: false, contactId: contact.body.id },
      ]),
    );
    const stored = await testApp.current.container.db
      .selectFrom('messages')
      .select('id')
      .where('subject', '=', 'To you both')
      .execute();
    expect(stored).toHaveLength(1);
    // Filed on the contact through the team account only.
    const onContact = await api<{ items: Body[] }>(
      'GET',
      `/api/messages?direction=in&contactId=${contact.body.id}`,
    );
    expect(onContact.body.items.map((message) => message.id)).toContain(once.id);
  });

  it('links a reply to the sent message it answers, and files a copy of sent mail in Sent', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox);
    const queued = await api('POST', '/api/messages', {
      accountId,
      to: [mailbox.address],
      subject: 'Our offer',
      text: 'Please find our offer.',
    });
    expect(queued.status).toBe(202);
    const pool = createSmtpSenderPool();
    try {
      await runOutboxOnce(testApp.current.container, pool);
    } finally {
      await pool.close();
    }
    const sent = await api('GET', `/api/messages/${queued.body.id}`);
    expect(sent.body).toMatchObject({ status: 'sent', sentCopy: 'pending' });

    await deliver(mailbox, [
      mail({
        from: 'dave@client.test',
        to: mailbox.address,
        subject: 'Re: Our offer',
        inReplyTo: sent.body.messageId as string,
      }),
    ]);
    await runMailboxSyncOnce(testApp.current.container);
    const reply = (await inbox(accountId)).items.find((message) => message.subject === 'Re: Our offer')!;
    expect(reply.threadParentId).toBe(queued.body.id);
    expect(reply.inReplyTo).toBe(String(sent.body.messageId).replace(/^<|>$/g, ''));
    expect((await api('GET', `/api/messages/${queued.body.id}`)).body.sentCopy).toBe('filed');

    const client = await connectImap(mailbox.user, mailbox.password);
    try {
      await client.mailboxOpen('Sent', { readOnly: true });
      const copies = [];
      for await (const message of client.fetch('1:*', { envelope: true, flags: true })) copies.push(message);
      expect(copies.map((copy) => copy.envelope?.subject)).toEqual(['Our offer']);
      expect([...(copies[0]!.flags ?? [])]).toContain('\\Seen');
    } finally {
      await client.logout();
    }
  });

  it('logs in with challenge-response over implicit TLS when the account asks for SPA', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox, {
      incoming: { port: mailPeers.ports.imaps, security: 'tls', spa: true },
    });
    await deliver(mailbox, [mail({ from: 'spa@client.test', to: mailbox.address, subject: 'Over TLS' })]);
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).items.map((message) => message.subject)).toEqual(['Over TLS']);
    expect((await api('GET', `/api/accounts/${accountId}`)).body.health.incoming.state).toBe('ok');
  });

  it('quarantines mail the parser cannot read: kept raw, shown with the error, never read again', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox);
    const junk = Buffer.from('\u0001\u0002 this is no message at all\r\n\r\nstill none\r\n');
    await deliver(mailbox, [
      junk,
      mail({ from: 'fine@client.test', to: mailbox.address, subject: 'Readable' }),
    ]);
    await runMailboxSyncOnce(testApp.current.container);
    const { items } = await inbox(accountId);
    expect(items).toHaveLength(2);
    const quarantined = items.find((message) => message.quarantine !== null)!;
    expect(quarantined.quarantine.error).toEqual(expect.any(String));
    const raw = await fetch(`${testApp.current.baseUrl}/api/messages/${quarantined.id}/raw`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(Buffer.from(await raw.arrayBuffer()).equals(junk)).toBe(true);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).total).toBe(2);
  });

  it('reads a renumbered folder (UIDVALIDITY changed) again without storing or announcing anything twice', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox, { incoming: { folders: ['INBOX', 'Projects'] } });
    const raws = [
      mail({ from: 'pm@client.test', to: mailbox.address, subject: 'Plan' }),
      mail({ from: 'pm@client.test', to: mailbox.address, subject: 'Budget' }),
    ];
    const client = await connectImap(mailbox.user, mailbox.password);
    try {
      await client.mailboxCreate('Projects');
    } finally {
      await client.logout();
    }
    await deliver(mailbox, raws, { folder: 'Projects' });
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).total).toBe(2);

    const again = await connectImap(mailbox.user, mailbox.password);
    try {
      await again.mailboxDelete('Projects');
      await again.mailboxCreate('Projects');
    } finally {
      await again.logout();
    }
    await deliver(mailbox, [...raws, mail({ from: 'pm@client.test', to: mailbox.address, subject: 'New' })], {
      folder: 'Projects',
    });
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).items.map((message) => message.subject).sort()).toEqual([
      'Budget',
      'New',
      'Plan',
    ]);
    expect(await eventsOf(accountId)).toHaveLength(3);
  });

  async function countOnServer(mailbox: Mailbox, folder = 'INBOX'): Promise<number> {
    const client = await connectImap(mailbox.user, mailbox.password);
    try {
      const status = await client.status(folder, { messages: true });
      return status ? (status.messages ?? 0) : 0;
    } finally {
      await client.logout();
    }
  }

  it('deletes received mail only from the account where it was deleted, and from the server where that account says so', async () => {
    const personalBox = await createMailbox();
    const teamBox = await createMailbox();
    const personal = await addAccount(personalBox, { incoming: { removeWhenDeleted: true } });
    const team = await addAccount(teamBox, { scope: 'team' });
    const shared = mail({
      from: 'gina@client.test',
      to: `${personalBox.address}, ${teamBox.address}`,
      subject: 'Both',
    });
    await deliver(personalBox, [shared]);
    await deliver(teamBox, [shared]);
    await runMailboxSyncOnce(testApp.current.container);
    const [message] = (await inbox(personal)).items;

    expect((await api('DELETE', `/api/messages/${message!.id}?accountId=${personal}`)).status).toBe(204);
    expect((await inbox(personal)).total).toBe(0);
    expect((await inbox(team)).items.map((item) => item.id)).toEqual([message!.id]);
    expect((await api('GET', `/api/messages/${message!.id}`)).body.placements).toEqual([
      expect.objectContaining({ accountId: team }),
    ]);
    expect(await countOnServer(personalBox)).toBe(1);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect(await countOnServer(personalBox)).toBe(0);
    expect(await countOnServer(teamBox)).toBe(1);
    // The team account keeps mail deleted here on its server (removeWhenDeleted is off).
    expect((await api('DELETE', `/api/messages/${message!.id}`)).status).toBe(204);
    expect((await api('GET', `/api/messages/${message!.id}`)).status).toBe(404);
    expect((await api('GET', `/api/messages/${message!.id}/raw`)).status).toBe(404);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect(await countOnServer(teamBox)).toBe(1);
    expect((await inbox(team)).total).toBe(0);
    expect(await eventsOf(team)).toHaveLength(1);
  });

  it('removes stored mail from the server after removeAfterDays, counted from when it was first seen', async () => {
    const agingBox = await createMailbox();
    const aging = await addAccount(agingBox, { incoming: { removeAfterDays: 2 } });
    await deliver(agingBox, [mail({ from: 'i@client.test', to: agingBox.address, subject: 'Keep a while' })]);
    await runMailboxSyncOnce(testApp.current.container);
    expect(await countOnServer(agingBox)).toBe(1);

    testApp.current.clock.advance(86_400_000);
    await runMailboxSyncOnce(testApp.current.container);
    expect(await countOnServer(agingBox)).toBe(1);
    testApp.current.clock.advance(86_400_000 + 1000);
    await runMailboxSyncOnce(testApp.current.container);
    expect(await countOnServer(agingBox)).toBe(0);
    expect((await inbox(aging)).items.map((item) => item.subject)).toEqual(['Keep a while']);
  });

  it('deletes a sent message here, but not one being sent', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox);
    const queued = await api('POST', '/api/messages', {
      accountId,
      to: ['j@client.test'],
      subject: 'Bye',
      text: 'x',
    });
    expect((await api('DELETE', `/api/messages/${queued.body.id}`)).status).toBe(204);
    expect((await api('GET', `/api/messages/${queued.body.id}`)).status).toBe(404);
  });

  it('reads a JMAP account (Cyrus), files its sent mail in Sent, and destroys mail deleted here on the server', async () => {
    const box = await createJmapMailbox();
    const accountId = await addAccount(box, {
      incoming: jmapIncoming(box, { removeWhenDeleted: true }),
      smtp: { host: '127.0.0.1', port: mailPeers.ports.sink, security: 'none', requiresAuth: false },
    });
    const tested = await api<{ steps: Body[] }>('POST', `/api/accounts/${accountId}/test`);
    expect(tested.body.steps.filter((step) => step.direction === 'incoming')).toEqual([
      expect.objectContaining({ step: 'login', ok: true }),
    ]);
    await importJmapEmail(box, mail({ from: 'kim@client.test', to: box.address, subject: 'Over JMAP' }));
    const queued = await api('POST', '/api/messages', {
      accountId,
      to: ['kim@client.test'],
      subject: 'Sent over SMTP',
      text: 'x',
    });
    const pool = createSmtpSenderPool();
    try {
      await runOutboxOnce(testApp.current.container, pool);
    } finally {
      await pool.close();
    }
    await runMailboxSyncOnce(testApp.current.container);
    const [received] = (await inbox(accountId)).items;
    expect(received).toMatchObject({ subject: 'Over JMAP', from: { address: 'kim@client.test' } });
    expect((await api('GET', `/api/messages/${queued.body.id}`)).body.sentCopy).toBe('filed');
    const sentBox = (await jmapMailboxes(box)).find((mailbox) => mailbox.role === 'sent')!;
    const emailsIn = async (mailboxId: string) => {
      const [[, result]] = (await jmapRequest(box, [
        ['Email/query', { accountId: box.user, filter: { inMailbox: mailboxId } }, 'q'],
      ])) as [[string, { ids: string[] }, string]];
      return result.ids.length;
    };
    expect(await emailsIn(sentBox.id)).toBe(1);
    const inboxBox = (await jmapMailboxes(box)).find((mailbox) => mailbox.role === 'inbox')!;
    expect(await emailsIn(inboxBox.id)).toBe(1);

    expect((await api('DELETE', `/api/messages/${received!.id}`)).status).toBe(204);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect(await emailsIn(inboxBox.id)).toBe(0);
  });

  it('files JMAP mail that a person moves into the inbox from another mailbox, once', async () => {
    const box = await createJmapMailbox();
    const accountId = await addAccount(box, {
      incoming: jmapIncoming(box),
    });
    await importJmapEmail(box, mail({ from: 'kim@client.test', to: box.address, subject: 'First' }));
    await runMailboxSyncOnce(testApp.current.container);
    const archived = await importJmapEmail(
      box,
      mail({ from: 'kim@client.test', to: box.address, subject: 'Archived' }),
      { mailbox: 'archive' },
    );
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).items.map((message) => message.subject)).toEqual(['First']);

    const inboxBox = (await jmapMailboxes(box)).find((mailbox) => mailbox.role === 'inbox')!;
    await jmapRequest(box, [
      [
        'Email/set',
        { accountId: box.user, update: { [archived]: { mailboxIds: { [inboxBox.id]: true } } } },
        'm',
      ],
    ]);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).items.map((message) => message.subject).sort()).toEqual([
      'Archived',
      'First',
    ]);

    await jmapRequest(box, [
      ['Email/set', { accountId: box.user, update: { [archived]: { 'keywords/$seen': true } } }, 's'],
    ]);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).total).toBe(2);
  });

  it('moves the placement of stored JMAP mail that a person files in another folder read here', async () => {
    const box = await createJmapMailbox();
    const accountId = await addAccount(box, {
      incoming: jmapIncoming(box, { folders: ['INBOX', 'Archive'] }),
    });
    const id = await importJmapEmail(
      box,
      mail({ from: 'kim@client.test', to: box.address, subject: 'Filed' }),
    );
    await runMailboxSyncOnce(testApp.current.container);
    const [stored] = (await inbox(accountId)).items;
    expect(stored).toMatchObject({ subject: 'Filed', placements: [{ folder: 'INBOX' }] });

    const archive = (await jmapMailboxes(box)).find((mailbox) => mailbox.role === 'archive')!;
    await jmapRequest(box, [
      ['Email/set', { accountId: box.user, update: { [id]: { mailboxIds: { [archive.id]: true } } } }, 'm'],
    ]);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    const { items, total } = await inbox(accountId);
    expect(total).toBe(1);
    expect(items[0]).toMatchObject({ id: stored!.id, placements: [{ folder: 'Archive' }] });
  });

  it('finds a JMAP session from the host alone, at https://host/.well-known/jmap', async () => {
    const box = await createJmapMailbox();
    const accountId = await addAccount(box, {
      incoming: { protocol: 'jmap', host: 'localhost', port: mailPeers.ports.jmaps, security: 'tls' },
    });
    await importJmapEmail(box, mail({ from: 'lee@client.test', to: box.address, subject: 'Found by host' }));
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).items.map((message) => message.subject)).toEqual(['Found by host']);
  });

  it('reads a POP3 account: UIDL continuity across restarts, leaveOnServer off, removeWhenDeleted', async () => {
    const pop3 = (extra: Body) => ({
      protocol: 'pop3',
      port: mailPeers.ports.pop3,
      security: 'starttls',
      folders: null,
      ...extra,
    });
    const keepBox = await createMailbox();
    const keep = await addAccount(keepBox, { incoming: pop3({ removeWhenDeleted: true }) });
    const takeBox = await createMailbox();
    const take = await addAccount(takeBox, { incoming: pop3({ leaveOnServer: false }) });
    await deliver(keepBox, [
      mail({ from: 'l@client.test', to: keepBox.address, subject: 'One' }),
      mail({ from: 'l@client.test', to: keepBox.address, subject: 'Two' }),
    ]);
    await deliver(takeBox, [mail({ from: 'm@client.test', to: takeBox.address, subject: 'Taken' })]);
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(keep)).total).toBe(2);
    expect(await countOnServer(keepBox)).toBe(2);
    expect((await inbox(take)).items.map((item) => item.subject)).toEqual(['Taken']);
    expect(await countOnServer(takeBox)).toBe(0);

    await deliver(keepBox, [mail({ from: 'l@client.test', to: keepBox.address, subject: 'Three' })]);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    const { items } = await inbox(keep);
    expect(items.map((item) => item.subject).sort()).toEqual(['One', 'Three', 'Two']);
    expect(await eventsOf(keep)).toHaveLength(3);

    const one = items.find((item) => item.subject === 'One')!;
    expect((await api('DELETE', `/api/messages/${one.id}`)).status).toBe(204);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect(await countOnServer(keepBox)).toBe(2);
    expect((await inbox(keep)).total).toBe(2);
  });

  it('keeps only the header block of a message above the size cap, and flags it', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox);
    await deliver(mailbox, [
      mail({ from: 'big@client.test', to: mailbox.address, subject: 'Big one', body: 'x'.repeat(20_000) }),
    ]);
    await runMailboxSyncOnce(testApp.current.container);
    const [big] = (await inbox(accountId)).items;
    expect(big).toMatchObject({ subject: 'Big one', raw: { truncated: true } });
    expect(big!.raw.size).toBeGreaterThan(20_000);
    const raw = await fetch(`${testApp.current.baseUrl}/api/messages/${big!.id}/raw`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    const text = await raw.text();
    expect(text).toContain('Subject: Big one');
    expect(text).not.toContain('xxxxxxxxxx');
  });

  it('pauses receiving after 3 refused logins in a row, and resumes when the password changes', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox, { incoming: { password: 'not-the-password' } });
    for (let attempt = 1; attempt <= 3; attempt++) {
      await runMailboxSyncOnce(testApp.current.container);
      later();
    }
    let account = await api('GET', `/api/accounts/${accountId}`);
    expect(account.body.health.incoming.state).toBe('paused');
    expect(account.body.health.incoming.lastError).toMatch(/3 refused logins/);
    expect(JSON.stringify(account.body)).not.toContain('not-the-password');
    const paused = await testApp.current.container.db
      .selectFrom('events')
      .select('type')
      .where('account_id', '=', accountId)
      .execute();
    expect(paused.map((event) => event.type)).toContain('account.receiving_paused');
    // Paused: a fourth sync does not try.
    const before = await testApp.current.container.services.mailboxes.state(accountId);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect(await testApp.current.container.services.mailboxes.state(accountId)).toEqual(before);

    const changed = await api('PATCH', `/api/accounts/${accountId}`, {
      incoming: { password: mailbox.password },
    });
    expect(changed.status).toBe(200);
    await deliver(mailbox, [
      mail({ from: 'erin@client.test', to: mailbox.address, subject: 'After the fix' }),
    ]);
    await runMailboxSyncOnce(testApp.current.container);
    account = await api('GET', `/api/accounts/${accountId}`);
    expect(account.body.health.incoming.state).toBe('ok');
    expect((await inbox(accountId)).items.map((message) => message.subject)).toEqual(['After the fix']);
  });

  describe('a server that accepts the connection and then says nothing', () => {
    let silent: net.Server;
    const sockets = new Set<net.Socket>();
    beforeAll(async () => {
      silent = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    it('times out within the account’s timeout and shows it on the incoming health', async () => {
      const mailbox = await createMailbox();
      const accountId = await addAccount(mailbox, {
        incoming: { port: (silent.address() as net.AddressInfo).port, security: 'none', timeoutMs: 1000 },
      });
      const started = performance.now();
      await runMailboxSyncOnce(testApp.current.container);
      expect(performance.now() - started).toBeLessThan(15_000);
      const account = await api('GET', `/api/accounts/${accountId}`);
      expect(account.body.health.incoming.state).toBe('timeout');
    });
  });

  /** The real worker loop, as `mailroom worker` runs it, with a poll interval of a minute. */
  async function runWorker(
    idle: boolean,
    during: (sync: ReturnType<typeof createTestMailboxSync>) => Promise<void>,
  ) {
    const sync = createTestMailboxSync(testApp.current.container, { idle });
    testApp.current.container.onMailboxDue(sync.wake);
    const worker = startWorker([sync.task], createLogger('silent'));
    try {
      await during(sync);
    } finally {
      await worker.stop();
      await sync.close();
    }
  }

  it('IDLE brings new mail within seconds, without waiting for the next poll', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox);
    await runWorker(true, async (sync) => {
      await expect.poll(() => sync.watching().includes(accountId), { timeout: 10_000 }).toBe(true);
      await deliver(mailbox, [
        mail({ from: 'idle@client.test', to: mailbox.address, subject: 'Pushed by IDLE' }),
      ]);
      await expect
        .poll(async () => (await inbox(accountId)).items.map((message) => message.subject), {
          timeout: 10_000,
        })
        .toEqual(['Pushed by IDLE']);
    });
  });

  it('“Sync now” reads the account at once; an account without an incoming server says so', async () => {
    const mailbox = await createMailbox();
    const accountId = await addAccount(mailbox);
    await runWorker(false, async () => {
      await expect
        .poll(
          async () => (await testApp.current.container.services.mailboxes.state(accountId))?.last_sync_at,
          {
            timeout: 10_000,
          },
        )
        .toBeTruthy();
      await deliver(mailbox, [
        mail({ from: 'now@client.test', to: mailbox.address, subject: 'Read on demand' }),
      ]);
      const response = await api('POST', `/api/accounts/${accountId}/sync`);
      expect(response.status).toBe(202);
      await expect
        .poll(async () => (await inbox(accountId)).items.map((message) => message.subject), {
          timeout: 10_000,
        })
        .toEqual(['Read on demand']);
    });
    const noIncoming = await api('POST', '/api/accounts', {
      type: 'own',
      name: 'Send only',
      email: 'send-only@example.test',
      smtp: { host: '127.0.0.1', port: mailPeers.ports.sink, security: 'none', requiresAuth: false },
    });
    const refused = await api('POST', `/api/accounts/${noIncoming.body.id}/sync`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('INCOMING_NOT_CONFIGURED');
  });

  it('imports a 5,000-message mailbox in batches of maxMessagesPerFetch', async () => {
    const mailbox = await createMailbox();
    const raws = Array.from({ length: 5000 }, (_, index) =>
      mail({ from: `sender${index % 50}@bulk.test`, to: mailbox.address, subject: `Bulk ${index}` }),
    );
    await deliver(mailbox, raws);
    const accountId = await addAccount(mailbox, { incoming: { maxMessagesPerFetch: 1000 } });
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).total).toBe(5000);
    later();
    await runMailboxSyncOnce(testApp.current.container);
    expect((await inbox(accountId)).total).toBe(5000);
    expect(await eventsOf(accountId)).toHaveLength(5000);
  }, 120_000);
});
