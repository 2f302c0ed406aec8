import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { exited, freePort, startMailroom } from '../../../test/support/cli.ts';
import { testDialects } from '../../../test/support/dialects.ts';
import { createMailbox, mailPeers, waitForMessage } from '../../../test/support/mail-peers.ts';
import type { Row } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import type { BounceIntake } from '../../mail/bounce-intake.ts';
import { verpAddress } from '../../mail/verp.ts';
import { verpKeys } from '../../secrets/derived.ts';
import { startBounceIntakeRole } from '../../serve-bounce-intake.ts';
import { createDatabaseRawStore, createDataDirRawStore } from '../messages/raw-store.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const bounceDomain = 'bounces.mailroom.test';
const maxBytes = 16_384;
/** The address the real DSN is about: one per run, so that its notice is this run's. */
const gone = `gone-${randomBytes(4).toString('hex')}@dead.test`;
let dsn: Buffer;

/**
 * A real delivery status notification: Postfix accepts mail for dead.test, its next hop refuses the
 * recipient with 550 5.1.1, and Postfix returns a DSN to the envelope sender (a Dovecot mailbox).
 * The mail peers cannot route a domain to a port chosen at run time, so the tests replay these
 * exact bytes into the intake over SMTP, as an MTA would deliver them to the VERP address.
 */
beforeAll(async () => {
  const sender = await createMailbox();
  const original = Buffer.from(
    `From: ${sender.address}\r\nTo: ${gone}\r\nSubject: Spring offer\r\n` +
      `Message-ID: <${randomBytes(8).toString('hex')}@example.test>\r\n\r\nHello\r\n`,
  );
  // Postfix's MX port takes mail for dead.test from anyone, as it would from the internet.
  await deliver(mailPeers.ports.smtp, gone, original, sender.address);
  const notice = await waitForMessage(
    sender.user,
    sender.password,
    (m) => /^Content-Type: multipart\/report/im.test(m.source.toString()),
    30_000,
  );
  dsn = notice.source;
}, 60_000);

/** Delivers a message the way an MTA does (a notice with MAIL FROM:<>): one RCPT TO, then DATA. */
async function deliver(port: number, rcptTo: string, raw: Buffer, mailFrom = ''): Promise<string> {
  const smtp = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    return (await smtp.sendMail({ envelope: { from: mailFrom, to: [rcptTo] }, raw })).response;
  } finally {
    smtp.close();
  }
}

/** The SMTP reply a refused delivery got. */
async function refusal(delivery: Promise<unknown>): Promise<{ responseCode?: number; response?: string }> {
  const error = await delivery.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, 'the delivery was refused').toBeInstanceOf(Error);
  return error as { responseCode?: number; response?: string };
}

const autoReply = Buffer.from(
  'From: Someone <someone@customer.test>\r\nTo: news@shop.test\r\nSubject: Out of office\r\n' +
    'Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\nMessage-ID: <ooo-1@customer.test>\r\n\r\n' +
    'I am out of the office until Monday and will read your message when I return.\r\n',
);

const delayNotice = Buffer.from(
  [
    'From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>',
    'To: news@shop.test',
    'Subject: Delayed Mail (still being retried)',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered yet; the mail system keeps trying.',
    '',
    '--b',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.customer.test',
    '',
    'Final-Recipient: rfc822; kept@customer.test',
    'Action: delayed',
    'Status: 4.4.1',
    'Diagnostic-Code: smtp; 421 4.4.1 Connection timed out',
    '',
    '--b--',
    '',
  ].join('\r\n'),
);

