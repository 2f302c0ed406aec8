/**
 * Bounces end to end. A message that Postfix accepts and its next hop refuses comes back as a real
 * DSN in the sender's Dovecot mailbox; the mailbox worker reads it over IMAP, the classifier reads
 * it, it is matched to the message, recipient and contact, the contact turns faulty and the notice
 * is removed from the server. The rules (soft-bounce thresholds on a controlled clock, delays,
 * mail from the contact, complaints, the matching order, reactivation) run through the same
 * incoming path with notices written here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';
import { imapAccountInput, runMailboxSyncOnce } from '../../../test/support/mailboxes.ts';
import {
  connectImap,
  createMailbox,
  mailPeers,
  readInbox,
  waitForMessage,
} from '../../../test/support/mail-peers.ts';
import { sendDueMessages } from '../../../test/support/outbox.ts';
import { classifyMessage } from '../../bounces/classify/index.ts';
import { newId } from '../../db/ids.ts';
import { contentHash, parseMessage } from '../../mail/parse.ts';
import { envelopeIdFor, verpAddress } from '../../mail/verp.ts';
import { verpKeys } from '../../secrets/derived.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const DAY_MS = 86_400_000;
let sequence = 0;

/** A delivery-status notification (RFC 3464) as an MTA writes one, returning the headers only. */
function dsn(options: {
  to: string;
  failed: string;
  action?: 'failed' | 'delayed';
  status?: string;
  diagnostic?: string;
  envelopeId?: string;
  returnedMessageId?: string;
  returnPath?: string;
}): Buffer {
  sequence += 1;
  const action = options.action ?? 'failed';
  const status = options.status ?? (action === 'delayed' ? '4.4.1' : '5.2.2');
  const diagnostic =
    options.diagnostic ?? (action === 'delayed' ? '451 4.4.1 try again later' : '552 5.2.2 mailbox full');
  const boundary = `b${sequence}`;
  return Buffer.from(
    [
      'From: Mail Delivery System <MAILER-DAEMON@mx.remote.test>',
      `To: ${options.to}`,
      `Subject: ${action === 'delayed' ? 'Delayed Mail (still being retried)' : 'Undelivered Mail Returned to Sender'}`,
      'Date: Mon, 23 Nov 2026 09:00:00 +0000',
      `Message-ID: <dsn${sequence}.${Date.now()}@mx.remote.test>`,
      'Auto-Submitted: auto-replied',
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=us-ascii',
      '',
      `Your message to ${options.failed} could not be delivered.`,
      '',
      `--${boundary}`,
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.remote.test',
      ...(options.envelopeId ? [`Original-Envelope-Id: ${options.envelopeId}`] : []),
      '',
      `Final-Recipient: rfc822; ${options.failed}`,
      `Action: ${action}`,
      `Status: ${status}`,
      'Remote-MTA: dns; mx.customer.test',
      `Diagnostic-Code: smtp; ${diagnostic}`,
      '',
      `--${boundary}`,
      'Content-Type: text/rfc822-headers',
      '',
      ...(options.returnPath ? [`Return-Path: <${options.returnPath}>`] : []),
      `From: ${options.to}`,
      `To: ${options.failed}`,
      'Subject: Our offer',
      ...(options.returnedMessageId ? [`Message-ID: ${options.returnedMessageId}`] : []),
      '',
      `--${boundary}--`,
      '',
    ].join('\r\n'),
  );
}

