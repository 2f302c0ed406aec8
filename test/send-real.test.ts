import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpSenderPool } from '../src/mail/smtp-sender.ts';
import { request, signUp, useTestApp, type SignedIn } from './support/app.ts';
import { testDialects } from './support/dialects.ts';
import { createMailbox, mailPeers, readInbox, waitForMessage, type Mailbox } from './support/mail-peers.ts';
import { runOutboxOnce } from './support/outbox.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The real path: queue through the API, send through Postfix (submission with STARTTLS, or TLS on
 * connect with CRAM-MD5, or through the Dante SOCKS5 proxy), then find the message in the
 * recipient's Dovecot mailbox over IMAP. The servers' CA is trusted through NODE_EXTRA_CA_CERTS.
 */
describe.each(testDialects)('sending through real mail servers on %s', (dialect) => {
  const testApp = useTestApp(dialect);
  const pool = createSmtpSenderPool();
  let user: SignedIn;
  let sender: Mailbox;

  beforeAll(async () => {
    user = await signUp(testApp.current.container, { org: 'Real Mail' });
    sender = await createMailbox();
  });
  afterAll(() => pool.close());

  const call = (method: string, path: string, body?: unknown) =>
    request<Body>(testApp.current.baseUrl, method, path, { token: user.token, body });

  async function account(smtp: Body, extra: Body = {}): Promise<Body> {
    const response = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'Real',
      email: sender.address,
      displayName: 'Real Sender',
      smtp: { host: 'localhost', username: sender.user, password: sender.password, ...smtp },
      ...extra,
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body;
  }

  async function sendAndReceive(accountId: string, subject: string) {
    const recipient = await createMailbox();
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: [recipient.address],
      subject,
      text: 'Real mail',
    });
    expect(queued.status).toBe(202);
    await runOutboxOnce(testApp.current.container, pool);
    const message = (await call('GET', `/api/messages/${queued.body.id}`)).body;
    expect(message, JSON.stringify(message)).toMatchObject({
      status: 'sent',
      recipients: [{ status: 'accepted' }],
    });
    const arrived = await waitForMessage(
      recipient.user,
      recipient.password,
      (inbox) => inbox.mail.subject === subject,
    );
    expect(arrived.mail.messageId).toBe(message.messageId);
    expect(arrived.mail.from?.value[0]).toMatchObject({ name: 'Real Sender', address: sender.address });
    return message;
  }

  it('sends through submission with STARTTLS and a login, into the recipient’s mailbox', async () => {
    const created = await account({ port: mailPeers.ports.submission, security: 'starttls' });
    const message = await sendAndReceive(created.id, 'Over STARTTLS');
    expect(message.reply.text).toMatch(/queued as/i);
  });

  it('logs in with CRAM-MD5 over TLS on connect when secure password authentication is on', async () => {
    const created = await account({ port: mailPeers.ports.submissions, security: 'tls', spa: true });
    await sendAndReceive(created.id, 'With CRAM-MD5');
  });

  it('connects through a SOCKS5 proxy', async () => {
    const created = await account({
      port: mailPeers.ports.submission,
      security: 'starttls',
      proxy: { type: 'socks5', host: '127.0.0.1', port: mailPeers.ports.socks },
    });
    await sendAndReceive(created.id, 'Through SOCKS5');
  });

  it('delivers to the others when Postfix refuses one recipient at RCPT', async () => {
    const created = await account({ port: mailPeers.ports.submission, security: 'starttls' });
    const recipient = await createMailbox();
    const unknown = `nosuchuser-${Date.now()}@${mailPeers.domain}`;
    const queued = await call('POST', '/api/messages', {
      accountId: created.id,
      to: [recipient.address, unknown],
      subject: 'Partly refused',
      text: 'x',
    });
    await runOutboxOnce(testApp.current.container, pool);
    const message = (await call('GET', `/api/messages/${queued.body.id}`)).body;
    expect(message.status).toBe('sent');
    expect(message.recipients).toEqual([
      expect.objectContaining({ address: recipient.address, status: 'accepted' }),
      expect.objectContaining({
        address: unknown,
        status: 'rejected',
        reply: expect.objectContaining({ code: 550, enhanced: '5.1.1' }),
      }),
    ]);
    await waitForMessage(
      recipient.user,
      recipient.password,
      (inbox) => inbox.mail.subject === 'Partly refused',
    );
  });

  describe('test settings', () => {
    it('goes as far as the 354 after DATA, sends nothing, and marks the account healthy', async () => {
      const created = await account({ port: mailPeers.ports.submission, security: 'starttls' });
      const before = (await readInbox(sender.user, sender.password)).length;
      const tested = await call('POST', `/api/accounts/${created.id}/test`);
      expect(tested.status).toBe(200);
      expect(tested.body.ok).toBe(true);
      const steps = tested.body.steps.map((step: Body) => `${step.direction}:${step.step}:${step.ok}`);
      expect(steps).toEqual([
        'outgoing:connect:true',
        'outgoing:ehlo:true',
        'outgoing:tls:true',
        'outgoing:ehlo:true',
        'outgoing:auth:true',
        'outgoing:mail_from:true',
        'outgoing:rcpt_to:true',
        'outgoing:data:true',
      ]);
      expect(tested.body.steps.at(-1).reply).toMatch(/^354/);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await readInbox(sender.user, sender.password)).toHaveLength(before);
      expect((await call('GET', `/api/accounts/${created.id}`)).body.health.outgoing).toMatchObject({
        state: 'ok',
        lastOkAt: expect.any(String),
      });
    });

    it('tests unsaved settings, reporting the server’s refusal of a wrong password without repeating it', async () => {
      const response = await call('POST', '/api/accounts/test', {
        type: 'own',
        name: 'Unsaved',
        email: sender.address,
        smtp: {
          host: 'localhost',
          port: mailPeers.ports.submission,
          security: 'starttls',
          username: sender.user,
          password: 'not-the-Right-password',
        },
      });
      expect(response.status).toBe(200);
      expect(response.body.ok).toBe(false);
      const auth = response.body.steps.find((step: Body) => step.step === 'auth');
      expect(auth).toMatchObject({ ok: false, reply: expect.stringMatching(/535/) });
      expect(JSON.stringify(response.body)).not.toContain('not-the-Right-password');
      expect(JSON.stringify(response.body)).not.toContain(
        Buffer.from('not-the-Right-password').toString('base64'),
      );
    });

    it('logs in to the incoming server and lists its folders', async () => {
      const created = await account(
        { port: mailPeers.ports.submission, security: 'starttls' },
        {
          incoming: {
            protocol: 'imap',
            host: 'localhost',
            port: mailPeers.ports.imap,
            security: 'starttls',
            username: sender.user,
            password: sender.password,
          },
        },
      );
      const tested = await call('POST', `/api/accounts/${created.id}/test`);
      const incoming = tested.body.steps.filter((step: Body) => step.direction === 'incoming');
      expect(incoming.map((step: Body) => step.step)).toEqual(
        expect.arrayContaining(['connect', 'tls', 'login', 'list']),
      );
      expect(incoming.every((step: Body) => step.ok)).toBe(true);
      expect(incoming.at(-1).reply).toMatch(/INBOX/);
      expect((await call('GET', `/api/accounts/${created.id}`)).body.health.incoming.state).toBe('ok');
    });
  });
});