describe.each(testDialects)('the bounce intake on %s', (dialect) => {
  const testApp = useTestApp(dialect, {
    HOST: '127.0.0.1',
    MAILROOM_BOUNCE_SMTP_PORT: '0',
    MAILROOM_BOUNCE_DOMAIN: bounceDomain,
    MAILROOM_BOUNCE_MAX_BYTES: String(maxBytes),
  });
  let user: SignedIn;
  let intake: BounceIntake;
  let key: Buffer;
  /** The recipient rows of one message: to `gone`, and to another contact. */
  let goneRecipient: Row<'message_recipients'>;
  let otherRecipient: Row<'message_recipients'>;

  const call = (method: string, path: string, body?: unknown) =>
    request<Body>(testApp.current.baseUrl, method, path, { token: user.token, body });
  const db = () => testApp.current.container.db;

  beforeAll(async () => {
    const { container } = testApp.current;
    user = await signUp(container, { org: 'Shop' });
    key = verpKeys(container.keyring)[0]!;
    const account = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'News',
      email: 'news@shop.test',
      smtp: { host: '127.0.0.1', port: mailPeers.ports.sink, security: 'none', requiresAuth: false },
    });
    expect(account.status, JSON.stringify(account.body)).toBe(201);
    for (const email of [gone, 'kept@customer.test']) {
      expect((await call('POST', '/api/contacts', { email })).status).toBe(201);
    }
    const queued = await call('POST', '/api/messages', {
      accountId: account.body.id,
      to: [gone, 'kept@customer.test'],
      subject: 'Spring offer',
      text: 'Hello',
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    const recipients = await db()
      .selectFrom('message_recipients')
      .selectAll()
      .where('message_id', '=', queued.body.id)
      .orderBy('position')
      .execute();
    [goneRecipient, otherRecipient] = recipients as [Row<'message_recipients'>, Row<'message_recipients'>];
    expect(goneRecipient.contact_id).not.toBeNull();
    intake = (await startBounceIntakeRole(container))!;
  });
  afterAll(async () => {
    await intake?.close();
  });

  const noticesTo = (recipientId: string) =>
    db().selectFrom('bounce_notices').selectAll().where('recipient_id', '=', recipientId).execute();
  const bouncesOf = (recipientAddress: string) =>
    db().selectFrom('bounces').selectAll().where('recipient', '=', recipientAddress).execute();
  const contact = (id: string | null) =>
    db().selectFrom('contacts').selectAll().where('id', '=', id!).executeTakeFirstOrThrow();

  it('takes a real DSN at the VERP address and records a hard bounce for the recipient the token names', async () => {
    const address = verpAddress(goneRecipient.id, bounceDomain, key);
    expect(await deliver(intake.port, address, dsn)).toMatch(/^250 /);

    const [notice, ...more] = await noticesTo(goneRecipient.id);
    expect(more).toEqual([]);
    expect(notice).toMatchObject({
      mail_from: '',
      rcpt_to: address,
      message_id: goneRecipient.message_id,
      size: dsn.length,
    });
    expect(JSON.parse(notice!.verdict!)).toMatchObject({
      category: 'bounce',
      recipients: [{ address: gone, status: '5.1.1', reason: 'userunknown', bounceType: 'hard' }],
    });
    const { config } = testApp.current.container;
    const rawStore =
      config.rawStore === 'database' ? createDatabaseRawStore() : createDataDirRawStore(config.dataDir);
    try {
      expect((await rawStore.get(db(), notice!.raw_key))?.equals(dsn)).toBe(true);
    } finally {
      rawStore.close?.();
    }

    const [bounce, ...others] = await bouncesOf(gone);
    expect(others).toEqual([]);
    expect(bounce).toMatchObject({
      org_id: user.orgId,
      source: 'verp',
      message_id: goneRecipient.message_id,
      contact_id: goneRecipient.contact_id,
      recipient: gone,
      bounce_type: 'hard',
      reason: 'userunknown',
      status: '5.1.1',
      reply_code: 550,
    });
    const faulty = await contact(goneRecipient.contact_id);
    expect(faulty.faulty_at).toBe(testApp.current.clock.now().toISOString());
    // Recipient statuses are left as they were.
    const after = await db()
      .selectFrom('message_recipients')
      .select('status')
      .where('id', '=', goneRecipient.id)
      .executeTakeFirstOrThrow();
    expect(after.status).toBe(goneRecipient.status);

    // An MTA that did not see the 250 sends the same notice again: it is kept once.
    testApp.current.clock.advance(60_000);
    expect(await deliver(intake.port, address.toUpperCase().replace(/@.*/, `@${bounceDomain}`), dsn)).toMatch(
      /^250 /,
    );
    expect(await deliver(intake.port, address, dsn)).toMatch(/^250 /);
    expect(await noticesTo(goneRecipient.id)).toHaveLength(1);
    expect(await bouncesOf(gone)).toHaveLength(1);
    expect((await contact(goneRecipient.contact_id)).faulty_at).toBe(faulty.faulty_at);
  });

  it('lets the token, not the text of the notice, decide whose bounce it is', async () => {
    const address = verpAddress(otherRecipient.id, bounceDomain, key);
    expect(await deliver(intake.port, address, dsn)).toMatch(/^250 /);
    expect(await noticesTo(otherRecipient.id)).toHaveLength(1);
    expect(await bouncesOf(otherRecipient.address)).toMatchObject([
      { source: 'verp', contact_id: otherRecipient.contact_id, bounce_type: 'hard' },
    ]);
  });

  it('keeps an auto-reply with its verdict and records no bounce', async () => {
    const before = await bouncesOf(otherRecipient.address);
    const address = verpAddress(otherRecipient.id, bounceDomain, key);
    expect(await deliver(intake.port, address, autoReply)).toMatch(/^250 /);
    const notices = await noticesTo(otherRecipient.id);
    const kept = notices.find((n) => n.size === autoReply.length);
    expect(JSON.parse(kept!.verdict!)).toMatchObject({
      category: 'autoreply',
      recipients: [{ reason: 'vacation' }],
    });
    expect(await bouncesOf(otherRecipient.address)).toHaveLength(before.length);
  });

  it('records a delay notice as a delay: never counted, the contact stays as it was', async () => {
    const before = await bouncesOf(otherRecipient.address);
    const contactBefore = await contact(otherRecipient.contact_id);
    const address = verpAddress(otherRecipient.id, bounceDomain, key);
    expect(await deliver(intake.port, address, delayNotice)).toMatch(/^250 /);
    const kept = (await noticesTo(otherRecipient.id)).find((n) => n.size === delayNotice.length);
    expect(JSON.parse(kept!.verdict!)).toMatchObject({
      category: 'bounce',
      recipients: [{ address: 'kept@customer.test', action: 'delayed', status: '4.4.1' }],
    });
    const after = await bouncesOf(otherRecipient.address);
    expect(after).toHaveLength(before.length + 1);
    expect(after.find((row) => !before.some((old) => old.id === row.id))).toMatchObject({
      source: 'verp',
      action: 'delayed',
      matched_by: 'verp',
      recipient_id: otherRecipient.id,
      bounce_type: null,
      raw_key: kept!.raw_key,
    });
    expect(await contact(otherRecipient.contact_id)).toEqual(contactBefore);
  });

  it('refuses a forged token, a recipient that does not exist and another domain at RCPT (550 5.1.1)', async () => {
    const genuine = verpAddress(goneRecipient.id, bounceDomain, key);
    const forged = verpAddress(goneRecipient.id, bounceDomain, randomBytes(32));
    const unknown = verpAddress(newId(), bounceDomain, key);
    const elsewhere = genuine.replace(bounceDomain, 'elsewhere.test');
    for (const address of [forged, unknown, elsewhere, `postmaster@${bounceDomain}`]) {
      const refused = await refusal(deliver(intake.port, address, dsn));
      expect(refused.responseCode, address).toBe(550);
      expect(refused.response).toMatch(/^550 5\.1\.1 /);
    }
  });

  it('refuses a notice larger than MAILROOM_BOUNCE_MAX_BYTES (552) and keeps nothing of it', async () => {
    const address = verpAddress(goneRecipient.id, bounceDomain, key);
    const before = await noticesTo(goneRecipient.id);
    const large = Buffer.concat([dsn, Buffer.from(`${'x'.repeat(76)}\r\n`.repeat(maxBytes / 64))]);
    const refused = await refusal(deliver(intake.port, address, large));
    expect(refused.responseCode).toBe(552);
    expect(await noticesTo(goneRecipient.id)).toHaveLength(before.length);
  });

  it('runs alone as `mailroom bounce-intake` and stops on SIGTERM', async () => {
    const port = await freePort();
    const child = startMailroom(['bounce-intake'], {
      ...testApp.current.database.env,
      HOST: '127.0.0.1',
      MAILROOM_BOUNCE_SMTP_PORT: String(port),
      MAILROOM_BOUNCE_DOMAIN: bounceDomain,
    });
    try {
      const deadline = Date.now() + 15_000;
      while (!child.output().includes('bounce intake listening')) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(child.output());
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const address = verpAddress(otherRecipient.id, bounceDomain, key);
      const before = await noticesTo(otherRecipient.id);
      const another = Buffer.concat([autoReply, Buffer.from('Sent from the command line.\r\n')]);
      expect(await deliver(port, address, another)).toMatch(/^250 /);
      expect(await noticesTo(otherRecipient.id)).toHaveLength(before.length + 1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
    expect(child.output()).toContain('stopped');
  });
});