/** A spam complaint (RFC 5965 ARF) from a mailbox provider's feedback loop. */
function complaint(options: { to: string; complainant: string; returnedMessageId: string }): Buffer {
  sequence += 1;
  const boundary = `arf${sequence}`;
  return Buffer.from(
    [
      'From: Feedback Loop <fbl@isp.test>',
      `To: ${options.to}`,
      'Subject: Complaint about message',
      'Date: Mon, 23 Nov 2026 09:00:00 +0000',
      `Message-ID: <arf${sequence}.${Date.now()}@isp.test>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain',
      '',
      'This is an email abuse report.',
      '',
      `--${boundary}`,
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'User-Agent: isp-fbl/1.0',
      'Version: 1',
      `Original-Rcpt-To: ${options.complainant}`,
      '',
      `--${boundary}`,
      'Content-Type: message/rfc822',
      '',
      `From: ${options.to}`,
      `To: ${options.complainant}`,
      'Subject: Our offer',
      `Message-ID: ${options.returnedMessageId}`,
      '',
      'Buy now.',
      '',
      `--${boundary}--`,
      '',
    ].join('\r\n'),
  );
}

function plainMail(from: string, to: string, subject: string): Buffer {
  sequence += 1;
  return Buffer.from(
    [
      `From: ${from}`,
      `To: ${to}`,
      `Subject: ${subject}`,
      'Date: Mon, 23 Nov 2026 09:00:00 +0000',
      `Message-ID: <plain${sequence}.${Date.now()}@customer.test>`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello.',
      '',
    ].join('\r\n'),
  );
}

describe.each(testDialects)('bounces on %s', (dialect) => {
  const testApp = useTestApp(dialect);
  let admin: SignedIn;

  const api = <Result = Body>(method: string, path: string, body?: unknown, as: SignedIn = admin) =>
    request<Result>(testApp.current.baseUrl, method, path, {
      token: as.token,
      ...(body !== undefined && { body }),
    });
  const db = () => testApp.current.container.db;

  const sendAll = () => sendDueMessages(testApp.current.container);

  async function contact(email: string): Promise<string> {
    const created = await api('POST', '/api/contacts', { email });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  /** Sends a message from the account to these addresses and returns it as the API shows it. */
  async function sent(accountId: string, to: string[], subject = 'Our offer'): Promise<Body> {
    const queued = await api('POST', '/api/messages', { accountId, to, subject, text: 'Hello.' });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    // Each send a second apart, so "the latest message to an address" is well defined.
    testApp.current.clock.advance(1000);
    await sendAll();
    const message = await api('GET', `/api/messages/${queued.body.id}`);
    expect(message.body.status).toBe('sent');
    return message.body;
  }

  const eventsOf = (contactId: string) =>
    db().selectFrom('events').selectAll().where('contact_id', '=', contactId).orderBy('id').execute();
  /** What a contact's bounces announced, leaving out the email.sent of the messages that bounced. */
  const bounceEventsOf = async (contactId: string) =>
    (await eventsOf(contactId)).map((event) => event.type).filter((type) => type !== 'email.sent');

  beforeAll(async () => {
    admin = await signUp(testApp.current.container, { org: `Bouncers ${dialect}`, role: 'admin' });
  });

  it('reads a real Postfix DSN over IMAP, matches it by ENVID, marks the contact faulty and deletes the notice from the server', async () => {
    const mailbox = await createMailbox();
    const input = imapAccountInput(mailbox, { deleteBounces: true });
    const account = await api('POST', '/api/accounts', {
      ...input,
      smtp: { host: '127.0.0.1', port: mailPeers.ports.smtp, security: 'none', requiresAuth: false },
    });
    expect(account.status, JSON.stringify(account.body)).toBe(201);
    const gone = `gone-${Date.now()}-${dialect}@${mailPeers.deadDomain}`;
    const goneId = await contact(gone);
    const friend = `friend-${Date.now()}@customer.test`;
    const friendId = await contact(friend);
    const message = await sent(account.body.id as string, [gone]);

    // Postfix accepted it; its next hop refuses the address, so the DSN comes back to the sender.
    await waitForMessage(
      mailbox.user,
      mailbox.password,
      (m) => /Undelivered Mail/i.test(m.mail.subject ?? ''),
      30_000,
    );
    const imap = await connectImap(mailbox.user, mailbox.password);
    try {
      await imap.append('INBOX', plainMail(friend, mailbox.address, 'Thanks for the offer'));
    } finally {
      await imap.logout();
    }
    await runMailboxSyncOnce(testApp.current.container);

    const bounces = await api('GET', `/api/bounces?contactId=${goneId}`);
    expect(bounces.body.total).toBe(1);
    const [bounce] = bounces.body.items as Body[];
    expect(bounce).toMatchObject({
      source: 'mailbox',
      action: 'failed',
      matchedBy: 'envid',
      messageId: message.id,
      recipientId: expect.any(String),
      contactId: goneId,
      recipient: gone,
      bounceType: 'hard',
      reason: 'userunknown',
      status: '5.1.1',
      hasRawNotice: true,
    });
    const raw = await fetch(`${testApp.current.baseUrl}/api/bounces/${bounce!.id}/raw`, {
      headers: { authorization: `Bearer ${admin.token}` },
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toMatch(/^message\/rfc822/);
    expect(await raw.text()).toContain(gone);
    // The stored notice leads back to its verdict, for a message view.
    const notice = await api('GET', `/api/messages/${bounce!.noticeMessageId}`);
    expect(notice.body).toMatchObject({ kind: 'bounce', direction: 'in' });
    const verdict = await api('GET', `/api/bounces?noticeMessageId=${bounce!.noticeMessageId}`);
    expect((verdict.body.items as Body[]).map((item) => item.id)).toEqual([bounce!.id]);

    const after = await api('GET', `/api/messages/${message.id}`);
    expect(after.body.recipients[0]).toMatchObject({ address: gone, status: 'bounced' });
    expect((await api('GET', `/api/contacts/${goneId}`)).body).toMatchObject({ status: 'faulty' });
    expect((await eventsOf(goneId)).map((event) => event.type)).toEqual([
      'email.sent',
      'email.bounced',
      'contact.faulty',
    ]);

    // The notice is kept here as a bounce (not announced as received mail) and is gone from the server;
    // the ordinary mail beside it stays there and is filed on its contact.
    const received = await api('GET', `/api/messages?direction=in&accountId=${account.body.id}`);
    const kinds = (received.body.items as Body[]).map((m) => m.kind).sort();
    expect(kinds).toEqual(['bounce', 'ordinary']);
    const onServer = await readInbox(mailbox.user, mailbox.password);
    expect(onServer.map((m) => m.mail.subject)).toEqual(['Thanks for the offer']);
    expect((await eventsOf(friendId)).map((event) => event.type)).toEqual(['email.received']);
  });

  describe('the rules, through the incoming path', () => {
    let account: { id: string; orgId: string; markIncomingPrivate: boolean };
    const salesAddress = `sales-${dialect}@shop.test`;

    /** Files one raw message as the mailbox worker would after reading it from the server. */
    async function receive(raw: Buffer) {
      const { incoming } = testApp.current.container.services;
      return incoming.store(
        account,
        [
          {
            fetched: {
              folder: 'INBOX',
              serverId: `uid-${newId()}`,
              raw,
              size: raw.length,
              truncated: false,
              receivedAt: testApp.current.clock.now(),
            },
            parsed: await parseMessage(raw),
            hash: contentHash(raw),
            verdict: classifyMessage(raw),
          },
        ],
        async () => {},
      );
    }

    /** A contact, a message sent to it, and a way to bounce that message softly. */
    async function sentTo(address: string) {
      const id = await contact(address);
      const message = await sent(account.id, [address]);
      const bounce = () =>
        receive(dsn({ to: salesAddress, failed: address, returnedMessageId: message.messageId as string }));
      return { id, message, bounce };
    }

    const statusOf = async (id: string) => (await api('GET', `/api/contacts/${id}`)).body.status as string;

    beforeAll(async () => {
      const created = await api('POST', '/api/accounts', {
        type: 'own',
        name: 'Sales',
        email: salesAddress,
        smtp: { host: '127.0.0.1', port: mailPeers.ports.sink, security: 'none', requiresAuth: false },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      account = { id: created.body.id as string, orgId: admin.orgId, markIncomingPrivate: false };
      const settings = await api('PATCH', '/api/organisation/settings', {
        softBounceLimit: 3,
        softBounceWindowDays: 10,
      });
      expect(settings.status, JSON.stringify(settings.body)).toBe(200);
      expect(settings.body).toEqual({
        softBounceLimit: 3,
        softBounceWindowDays: 10,
        notificationAccountId: null,
      });
    });

    it('refuses a threshold of one soft bounce, and lets only admins change it', async () => {
      const one = await api('PATCH', '/api/organisation/settings', { softBounceLimit: 1 });
      expect(one.status).toBe(400);
      expect(one.body.error.code).toBe('VALIDATION_FAILED');
      const member = await signUp(testApp.current.container, { org: `Bouncers ${dialect}`, role: 'member' });
      const refused = await api('PATCH', '/api/organisation/settings', { softBounceLimit: 4 }, member);
      expect(refused.status).toBe(403);
      expect((await api('GET', '/api/organisation/settings', undefined, member)).body).toEqual({
        softBounceLimit: 3,
        softBounceWindowDays: 10,
        notificationAccountId: null,
      });
    });

    it('marks a contact faulty after N soft bounces within D days, not before, and not with older ones', async () => {
      const address = `full-${dialect}@customer.test`;
      const { id, bounce } = await sentTo(address);

      await bounce();
      await bounce();
      expect(await statusOf(id)).toBe('active');
      testApp.current.clock.advance(11 * DAY_MS);
      await bounce();
      await bounce();
      // Four soft bounces, but only two within the last ten days.
      expect(await statusOf(id)).toBe('active');
      await bounce();
      expect(await statusOf(id)).toBe('faulty');
      const faulty = (await eventsOf(id)).filter((event) => event.type === 'contact.faulty');
      expect(faulty).toHaveLength(1);
      expect(JSON.parse(faulty[0]!.payload)).toMatchObject({ cause: 'soft_bounces', softBounces: 3 });
      const history = await api('GET', `/api/bounces?contactId=${id}`);
      expect(history.body.total).toBe(5);
      expect(
        (history.body.items as Body[]).every((b) => b.matchedBy === 'message_id' && b.bounceType === 'soft'),
      ).toBe(true);
    });

    it('records delay notices without counting them', async () => {
      const address = `slow-${dialect}@customer.test`;
      const id = await contact(address);
      const message = await sent(account.id, [address]);
      for (let i = 0; i < 4; i++) {
        await receive(
          dsn({
            to: salesAddress,
            failed: address,
            action: 'delayed',
            returnedMessageId: message.messageId as string,
          }),
        );
      }
      const history = await api('GET', `/api/bounces?contactId=${id}`);
      expect((history.body.items as Body[]).map((b) => b.action)).toEqual([
        'delayed',
        'delayed',
        'delayed',
        'delayed',
      ]);
      expect(await statusOf(id)).toBe('active');
      expect(await bounceEventsOf(id)).toEqual([]);
      const after = await api('GET', `/api/messages/${message.id}`);
      expect(after.body.recipients[0].status).toBe('accepted');
    });

    it('starts the soft count again when mail arrives from the contact', async () => {
      const address = `back-${dialect}@customer.test`;
      const { id, bounce } = await sentTo(address);
      await bounce();
      await bounce();
      testApp.current.clock.advance(60_000);
      const reply = await receive(plainMail(address, salesAddress, 'Re: Our offer'));
      expect(reply).toMatchObject({ stored: 1, notices: 0 });
      testApp.current.clock.advance(60_000);
      await bounce();
      await bounce();
      expect(await statusOf(id)).toBe('active');
      await bounce();
      expect(await statusOf(id)).toBe('faulty');
    });

    it('files an out-of-office reply as ordinary mail from the contact, which starts the soft count again', async () => {
      const address = `away-${dialect}@customer.test`;
      const { id, bounce } = await sentTo(address);
      await bounce();
      await bounce();
      testApp.current.clock.advance(60_000);
      const autoReply = Buffer.from(
        [
          `From: ${address}`,
          `To: ${salesAddress}`,
          'Subject: Out of office: Our offer',
          'Date: Mon, 23 Nov 2026 09:00:00 +0000',
          `Message-ID: <away.${Date.now()}@customer.test>`,
          'Auto-Submitted: auto-replied',
          'Content-Type: text/plain; charset=utf-8',
          '',
          'I am away until Monday and will answer then.',
          '',
        ].join('\r\n'),
      );
      expect(await receive(autoReply)).toMatchObject({ stored: 1, placed: 1, notices: 0 });
      const received = (await eventsOf(id)).filter((event) => event.type === 'email.received');
      expect(received).toHaveLength(1);
      const message = await api('GET', `/api/messages/${JSON.parse(received[0]!.payload).messageId}`);
      expect(message.body.kind).toBe('auto_reply');
      testApp.current.clock.advance(60_000);
      await bounce();
      await bounce();
      expect(await statusOf(id)).toBe('active');
    });

    it('marks a contact complained from a feedback report, matched by the returned Message-ID', async () => {
      const address = `angry-${dialect}@customer.test`;
      const id = await contact(address);
      const message = await sent(account.id, [address]);
      const outcome = await receive(
        complaint({ to: salesAddress, complainant: address, returnedMessageId: message.messageId as string }),
      );
      expect(outcome.notices).toBe(1);
      expect((await api('GET', `/api/contacts/${id}`)).body).toMatchObject({ status: 'complained' });
      const [record] = (await api('GET', `/api/bounces?contactId=${id}`)).body.items as Body[];
      expect(record).toMatchObject({ action: 'complained', matchedBy: 'message_id', messageId: message.id });
      expect(await bounceEventsOf(id)).toEqual(['contact.complained']);
    });

    it('matches by VERP token, then ENVID, then the returned Message-ID, then the address; a forged token is ignored', async () => {
      const key = verpKeys(testApp.current.container.keyring)[0]!;
      const address = `many-${dialect}@customer.test`;
      await contact(address);
      const first = await sent(account.id, [address, `other-${dialect}@customer.test`], 'First');
      const second = await sent(account.id, [address], 'Second');
      const recipientId = (id: string) =>
        db()
          .selectFrom('message_recipients')
          .select('id')
          .where('message_id', '=', id)
          .where('address', '=', address)
          .executeTakeFirstOrThrow();
      const firstRecipient = (await recipientId(first.id as string)).id;
      const cases: [Buffer, string, string][] = [
        [
          dsn({
            to: salesAddress,
            failed: address,
            returnPath: verpAddress(firstRecipient, 'bounces.shop.test', key),
            returnedMessageId: second.messageId as string,
          }),
          'verp',
          first.id as string,
        ],
        [
          dsn({
            to: salesAddress,
            failed: address,
            envelopeId: envelopeIdFor(first.id as string, key),
            returnedMessageId: second.messageId as string,
          }),
          'envid',
          first.id as string,
        ],
        [
          dsn({
            to: salesAddress,
            failed: address,
            envelopeId: envelopeIdFor(first.id as string, Buffer.alloc(32, 7)),
            returnedMessageId: first.messageId as string,
          }),
          'message_id',
          first.id as string,
        ],
        [dsn({ to: salesAddress, failed: address }), 'address', second.id as string],
      ];
      for (const [notice, matchedBy, messageId] of cases) {
        const before = (await api('GET', `/api/bounces?messageId=${messageId}`)).body.total as number;
        await receive(notice);
        const [newest] = (await api('GET', `/api/bounces?messageId=${messageId}`)).body.items as Body[];
        expect((await api('GET', `/api/bounces?messageId=${messageId}`)).body.total).toBe(before + 1);
        expect(newest, matchedBy).toMatchObject({ matchedBy, messageId, recipient: address });
      }
    });

    it('counts a 5xx at send time as a bounce: a refused unknown user turns its contact faulty', async () => {
      const refusing = await api('POST', '/api/accounts', {
        type: 'own',
        name: 'Refused everywhere',
        email: `refused-${dialect}@shop.test`,
        // smtp-sink answering every RCPT TO with "550 5.1.1 … no such user here".
        smtp: { host: '127.0.0.1', port: mailPeers.ports.deadSink, security: 'none', requiresAuth: false },
      });
      expect(refusing.status).toBe(201);
      const unknown = `nobody-${dialect}@customer.test`;
      const id = await contact(unknown);
      const queued = await api('POST', '/api/messages', {
        accountId: refusing.body.id,
        to: [unknown],
        subject: 'Hello',
        text: 'Hello.',
      });
      expect(queued.status).toBe(202);
      await sendAll();
      const message = await api('GET', `/api/messages/${queued.body.id}`);
      expect(message.body.recipients[0]).toMatchObject({ status: 'rejected', reply: { code: 550 } });
      const [record] = (await api('GET', `/api/bounces?contactId=${id}`)).body.items as Body[];
      expect(record).toMatchObject({
        source: 'smtp',
        matchedBy: 'rcpt_reply',
        messageId: queued.body.id,
        bounceType: 'hard',
        replyCode: 550,
        status: '5.1.1',
        hasRawNotice: false,
      });
      expect(await statusOf(id)).toBe('faulty');
      expect((await eventsOf(id)).map((event) => event.type)).toEqual([
        'email.bounced',
        'contact.faulty',
        'email.failed',
      ]);
    });

    it('reactivates a wrongly marked contact, keeps who did it in the audit log, and counts afresh', async () => {
      const address = `wrong-${dialect}@customer.test`;
      const { id, message, bounce: soft } = await sentTo(address);
      await receive(
        dsn({
          to: salesAddress,
          failed: address,
          status: '5.1.1',
          diagnostic: '550 5.1.1 user unknown',
          returnedMessageId: message.messageId as string,
        }),
      );
      expect(await statusOf(id)).toBe('faulty');
      const member = await signUp(testApp.current.container, { org: `Bouncers ${dialect}`, role: 'member' });
      const reactivated = await api('POST', `/api/contacts/${id}/reactivate`, undefined, member);
      expect(reactivated.status, JSON.stringify(reactivated.body)).toBe(200);
      expect(reactivated.body).toMatchObject({ status: 'active', faultyAt: null });
      const audit = await api('GET', `/api/audit?targetId=${id}`);
      expect(audit.body.items).toEqual([
        expect.objectContaining({
          action: 'contact.reactivated',
          actorId: member.userId,
          fields: ['faultyAt'],
        }),
      ]);
      expect(await bounceEventsOf(id)).toEqual(['email.bounced', 'contact.faulty', 'contact.reactivated']);
      // The soft bounces before the reactivation no longer count.
      testApp.current.clock.advance(1000);
      await soft();
      await soft();
      expect(await statusOf(id)).toBe('active');
      expect((await api('GET', `/api/contacts?status=active&q=wrong-${dialect}`)).body.total).toBe(1);
      expect((await api('GET', `/api/contacts?status=faulty&q=wrong-${dialect}`)).body.total).toBe(0);
    });
  });
});
