import { afterEach, describe, expect, it } from 'vitest';
import { SmtpError } from './errors.ts';
import { createSmtpSenderPool } from './smtp-sender.ts';
import type { OutgoingMessage, SmtpSenderPool } from './smtp-types.ts';
import {
  closedPort,
  startHttpConnectProxy,
  startSilentServer,
  startTestSmtpServer,
  startWireRecorder,
  useSmtpTestKit,
} from './smtp-test-fixtures.ts';

const account = { user: 'ada@example.test', pass: 'correct horse battery staple' };

const { ca, track, plainServer, config } = useSmtpTestKit();
let pool: SmtpSenderPool;

afterEach(async () => {
  await pool?.close();
});

function message(to: string[] = ['bob@example.test']): OutgoingMessage {
  const messageId = `<${Math.random().toString(36).slice(2)}@example.test>`;
  const raw = Buffer.from(
    `From: Ada <ada@example.test>\r\nTo: ${to.join(', ')}\r\nSubject: Hello\r\nMessage-ID: ${messageId}\r\n\r\nHi there.\r\n`,
  );
  return { envelope: { from: 'ada@example.test', to }, raw, messageId };
}

async function sendError(promise: Promise<unknown>): Promise<SmtpError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SmtpError);
  return error as SmtpError;
}

