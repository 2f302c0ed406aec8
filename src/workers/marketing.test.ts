/**
 * Marketing accounts end to end: an approved account sends through the platform relay (the real
 * Postfix of test/mail-peers, delivering into Dovecot), with a DKIM signature, a VERP return path
 * and a one-click unsubscribe link; suppressed contacts are skipped; quotas hold mail back.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../test/support/app.ts';
import { testDialects } from '../../test/support/dialects.ts';
import { createMailbox, mailPeers, waitForMessage, type Mailbox } from '../../test/support/mail-peers.ts';
import { verifyDkim } from '../../test/support/dkim.ts';
import { sendDueMessages } from '../../test/support/outbox.ts';
import { startBounceIntakeRole } from '../serve-bounce-intake.ts';
import { parseVerpAddress } from '../mail/verp.ts';
import { verpKeys } from '../secrets/derived.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Postfix routes this domain to `mailPeers.ports.bounceIntake`, where the test runs the intake. */
const bounceDomain = 'bounces.mailroom.test';
const publicUrl = 'https://mailroom.test';

describe.each(testDialects)('marketing accounts on %s', (dialect) => {
  const testApp = useTestApp(dialect, {
    MAILROOM_RELAY_URL: `smtp://127.0.0.1:${mailPeers.ports.smtp}`,
    MAILROOM_BOUNCE_DOMAIN: bounceDomain,
    MAILROOM_BOUNCE_SMTP_PORT: String(mailPeers.ports.bounceIntake),
    MAILROOM_PUBLIC_URL: publicUrl,
    MARKETING_QUOTA_HOURLY: '3',
  });
  let admin: SignedIn;
  let accountId: string;

  const api = <Result = Body>(method: string, path: string, body?: unknown) =>
    request<Result>(testApp.current.baseUrl, method, path, {
      token: admin.token,
      ...(body !== undefined && { body }),
    });

  const sendAll = () => sendDueMessages(testApp.current.container);

  beforeAll(async () => {
    admin = await signUp(testApp.current.container, { org: `Marketers ${dialect}`, role: 'admin' });
    const created = await api('POST', '/api/accounts', {
      type: 'marketing',
      name: 'Newsletter',
      email: `news@${dialect}.news.test`,
      displayName: 'Acme News',
    });
    expect(created.status).toBe(201);
    accountId = created.body.id as string;
    expect((await api('POST', `/api/accounts/${accountId}/approve`)).status).toBe(200);
    await testApp.current.container.services.dkim.generate(`${dialect}.news.test`);
  });

  async function queue(to: Mailbox | string, subject: string) {
    const response = await api('POST', '/api/messages', {
      accountId,
      to: [typeof to === 'string' ? to : to.address],
      subject,
      text: `Hello, this is ${subject}.`,
    });
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    return response.body;
  }

  it('sends through the relay with a VERP return path and a one-click unsubscribe link that works', async () => {
    const reader = await createMailbox();
    const contact = await api('POST', '/api/contacts', { email: reader.address, name: 'Reader' });
    const queued = await queue(reader, 'November news');
    await sendAll();
    expect((await api('GET', `/api/messages/${queued.id}`)).body).toMatchObject({
      status: 'sent',
      recipients: [{ address: reader.address, status: 'accepted' }],
    });

    const delivered = await waitForMessage(
      reader.user,
      reader.password,
      (m) => m.mail.subject === 'November news',
    );
    const returnPath = delivered.mail.headers.get('return-path') as { value: { address: string }[] };
    const parsed = parseVerpAddress(
      returnPath.value[0]!.address,
      bounceDomain,
      verpKeys(testApp.current.container.keyring),
    );
    expect(parsed?.recipientId).toBeDefined();
    const recipientRow = await testApp.current.container.db
      .selectFrom('message_recipients')
      .selectAll()
      .where('id', '=', parsed!.recipientId)
      .executeTakeFirstOrThrow();
    expect(recipientRow).toMatchObject({ message_id: queued.id, address: reader.address });

    const raw = delivered.source.toString().replace(/\r?\n[ \t]+/g, ' ');
    const published = await testApp.current.container.services.dkim.record(`${dialect}.news.test`);
    const [dkim] = await verifyDkim(delivered.source, [published!]);
    expect(dkim!.status.result).toBe('pass');
    expect(dkim!.signingDomain).toBe(`${dialect}.news.test`);
    expect(raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
    const link = /<(https:\/\/mailroom\.test\/u\/[^>]+)>/.exec(
      String(raw.match(/^List-Unsubscribe: .*$/m)),
    )![1]!;
    const path = new URL(link).pathname;

    const forged = await request(testApp.current.baseUrl, 'POST', `${path.slice(0, -2)}xx`, {
      rawBody: { contentType: 'application/x-www-form-urlencoded', text: 'List-Unsubscribe=One-Click' },
    });
    expect(forged.status).toBe(404);
    const page = await fetch(`${testApp.current.baseUrl}${path}`);
    expect(await page.text()).toContain('<button>Unsubscribe</button>');
    expect((await api('GET', `/api/contacts/${contact.body.id}`)).body.suppressed).toBeNull();
    const clicked = await fetch(`${testApp.current.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(clicked.status).toBe(200);
    expect((await api('GET', `/api/contacts/${contact.body.id}`)).body.suppressed).toBe('unsubscribed');

    // From now on marketing mail skips them; an own account would only warn.
    const again = await queue(reader, 'December news');
    expect(again.suppressed).toEqual([{ address: reader.address, reason: 'unsubscribed' }]);
    await sendAll();
    expect((await api('GET', `/api/messages/${again.id}`)).body).toMatchObject({
      status: 'cancelled',
      errorCode: 'ALL_RECIPIENTS_SUPPRESSED',
      recipients: [{ address: reader.address, status: 'skipped_unsubscribed' }],
    });
  });

  it('reads the real DSN of an unknown user at the bounce intake, back to the right message and recipient', async () => {
    expect(mailPeers.bounceDomain).toBe(bounceDomain);
    const intake = (await startBounceIntakeRole(testApp.current.container))!;
    try {
      const gone = `gone-${Date.now()}-${dialect}@${mailPeers.deadDomain}`;
      const contact = await api('POST', '/api/contacts', { email: gone });
      const queued = await queue(gone, 'To nobody');
      await sendAll();
      expect((await api('GET', `/api/messages/${queued.id}`)).body.status).toBe('sent');
      await expect
        .poll(
          () =>
            testApp.current.container.db
              .selectFrom('bounces')
              .selectAll()
              .where('message_id', '=', queued.id as string)
              .executeTakeFirst(),
          { timeout: 30_000, interval: 250 },
        )
        .toBeDefined();
      const row = await testApp.current.container.db
        .selectFrom('bounces')
        .selectAll()
        .where('message_id', '=', queued.id as string)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({
        source: 'verp',
        action: 'failed',
        matched_by: 'verp',
        recipient: gone,
        contact_id: contact.body.id,
        bounce_type: 'hard',
      });
      expect((await api('GET', `/api/contacts/${contact.body.id}`)).body).toMatchObject({
        status: 'faulty',
        suppressed: 'faulty',
      });
      const message = await api('GET', `/api/messages/${queued.id}`);
      expect(message.body.recipients[0]).toMatchObject({ address: gone, status: 'bounced' });
    } finally {
      await intake.close();
    }
  });

  it('skips suppressed recipients and sends to the others', async () => {
    const faulty = await api('POST', '/api/contacts', { email: 'faulty@example.test' });
    await testApp.current.container.db
      .updateTable('contacts')
      .set({ faulty_at: new Date().toISOString() })
      .where('id', '=', faulty.body.id as string)
      .execute();
    const reader = await createMailbox();
    const response = await api('POST', '/api/messages', {
      accountId,
      to: ['faulty@example.test', reader.address],
      subject: 'Mixed',
      text: 'Hello.',
    });
    await sendAll();
    expect((await api('GET', `/api/messages/${response.body.id}`)).body).toMatchObject({
      status: 'sent',
      recipients: [
        { address: 'faulty@example.test', status: 'skipped_faulty' },
        { address: reader.address, status: 'accepted' },
      ],
    });
  });

  it('holds mail over the hourly quota back as ready, without failing it', async () => {
    const reader = await createMailbox();
    // Three went out in the tests above within the hour: the quota is used up.
    const held = await queue(reader, 'Over quota');
    await sendAll();
    const message = (await api('GET', `/api/messages/${held.id}`)).body;
    expect(message).toMatchObject({ status: 'ready', attempts: 0, errorCode: null });
    expect(Date.parse(message.nextAttemptAt as string)).toBeGreaterThan(
      testApp.current.clock.now().getTime(),
    );
  });
});

describe('a marketing account without a platform relay', () => {
  const testApp = useTestApp(testDialects[0]!);

  it('cannot queue, and says why', async () => {
    const admin = await signUp(testApp.current.container, { org: 'No relay', role: 'admin' });
    const api = (method: string, path: string, body?: unknown) =>
      request<Body>(testApp.current.baseUrl, method, path, {
        token: admin.token,
        ...(body !== undefined && { body }),
      });
    const created = await api('POST', '/api/accounts', {
      type: 'marketing',
      name: 'News',
      email: 'news@norelay.test',
    });
    await api('POST', `/api/accounts/${created.body.id}/approve`);
    const refused = await api('POST', '/api/messages', {
      accountId: created.body.id,
      to: ['someone@example.test'],
      subject: 'Hi',
      text: 'x',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('RELAY_NOT_CONFIGURED');
  });
});
