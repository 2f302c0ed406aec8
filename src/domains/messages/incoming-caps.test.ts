/**
 * A received message over the parser's caps (src/mail/parse.ts, PARSE_LIMITS) is flagged, not
 * dropped: it is stored, quarantined with the reason, its raw bytes kept and served, and the
 * mailbox moves on past it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { classifyMessage } from '../../bounces/classify/index.ts';
import { newId } from '../../db/ids.ts';
import { contentHash, parseMessage, PARSE_LIMITS } from '../../mail/parse.ts';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function tooManyParts(subject: string): Buffer {
  let raw = `From: eve@evil.test\r\nSubject: ${subject}\r\nMessage-ID: <${newId()}@evil.test>\r\n`;
  raw += 'Content-Type: multipart/mixed; boundary=b\r\n\r\n';
  for (let i = 0; i <= PARSE_LIMITS.maxParts; i++) raw += `--b\r\nContent-Type: text/plain\r\n\r\n${i}\r\n`;
  return Buffer.from(`${raw}--b--\r\n`);
}

function hugeHeader(subject: string): Buffer {
  return Buffer.from(
    `From: eve@evil.test\r\nSubject: ${subject}\r\nMessage-ID: <${newId()}@evil.test>\r\n` +
      `X-Big: ${'a'.repeat(PARSE_LIMITS.maxHeadBytes)}\r\n\r\nbody`,
  );
}

describe.each(testDialects)('messages over the parser’s caps on %s', (dialect) => {
  const testApp = useTestApp(dialect);
  let user: SignedIn;
  let accountId: string;
  const call = (method: string, path: string, body?: unknown) =>
    request<Body>(testApp.current.baseUrl, method, path, { token: user.token, body });

  beforeAll(async () => {
    user = await signUp(testApp.current.container, { org: 'Caps Ltd' });
    const account = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'Caps',
      email: 'caps@caps.test',
      smtp: { host: '127.0.0.1', port: 2525, security: 'none', requiresAuth: false },
    });
    expect(account.status, JSON.stringify(account.body)).toBe(201);
    accountId = account.body.id;
  });

  it.each([
    ['more MIME parts than the cap', tooManyParts, /1000|child nodes|nodes/i],
    ['a header block over the cap', hugeHeader, /header/i],
  ] as const)('%s: stored, quarantined with the reason, raw kept', async (_name, build, reason) => {
    const raw = build(`over ${_name}`);
    const parsed = await parseMessage(raw);
    expect(parsed.ok).toBe(false);
    const outcome = await testApp.current.container.services.incoming.store(
      { id: accountId, orgId: user.orgId, markIncomingPrivate: false },
      [
        {
          fetched: {
            folder: 'INBOX',
            serverId: `uid-${newId()}`,
            raw,
            size: raw.length,
            truncated: false,
            receivedAt: new Date(),
          },
          parsed,
          hash: contentHash(raw),
          verdict: classifyMessage(raw),
        },
      ],
      async () => {},
    );
    expect(outcome.stored).toBe(1);
    const list = await call('GET', `/api/messages?direction=in&accountId=${accountId}&pageSize=200`);
    const stored = (list.body.items as Body[]).filter((item) => item.quarantine !== null);
    const message = stored.find((item) => item.raw?.size === raw.length)!;
    expect(message).toBeDefined();
    expect(message.quarantine.error).toMatch(reason);
    const kept = await fetch(`${testApp.current.baseUrl}/api/messages/${message.id}/raw`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(kept.status).toBe(200);
    expect(Buffer.from(await kept.arrayBuffer()).equals(raw)).toBe(true);
  });
});