describe('createSmtpSenderPool', () => {
  it('delivers the raw message with the envelope given and reports the reply to DATA', async () => {
    const server = await plainServer();
    pool = createSmtpSenderPool();
    const msg = message(['bob@example.test', 'carol@example.test']);

    const result = await pool.send('acct-1', config(server.port), msg);

    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.from).toBe('ada@example.test');
    expect(server.received[0]?.to).toEqual(['bob@example.test', 'carol@example.test']);
    expect(server.received[0]?.raw.toString()).toContain('Subject: Hello');
    expect(server.received[0]?.raw.toString()).toContain(`Message-ID: ${msg.messageId}`);
    expect(result.messageId).toBe(msg.messageId);
    expect(result.reply).toMatchObject({ code: 250, enhanced: '2.0.0', command: 'DATA' });
    expect(result.reply.text).toContain('queued as TEST1');
    expect(result.recipients).toEqual([
      { address: 'bob@example.test', accepted: true, reply: null },
      { address: 'carol@example.test', accepted: true, reply: null },
    ]);
  });

  it('sends over STARTTLS to a server whose certificate the given CA signed, and logs in', async () => {
    const server = track(
      await startTestSmtpServer({ key: ca().keyPem, cert: ca().certPem, authOptional: true }, { account }),
    );
    pool = createSmtpSenderPool();

    await pool.send(
      'acct-1',
      config(server.port, { security: 'starttls', ca: ca().caPem, auth: { ...account, spa: false } }),
      message(),
    );

    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.secure).toBe(true);
    expect(server.received[0]?.user).toBe(account.user);
  });

  it('sends over TLS on connect with the test CA', async () => {
    const server = track(
      await startTestSmtpServer({ secure: true, key: ca().keyPem, cert: ca().certPem, authOptional: true }),
    );
    pool = createSmtpSenderPool();

    await pool.send('acct-1', config(server.port, { security: 'tls', ca: ca().caPem }), message());

    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.secure).toBe(true);
  });

  it('refuses a certificate signed by a CA it was not told to trust: SMTP_TLS_FAILED, nothing sent', async () => {
    const tlsServer = track(
      await startTestSmtpServer({ secure: true, key: ca().keyPem, cert: ca().certPem, authOptional: true }),
    );
    const starttlsServer = track(
      await startTestSmtpServer({ key: ca().keyPem, cert: ca().certPem, authOptional: true }),
    );
    pool = createSmtpSenderPool();

    const onConnect = await sendError(
      pool.send('a', config(tlsServer.port, { security: 'tls', ca: ca().otherCaPem }), message()),
    );
    const onStarttls = await sendError(
      pool.send('b', config(starttlsServer.port, { security: 'starttls', ca: ca().otherCaPem }), message()),
    );

    for (const error of [onConnect, onStarttls]) {
      expect(error.code).toBe('SMTP_TLS_FAILED');
      expect(error.transient).toBe(false);
      expect(error.dataStarted).toBe(false);
    }
    expect(tlsServer.received).toHaveLength(0);
    expect(starttlsServer.received).toHaveLength(0);
  });

  it('with spa logs in by CRAM-MD5 even when PLAIN is offered first; the password never crosses the wire', async () => {
    const server = await plainServer({ account }, { authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'] });
    const wire = track(await startWireRecorder(server.port));
    pool = createSmtpSenderPool();

    await pool.send('acct-1', config(wire.port, { auth: { ...account, spa: true } }), message());

    expect(server.authAttempts).toEqual([
      { method: 'CRAM-MD5', username: account.user, password: null, ok: true },
    ]);
    expect(server.received).toHaveLength(1);
    expect(wire.sent()).toContain('AUTH CRAM-MD5');
    expect(wire.sent()).not.toContain(account.pass);
    expect(wire.sent()).not.toContain(Buffer.from(account.pass).toString('base64'));
  });

  it('with spa and a server offering only PLAIN and LOGIN fails SPA_UNAVAILABLE without any AUTH attempt', async () => {
    const server = await plainServer({ account }, { authMethods: ['PLAIN', 'LOGIN'] });
    const wire = track(await startWireRecorder(server.port));
    pool = createSmtpSenderPool();

    const error = await sendError(
      pool.send('acct-1', config(wire.port, { auth: { ...account, spa: true } }), message()),
    );

    expect(error.code).toBe('SPA_UNAVAILABLE');
    expect(error.transient).toBe(false);
    expect(error.message).toContain('PLAIN LOGIN');
    expect(server.authAttempts).toEqual([]);
    expect(server.received).toHaveLength(0);
    expect(wire.sent()).not.toMatch(/AUTH/i);
    expect(wire.sent()).not.toContain(account.pass);
    expect(wire.sent()).not.toContain(
      Buffer.from(`\u0000${account.user}\u0000${account.pass}`).toString('base64'),
    );
  });

  it('a wrong password is SMTP_AUTH_FAILED with the 535, neither transient nor carrying the password', async () => {
    const server = await plainServer({ account });
    pool = createSmtpSenderPool();
    const wrong = 'not the password';

    const error = await sendError(
      pool.send(
        'acct-1',
        config(server.port, { auth: { user: account.user, pass: wrong, spa: false } }),
        message(),
      ),
    );

    expect(error.code).toBe('SMTP_AUTH_FAILED');
    expect(error.transient).toBe(false);
    expect(error.reply).toMatchObject({ code: 535, enhanced: '5.7.8' });
    expect(error.message).not.toContain(wrong);
    expect(JSON.stringify(error)).not.toContain(wrong);
    expect(server.received).toHaveLength(0);
  });

  it('a CRAM-MD5 login with the wrong password fails SMTP_AUTH_FAILED', async () => {
    const server = await plainServer({ account }, { authMethods: ['CRAM-MD5'] });
    pool = createSmtpSenderPool();

    const error = await sendError(
      pool.send(
        'acct-1',
        config(server.port, { auth: { user: account.user, pass: 'nope', spa: true } }),
        message(),
      ),
    );

    expect(error.code).toBe('SMTP_AUTH_FAILED');
    expect(server.authAttempts).toEqual([
      { method: 'CRAM-MD5', username: account.user, password: null, ok: false },
    ]);
  });

  it('a 4xx at MAIL FROM is transient, a 5xx is not; both carry the reply', async () => {
    let reply = { code: 451, message: '4.3.0 Try again later' };
    const server = await plainServer({ mailFrom: () => reply });
    pool = createSmtpSenderPool();

    const deferred = await sendError(pool.send('acct-1', config(server.port), message()));
    reply = { code: 553, message: '5.7.1 Sender address rejected: not owned by user' };
    const refused = await sendError(pool.send('acct-1', config(server.port), message()));

    expect(deferred).toMatchObject({ code: 'SMTP_REJECTED', transient: true, dataStarted: false });
    expect(deferred.reply).toEqual({
      code: 451,
      enhanced: '4.3.0',
      text: 'Try again later',
      command: 'MAIL FROM',
    });
    expect(refused).toMatchObject({ code: 'SMTP_REJECTED', transient: false, dataStarted: false });
    expect(refused.reply).toMatchObject({ code: 553, enhanced: '5.7.1', command: 'MAIL FROM' });
    expect(server.received).toHaveLength(0);
  });

  it('partial RCPT rejection: the others get the message and the rejected one is reported with its reply', async () => {
    const server = await plainServer({
      rcptTo: (address) =>
        address === 'gone@example.test'
          ? { code: 550, message: '5.1.1 <gone@example.test>: Recipient address rejected: User unknown' }
          : null,
    });
    pool = createSmtpSenderPool();

    const result = await pool.send(
      'acct-1',
      config(server.port),
      message(['bob@example.test', 'gone@example.test', 'carol@example.test']),
    );

    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.to).toEqual(['bob@example.test', 'carol@example.test']);
    expect(result.recipients).toEqual([
      { address: 'bob@example.test', accepted: true, reply: null },
      {
        address: 'gone@example.test',
        accepted: false,
        reply: {
          code: 550,
          enhanced: '5.1.1',
          text: '<gone@example.test>: Recipient address rejected: User unknown',
          command: 'RCPT TO',
        },
      },
      { address: 'carol@example.test', accepted: true, reply: null },
    ]);
  });

  it('every recipient rejected is SMTP_ALL_RECIPIENTS_REJECTED with each reply; transient only if one was a 4xx', async () => {
    const replies: Record<string, { code: number; message: string }> = {
      'gone@example.test': { code: 550, message: '5.1.1 User unknown' },
      'full@example.test': { code: 552, message: '5.2.2 Mailbox full' },
    };
    const server = await plainServer({ rcptTo: (address) => replies[address] ?? null });
    pool = createSmtpSenderPool();

    const permanent = await sendError(
      pool.send('acct-1', config(server.port), message(['gone@example.test', 'full@example.test'])),
    );
    replies['full@example.test'] = { code: 452, message: '4.2.2 Mailbox full, try later' };
    const mixed = await sendError(
      pool.send('acct-1', config(server.port), message(['gone@example.test', 'full@example.test'])),
    );

    expect(permanent).toMatchObject({
      code: 'SMTP_ALL_RECIPIENTS_REJECTED',
      transient: false,
      dataStarted: false,
    });
    expect(
      permanent.recipients?.map((r) => [r.address, r.accepted, r.reply?.code, r.reply?.enhanced]),
    ).toEqual([
      ['gone@example.test', false, 550, '5.1.1'],
      ['full@example.test', false, 552, '5.2.2'],
    ]);
    expect(mixed).toMatchObject({ code: 'SMTP_ALL_RECIPIENTS_REJECTED', transient: true });
    expect(server.received).toHaveLength(0);
  });

  it('a reply to the end of DATA rejecting the message: dataStarted, but certainly not delivered', async () => {
    let reply = { code: 554, message: '5.7.1 Message rejected as spam' };
    const server = await plainServer({ dataEnd: () => reply });
    pool = createSmtpSenderPool();

    const refused = await sendError(pool.send('acct-1', config(server.port), message()));
    reply = { code: 451, message: '4.7.1 Greylisted, come back later' };
    const deferred = await sendError(pool.send('acct-1', config(server.port), message()));

    expect(refused).toMatchObject({
      code: 'SMTP_REJECTED',
      transient: false,
      dataStarted: true,
      uncertain: false,
    });
    expect(refused.reply).toMatchObject({ code: 554, enhanced: '5.7.1', command: 'DATA' });
    expect(deferred).toMatchObject({
      code: 'SMTP_REJECTED',
      transient: true,
      dataStarted: true,
      uncertain: false,
    });
  });

  it('a connection dropped after 354 is SMTP_CONNECTION_LOST with dataStarted and uncertain', async () => {
    const server = await plainServer({ dropAfter354: true });
    pool = createSmtpSenderPool();

    const error = await sendError(pool.send('acct-1', config(server.port), message()));

    expect(error).toMatchObject({
      code: 'SMTP_CONNECTION_LOST',
      transient: true,
      dataStarted: true,
      uncertain: true,
    });
  });

  it('a server that never answers is SMTP_TIMEOUT (transient)', async () => {
    const silent = track(await startSilentServer());
    pool = createSmtpSenderPool();

    const error = await sendError(pool.send('acct-1', config(silent.port, { timeoutMs: 300 }), message()));

    expect(error).toMatchObject({ code: 'SMTP_TIMEOUT', transient: true, dataStarted: false });
  });

  it('a refused connection is SMTP_CONNECT_FAILED (transient)', async () => {
    pool = createSmtpSenderPool();

    const error = await sendError(pool.send('acct-1', config(await closedPort()), message()));

    expect(error).toMatchObject({ code: 'SMTP_CONNECT_FAILED', transient: true, dataStarted: false });
  });

  it('runs onDataStart after the 354 and before a byte of the message reaches the server', async () => {
    let dataPhase = false;
    let bytesAtServer = 0;
    const server = await plainServer({
      onDataPhase: (_session, stream) => {
        dataPhase = true;
        stream.on('data', (chunk: Buffer) => (bytesAtServer += chunk.length));
      },
    });
    pool = createSmtpSenderPool();
    const seen: { dataPhase: boolean; bytes: number; receivedLater: number }[] = [];

    await pool.send('acct-1', config(server.port), message(), async () => {
      // Give the client every chance to send early, had it not waited for this hook.
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen.push({ dataPhase, bytes: bytesAtServer, receivedLater: server.received.length });
    });

    expect(seen).toEqual([{ dataPhase: true, bytes: 0, receivedLater: 0 }]);
    expect(server.received).toHaveLength(1);
  });

  it('when onDataStart fails, its error comes back and the server stores nothing', async () => {
    const server = await plainServer();
    pool = createSmtpSenderPool();
    const failure = new Error('database is down');

    const error = await pool
      .send('acct-1', config(server.port), message(), () => Promise.reject(failure))
      .catch((e: unknown) => e);

    expect(error).toBe(failure);
    expect(server.received).toHaveLength(0);
    // The pool is still usable afterwards.
    await pool.send('acct-1', config(server.port), message());
    expect(server.received).toHaveLength(1);
  });

  it('does not run onDataStart when the message is refused before DATA', async () => {
    const server = await plainServer({ mailFrom: () => ({ code: 550, message: '5.7.1 No' }) });
    pool = createSmtpSenderPool();
    let calls = 0;

    await sendError(
      pool.send('acct-1', config(server.port), message(), async () => {
        calls += 1;
      }),
    );

    expect(calls).toBe(0);
  });

  it('pools connections per key, at most maxConnectionsPerKey at once, and reconnects after close', async () => {
    const server = await plainServer();
    pool = createSmtpSenderPool({ maxConnectionsPerKey: 1 });

    await Promise.all([1, 2, 3, 4].map(() => pool.send('acct-1', config(server.port), message())));
    expect(server.received).toHaveLength(4);
    expect(server.connections.opened).toBe(1);
    expect(server.connections.maxOpen).toBe(1);

    await pool.close('acct-1');
    await pool.send('acct-1', config(server.port), message());
    expect(server.connections.opened).toBe(2);
  });

  it('a changed password for the same key is used at once, on a new connection', async () => {
    const server = await plainServer({ account });
    pool = createSmtpSenderPool();
    const wrong = config(server.port, { auth: { user: account.user, pass: 'old password', spa: false } });
    const right = config(server.port, { auth: { ...account, spa: false } });

    const error = await sendError(pool.send('acct-1', wrong, message()));
    await pool.send('acct-1', right, message());

    expect(error.code).toBe('SMTP_AUTH_FAILED');
    expect(server.received).toHaveLength(1);
    expect(server.authAttempts.map((a) => a.ok)).toEqual([false, true]);
  });

  it('sends through an HTTP CONNECT proxy with credentials', async () => {
    const server = await plainServer();
    const proxy = track(await startHttpConnectProxy({ user: 'proxyuser', pass: 'proxypass' }));
    pool = createSmtpSenderPool();

    await pool.send(
      'acct-1',
      config(server.port, {
        proxy: {
          type: 'http',
          host: '127.0.0.1',
          port: proxy.port,
          username: 'proxyuser',
          password: 'proxypass',
        },
      }),
      message(),
    );

    expect(proxy.targets).toEqual([`127.0.0.1:${server.port}`]);
    expect(server.received).toHaveLength(1);
  });

  it('a proxy that refuses or is not there is SMTP_PROXY_FAILED, without the proxy password', async () => {
    const server = await plainServer();
    const proxy = track(await startHttpConnectProxy({ user: 'proxyuser', pass: 'proxypass' }));
    pool = createSmtpSenderPool();
    const viaProxy = (type: 'http' | 'socks5', port: number, password: string) =>
      config(server.port, { proxy: { type, host: '127.0.0.1', port, username: 'proxyuser', password } });

    const refused = await sendError(
      pool.send('a', viaProxy('http', proxy.port, 'wrong-proxy-pass'), message()),
    );
    const absent = await sendError(
      pool.send('b', viaProxy('socks5', await closedPort(), 'secret-proxy-pass'), message()),
    );

    expect(refused).toMatchObject({ code: 'SMTP_PROXY_FAILED', transient: true });
    expect(refused.message).toContain('407');
    expect(refused.message).not.toContain('wrong-proxy-pass');
    expect(absent).toMatchObject({ code: 'SMTP_PROXY_FAILED', transient: true });
    expect(absent.message).not.toContain('secret-proxy-pass');
    expect(server.received).toHaveLength(0);
  });
});
