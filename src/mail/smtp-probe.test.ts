import { describe, expect, it, vi } from 'vitest';
import { probeSmtp } from './smtp-probe.ts';
import {
  closedPort,
  startHttpConnectProxy,
  startSilentServer,
  startTestSmtpServer,
  startWireRecorder,
  useSmtpTestKit,
} from './smtp-test-fixtures.ts';

const account = { user: 'ada@example.test', pass: 'correct horse battery staple' };
const secrets = [account.pass, Buffer.from(account.pass).toString('base64')];

const { ca, track, plainServer, config } = useSmtpTestKit();

describe('probeSmtp', () => {
  it('runs every step over STARTTLS up to the 354, reports the server’s words, and delivers nothing', async () => {
    let dataPhases = 0;
    const server = track(
      await startTestSmtpServer(
        { key: ca().keyPem, cert: ca().certPem, authOptional: true },
        { account, onDataPhase: () => (dataPhases += 1) },
      ),
    );

    const result = await probeSmtp(
      config(server.port, { security: 'starttls', ca: ca().caPem, auth: { ...account, spa: false } }),
      account.user,
      account.user,
    );

    expect(result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => [s.step, s.ok])).toEqual([
      ['connect', true],
      ['ehlo', true],
      ['tls', true],
      ['ehlo', true],
      ['auth', true],
      ['mail_from', true],
      ['rcpt_to', true],
      ['data', true],
    ]);
    const reply = (name: string) => result.steps.filter((s) => s.step === name).at(-1)?.reply ?? '';
    expect(reply('connect')).toMatch(/^220 /);
    expect(reply('tls')).toMatch(/^220 /);
    expect(result.steps[1]?.reply).toMatch(/STARTTLS/);
    expect(reply('ehlo')).toMatch(/AUTH LOGIN PLAIN/);
    expect(reply('auth')).toMatch(/^235 /);
    expect(reply('mail_from')).toMatch(/^250 /);
    expect(reply('rcpt_to')).toMatch(/^250 /);
    expect(reply('data')).toMatch(/^354 /);
    for (const step of result.steps) {
      expect(step.ms).toBeGreaterThanOrEqual(0);
      for (const secret of secrets) expect(step.reply ?? '').not.toContain(secret);
    }
    // The server reached DATA, then saw the connection end without the final dot: nothing stored.
    await vi.waitFor(() => expect(server.connections.closed).toBe(1));
    expect(dataPhases).toBe(1);
    expect(server.received).toHaveLength(0);
  });

  it('probes TLS on connect with the test CA', async () => {
    const server = track(
      await startTestSmtpServer({ secure: true, key: ca().keyPem, cert: ca().certPem, authOptional: true }),
    );

    const result = await probeSmtp(
      config(server.port, { security: 'tls', ca: ca().caPem }),
      'a@example.test',
      'b@example.test',
    );

    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => s.step)).toEqual([
      'connect',
      'tls',
      'ehlo',
      'mail_from',
      'rcpt_to',
      'data',
    ]);
    expect(result.steps[1]?.reply).toMatch(/^220 /);
    await vi.waitFor(() => expect(server.connections.closed).toBe(1));
    expect(server.received).toHaveLength(0);
  });

  it('fails the tls step with SMTP_TLS_FAILED when the certificate is not from a trusted CA', async () => {
    const server = track(
      await startTestSmtpServer({ key: ca().keyPem, cert: ca().certPem, authOptional: true }),
    );

    const result = await probeSmtp(
      config(server.port, { security: 'starttls', ca: ca().otherCaPem }),
      'a@example.test',
      'b@example.test',
    );

    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('SMTP_TLS_FAILED');
    expect(result.steps.map((s) => [s.step, s.ok])).toEqual([
      ['connect', true],
      ['ehlo', true],
      ['tls', false],
    ]);
    expect(result.steps[2]?.reply).toMatch(/certificate/i);
  });

  it('logs in by CRAM-MD5 with spa, and the password never crosses the wire', async () => {
    const server = await plainServer({ account }, { authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'] });
    const wire = track(await startWireRecorder(server.port));

    const result = await probeSmtp(
      config(wire.port, { auth: { ...account, spa: true } }),
      account.user,
      account.user,
    );

    expect(result.ok).toBe(true);
    expect(server.authAttempts).toEqual([
      { method: 'CRAM-MD5', username: account.user, password: null, ok: true },
    ]);
    for (const secret of secrets) expect(wire.sent()).not.toContain(secret);
  });

  it('with spa and only PLAIN/LOGIN offered: SPA_UNAVAILABLE at the auth step, no AUTH sent', async () => {
    const server = await plainServer({ account }, { authMethods: ['PLAIN', 'LOGIN'] });
    const wire = track(await startWireRecorder(server.port));

    const result = await probeSmtp(
      config(wire.port, { auth: { ...account, spa: true } }),
      account.user,
      account.user,
    );

    expect(result).toMatchObject({ ok: false, error: { code: 'SPA_UNAVAILABLE' } });
    expect(result.steps.at(-1)).toMatchObject({ step: 'auth', ok: false });
    expect(result.steps.at(-1)?.reply).toContain('PLAIN LOGIN');
    expect(server.authAttempts).toEqual([]);
    expect(wire.sent()).not.toMatch(/AUTH/i);
  });

  it('a wrong password fails the auth step with the server’s 535 and never echoes the password', async () => {
    const server = await plainServer({ account }, { authMethods: ['LOGIN'] });
    const wrong = 'wrong password here';

    const result = await probeSmtp(
      config(server.port, { auth: { user: account.user, pass: wrong, spa: false } }),
      account.user,
      account.user,
    );

    expect(result.error?.code).toBe('SMTP_AUTH_FAILED');
    expect(result.error?.reply).toMatchObject({ code: 535, enhanced: '5.7.8', command: 'AUTH LOGIN' });
    expect(result.steps.at(-1)).toMatchObject({ step: 'auth', ok: false });
    expect(result.steps.at(-1)?.reply).toMatch(/^535 /);
    expect(JSON.stringify(result)).not.toContain(wrong);
    expect(JSON.stringify(result)).not.toContain(Buffer.from(wrong).toString('base64'));
  });

  it('a rejected recipient stops at rcpt_to with the reply and its enhanced status', async () => {
    const server = await plainServer({ rcptTo: () => ({ code: 550, message: '5.1.1 User unknown' }) });

    const result = await probeSmtp(config(server.port), 'a@example.test', 'nobody@example.test');

    expect(result.ok).toBe(false);
    expect(result.steps.map((s) => s.step)).toEqual(['connect', 'ehlo', 'mail_from', 'rcpt_to']);
    expect(result.steps.at(-1)).toMatchObject({ ok: false, reply: '550 5.1.1 User unknown' });
    expect(result.error).toEqual({
      code: 'SMTP_REJECTED',
      reply: { code: 550, enhanced: '5.1.1', text: 'User unknown', command: 'RCPT TO' },
    });
  });

  it('a silent server fails the connect step with SMTP_TIMEOUT; a closed port with SMTP_CONNECT_FAILED', async () => {
    const silent = track(await startSilentServer());

    const timedOut = await probeSmtp(
      config(silent.port, { timeoutMs: 300 }),
      'a@example.test',
      'b@example.test',
    );
    const refused = await probeSmtp(config(await closedPort()), 'a@example.test', 'b@example.test');

    expect(timedOut.error?.code).toBe('SMTP_TIMEOUT');
    expect(timedOut.steps).toMatchObject([{ step: 'connect', ok: false }]);
    expect(refused.error?.code).toBe('SMTP_CONNECT_FAILED');
    expect(refused.steps).toMatchObject([{ step: 'connect', ok: false }]);
  });

  it('goes through an HTTP CONNECT proxy', async () => {
    const server = await plainServer();
    const proxy = track(await startHttpConnectProxy());

    const result = await probeSmtp(
      config(server.port, {
        proxy: { type: 'http', host: '127.0.0.1', port: proxy.port, username: null, password: null },
      }),
      'a@example.test',
      'b@example.test',
    );

    expect(result.ok).toBe(true);
    expect(proxy.targets).toEqual([`127.0.0.1:${server.port}`]);
  });

  it('an unreachable proxy fails the connect step with SMTP_PROXY_FAILED', async () => {
    const result = await probeSmtp(
      config(25, {
        proxy: {
          type: 'socks5',
          host: '127.0.0.1',
          port: await closedPort(),
          username: 'u',
          password: 'proxy-secret',
        },
      }),
      'a@example.test',
      'b@example.test',
    );

    expect(result.error?.code).toBe('SMTP_PROXY_FAILED');
    expect(result.steps).toMatchObject([{ step: 'connect', ok: false }]);
    expect(JSON.stringify(result)).not.toContain('proxy-secret');
  });
});
