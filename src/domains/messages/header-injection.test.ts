/**
 * Header injection at the API: every text a caller sends that ends up in a header is refused with a
 * 400 naming the field when it carries a line break, a control character or a Unicode line or
 * paragraph separator, and nothing is stored. Contact fields are data (they may hold line breaks);
 * what a sender template makes of them is one header-safe line (see the sender preview).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BREAKING_CHARACTERS } from '../../../test/support/hostile-text.ts';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** NUL is refused before validation (src/http/nul-guard.ts), with its own words; the rest by the schema. */
const REFUSAL = /^must not contain (line breaks or other control characters|NUL characters)$/;

describe.each(testDialects)('header injection at the API on %s', (dialect) => {
  // Many refused sends in a row: the send rate limit (tested in src/http/rate-limits.test.ts) is off.
  const testApp = useTestApp(dialect, { RATE_LIMIT_SEND_PER_USER: '0', RATE_LIMIT_SEND_PER_IP: '0' });
  let user: SignedIn;
  const call = (method: string, path: string, body?: unknown) =>
    request<Body>(testApp.current.baseUrl, method, path, { token: user.token, body });
  const count = async (table: 'messages' | 'accounts') =>
    Number(
      (
        await testApp.current.container.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  beforeAll(async () => {
    user = await signUp(testApp.current.container, { org: 'Injection Ltd' });
  });

  const message = (evil: string) => ({
    subject: { subject: `Offer${evil}Bcc: everyone@evil.test` },
    'to.0.name': { to: [{ name: `Bob${evil}Bcc: everyone@evil.test`, address: 'bob@example.test' }] },
    'cc.0.name': { cc: [{ name: `Dan${evil}`, address: 'dan@example.test' }] },
    'bcc.0.name': { bcc: [{ name: `Eve${evil}`, address: 'eve@example.test' }] },
    'headers.X-Campaign': { headers: { 'X-Campaign': `spring${evil}Bcc: everyone@evil.test` } },
    'headers.List-Unsubscribe': { headers: { 'List-Unsubscribe': `<https://x.test/u>${evil}X-A: b` } },
    'attachments.0.filename': {
      attachments: [{ filename: `a${evil}.txt`, contentType: 'text/plain', content: 'eA==' }],
    },
  });

  it.each(BREAKING_CHARACTERS)(
    'POST /api/messages refuses %s in each header field, naming it',
    async (_name, evil) => {
      const before = await count('messages');
      for (const [field, change] of Object.entries(message(evil))) {
        const response = await call('POST', '/api/messages', {
          to: ['bob@example.test'],
          subject: 'Offer',
          text: 'Hello',
          ...change,
        });
        expect(response.status, field).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
        expect(response.body.error.fields[field], field).toMatch(REFUSAL);
        expect(response.body.error.message).toContain(field);
      }
      expect(await count('messages')).toBe(before);
    },
  );

  it('POST /api/messages refuses every header name outside the allow-list', async () => {
    const before = await count('messages');
    for (const name of ['From', 'Sender', 'Bcc', 'To', 'Content-Type', 'MIME-Version', 'X A', 'X-A:B', '']) {
      const response = await call('POST', '/api/messages', {
        to: ['bob@example.test'],
        subject: 'Offer',
        text: 'Hello',
        headers: { [name]: 'ceo@bank.test' },
      });
      expect(response.status, name).toBe(400);
      expect(Object.keys(response.body.error.fields), name).toContain(name ? `headers.${name}` : 'headers.');
    }
    expect(await count('messages')).toBe(before);
  });

  it.each(BREAKING_CHARACTERS)('POST /api/messages refuses an address with %s in it', async (_name, evil) => {
    const response = await call('POST', '/api/messages', {
      to: [`bob${evil}x@example.test`],
      subject: 'Offer',
      text: 'Hello',
    });
    expect(response.status).toBe(400);
    expect(Object.keys(response.body.error.fields)).toContain('to.0');
  });

  it.each(BREAKING_CHARACTERS)(
    'POST /api/accounts refuses %s in names, reply-to and templates',
    async (_name, evil) => {
      const before = await count('accounts');
      const base = { type: 'own', name: 'Sales', email: 'sales@injection.test' };
      const cases: Record<string, Record<string, string>> = {
        name: { name: `Sales${evil}` },
        displayName: { displayName: `Acme${evil}Bcc: everyone@evil.test` },
        replyToName: { replyToName: `Replies${evil}` },
        fromNameTemplate: { fromNameTemplate: `{{contact.owner.name}}${evil}at Acme` },
        replyToNameTemplate: { replyToNameTemplate: `desk${evil}` },
      };
      for (const [field, change] of Object.entries(cases)) {
        const response = await call('POST', '/api/accounts', { ...base, ...change });
        expect(response.status, field).toBe(400);
        expect(response.body.error.fields[field], field).toMatch(REFUSAL);
      }
      const replyTo = await call('POST', '/api/accounts', {
        ...base,
        replyTo: `replies${evil}x@injection.test`,
      });
      expect(replyTo.status).toBe(400);
      expect(Object.keys(replyTo.body.error.fields)).toContain('replyTo');
      expect(await count('accounts')).toBe(before);
    },
  );

  it('a template filled from contact fields holding line breaks and separators gives one clean line', async () => {
    const contact = await call('POST', '/api/contacts', {
      email: 'grace@example.test',
      fields: { desk: 'EMEA\r\nBcc: everyone@evil.test\u2028X-Injected: yes\u0085' },
    });
    expect(contact.status).toBe(201);
    const preview = await call('POST', '/api/accounts/sender-preview', {
      contactId: contact.body.id,
      email: 'sales@injection.test',
      displayName: 'Acme Sales',
      fromNameTemplate: '{{contact.fields.desk}} desk',
      replyToNameTemplate: '{{contact.fields.desk}}',
    });
    expect(preview.status).toBe(200);
    expect(preview.body.from.name).toBe('EMEA Bcc: everyone@evil.test X-Injected: yes desk');
    expect(preview.body.replyTo.name).toBe('EMEA Bcc: everyone@evil.test X-Injected: yes');
  });
});
