/**
 * The request validators of the main POST and PATCH routes, fuzzed against the real server: random
 * JSON, text that is no JSON, valid bodies with a field too many, the wrong content type, prototype
 * poisoning keys, and valid bodies whose strings are hostile (NUL, separators, lone surrogates,
 * long text). Never a 500; a refused request stores nothing (every table's row count unchanged).
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { hostileHeaderText } from './support/hostile-text.ts';
import { request, signUp, useTestApp, type SignedIn } from './support/app.ts';
import { testDialects } from './support/dialects.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Statuses a request the validators must refuse may get: bad request, too large, wrong type, throttled. */
const REFUSED = [400, 413, 415, 429];

interface Route {
  method: 'POST' | 'PATCH';
  path: () => string;
  /** A body the route accepts (or refuses for a reason past validation). */
  valid: () => Record<string, Json>;
}

describe.each(testDialects)('request validators on %s', (dialect) => {
  // Hundreds of requests in a row: the send rate limit (tested in src/http/rate-limits.test.ts) is off.
  const testApp = useTestApp(dialect, { RATE_LIMIT_SEND_PER_USER: '0', RATE_LIMIT_SEND_PER_IP: '0' });
  let user: SignedIn;
  const ids = { account: '', contact: '', rule: '', webhook: '' };
  let tables: string[] = [];

  const send = (route: Route, body: { json?: unknown; text?: string; contentType?: string }) => {
    if (body.text !== undefined) {
      return request<Body | null>(testApp.current.baseUrl, route.method, route.path(), {
        token: user.token,
        rawBody: { contentType: body.contentType ?? 'application/json', text: body.text },
      });
    }
    return request<Body | null>(testApp.current.baseUrl, route.method, route.path(), {
      token: user.token,
      body: body.json,
    });
  };

  /** Every table's row count, in one query. */
  async function counts(): Promise<Record<string, number>> {
    const { db } = testApp.current.container;
    const select = tables.map((table) => `(select count(*) from "${table}") as "${table}"`).join(', ');
    const { rows } = await sql.raw<Record<string, number | string>>(`select ${select}`).execute(db);
    return Object.fromEntries(Object.entries(rows[0]!).map(([table, n]) => [table, Number(n)]));
  }

  beforeAll(async () => {
    const { container } = testApp.current;
    user = await signUp(container, { org: 'Fuzz Ltd' });
    const listed =
      dialect === 'sqlite'
        ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(
            container.db,
          )
        : await sql<{ name: string }>`
            select table_name as name from information_schema.tables
            where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(container.db);
    tables = listed.rows.map((row) => row.name).filter((name) => !name.startsWith('sqlite_'));
    const api = (method: string, path: string, body: unknown) =>
      request<Body>(testApp.current.baseUrl, method, path, { token: user.token, body });
    const account = await api('POST', '/api/accounts', accountBody());
    const contact = await api('POST', '/api/contacts', { email: 'target@fuzz.test', fields: { a: '1' } });
    const rule = await api('POST', '/api/rules', ruleBody());
    const webhook = await api('POST', '/api/webhooks', {
      url: 'https://127.0.0.1/hook',
      eventTypes: ['email.received'],
    });
    for (const created of [account, contact, rule, webhook]) {
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    Object.assign(ids, {
      account: account.body.id,
      contact: contact.body.id,
      rule: rule.body.id,
      webhook: webhook.body.id,
    });
  });

  const accountBody = (): Record<string, Json> => ({
    type: 'own',
    name: 'Fuzz',
    email: 'fuzz@fuzz.test',
    displayName: 'Fuzz Sales',
    smtp: { host: '127.0.0.1', port: 2525, security: 'none', requiresAuth: false },
  });
  const messageBody = (): Record<string, Json> => ({
    accountId: ids.account,
    to: [{ name: 'Bob', address: 'bob@fuzz.test' }],
    subject: 'Hello',
    text: 'Hi',
    headers: { 'X-Campaign': 'fuzz' },
  });
  const ruleBody = (): Record<string, Json> => ({
    name: 'Tag mail',
    trigger: 'email.received',
    conditions: { subjectContains: 'offer' },
    actions: [{ type: 'add_tag', tag: 'lead' }],
  });

  const routes: Record<string, Route> = {
    'POST /api/accounts': { method: 'POST', path: () => '/api/accounts', valid: accountBody },
    'PATCH /api/accounts/:id': {
      method: 'PATCH',
      path: () => `/api/accounts/${ids.account}`,
      valid: () => ({ displayName: 'Renamed', replyToName: 'Desk' }),
    },
    'POST /api/messages': { method: 'POST', path: () => '/api/messages', valid: messageBody },
    'POST /api/messages/batch': {
      method: 'POST',
      path: () => '/api/messages/batch',
      valid: () => ({ messages: [messageBody(), messageBody()] }),
    },
    'POST /api/contacts': {
      method: 'POST',
      path: () => '/api/contacts',
      valid: () => ({
        email: 'new@fuzz.test',
        name: 'Ada',
        fields: { region: 'EMEA', tier: 2 },
        tags: ['x'],
      }),
    },
    'PATCH /api/contacts/:id': {
      method: 'PATCH',
      path: () => `/api/contacts/${ids.contact}`,
      valid: () => ({ name: 'Grace', fields: { b: 'x' }, score: 3 }),
    },
    'POST /api/rules': { method: 'POST', path: () => '/api/rules', valid: ruleBody },
    'PATCH /api/rules/:id': {
      method: 'PATCH',
      path: () => `/api/rules/${ids.rule}`,
      valid: () => ({ name: 'Renamed', enabled: false }),
    },
    'POST /api/webhooks': {
      method: 'POST',
      path: () => '/api/webhooks',
      valid: () => ({ url: 'https://127.0.0.1/other', eventTypes: ['email.sent'], description: 'x' }),
    },
    'PATCH /api/webhooks/:id': {
      method: 'PATCH',
      path: () => `/api/webhooks/${ids.webhook}`,
      valid: () => ({ description: 'changed', enabled: true }),
    },
  };

  /** Somewhere inside a JSON value: its own path of keys and indexes (objects and arrays only). */
  function containers(value: Json, path: (string | number)[] = []): (string | number)[][] {
    if (value === null || typeof value !== 'object') return [];
    const here = Array.isArray(value) ? [] : [path];
    const children = Array.isArray(value)
      ? value.flatMap((item, index) => containers(item, [...path, index]))
      : Object.entries(value).flatMap(([key, item]) => containers(item, [...path, key]));
    return [...here, ...children];
  }

  function strings(value: Json, path: (string | number)[] = []): (string | number)[][] {
    if (typeof value === 'string') return [path];
    if (value === null || typeof value !== 'object') return [];
    return Array.isArray(value)
      ? value.flatMap((item, index) => strings(item, [...path, index]))
      : Object.entries(value).flatMap(([key, item]) => strings(item, [...path, key]));
  }

  function setAt(value: Json, path: (string | number)[], change: (old: Json) => Json): Json {
    if (path.length === 0) return change(value);
    const [head, ...rest] = path;
    const copy = structuredClone(value) as Record<string | number, Json>;
    copy[head!] = setAt(copy[head!]!, rest, change);
    return copy as Json;
  }

  /** Requests the validators must refuse, whatever is in them. */
  const refusable = (route: Route) =>
    fc.oneof(
      // Any JSON value at all; an object gets a key no schema knows, so that `{}` (a valid PATCH) is not sent.
      fc.jsonValue({ maxDepth: 4 }).map((json) => ({
        json:
          json !== null && typeof json === 'object' && !Array.isArray(json)
            ? { ...json, 'zz unknown!': 1 }
            : json,
      })),
      // Text that is (almost always) no JSON, sent as JSON.
      fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text })),
      // A valid body cut short.
      fc.nat().map((cut) => {
        const text = JSON.stringify(route.valid());
        return { text: text.slice(0, cut % text.length) };
      }),
      // A valid body with one key too many, at the top or in any nested object (a key that no
      // record's key pattern allows either).
      fc
        .tuple(fc.nat(), fc.stringMatching(/^[a-z_]{1,12}$/), fc.jsonValue({ maxDepth: 2 }))
        .map(([pick, key, extra]) => {
          const body = route.valid();
          const places = containers(body);
          const place = places[pick % places.length]!;
          return {
            json: setAt(body, place, (old) => ({
              ...(old as Record<string, Json>),
              [`zz ${key}!`]: extra as Json,
            })),
          };
        }),
      // Prototype poisoning.
      fc.constantFrom('__proto__', 'constructor').map((key) => ({
        text: JSON.stringify(route.valid()).replace(
          /^\{/,
          `{"${key}":{"prototype":{"isAdmin":true},"polluted":1},`,
        ),
      })),
      // The right body with the wrong content type.
      fc
        .constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml')
        .map((contentType) => ({
          text: JSON.stringify(route.valid()),
          contentType,
        })),
    );

  /** Valid bodies whose strings are hostile: accepted or refused, never a 500. */
  const hostile = (route: Route) =>
    fc
      .tuple(
        fc.nat(),
        fc.oneof(
          hostileHeaderText,
          fc.string({ unit: 'binary', maxLength: 100 }),
          fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udfff x', '\u2028', '\u202e', '%00', '\\u0000'),
          fc.nat({ max: 5000 }).map((n) => 'x'.repeat(n)),
        ),
      )
      .map(([pick, text]) => {
        const body = route.valid();
        const places = strings(body);
        return { json: setAt(body, places[pick % places.length]!, () => text) };
      });

  it('NUL in a body or a query is a 400 naming the field (a PostgreSQL text column cannot hold it)', async () => {
    const before = await counts();
    const api = (method: string, path: string, body?: unknown) =>
      request<Body>(testApp.current.baseUrl, method, path, { token: user.token, body });
    const named = await api('POST', '/api/contacts', { email: 'nul@fuzz.test', name: 'Ada\u0000' });
    expect(named.status).toBe(400);
    expect(named.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      fields: { name: 'must not contain NUL characters' },
    });
    const nested = await api('PATCH', `/api/contacts/${ids.contact}`, { fields: { note: 'a\u0000b' } });
    expect(nested.body.error.fields).toEqual({ 'fields.note': 'must not contain NUL characters' });
    const text = await api('POST', '/api/messages', { ...messageBody(), text: 'Hi\u0000' });
    expect(text.body.error.fields).toEqual({ text: 'must not contain NUL characters' });
    const query = await api('GET', '/api/contacts?q=%00');
    expect(query.status).toBe(400);
    expect(query.body.error.fields).toEqual({ q: 'must not contain NUL characters' });
    expect(await counts()).toEqual(before);
  });

  for (const [name, route] of Object.entries(routes)) {
    it(`${name}: refused, never a 500, nothing stored`, async () => {
      const before = await counts();
      await fc.assert(
        fc.asyncProperty(refusable(route), async (body) => {
          const response = await send(route, body);
          expect(REFUSED, JSON.stringify({ body, response: response.body })).toContain(response.status);
        }),
        { numRuns: 60 },
      );
      expect(await counts()).toEqual(before);
    });

    it(`${name}: hostile strings in a valid body, never a 500`, async () => {
      await fc.assert(
        fc.asyncProperty(hostile(route), async (body) => {
          const before = await counts();
          const response = await send(route, body);
          expect(response.status, JSON.stringify({ body, response: response.body })).toBeLessThan(500);
          if (response.status >= 400) expect(await counts()).toEqual(before);
        }),
        { numRuns: 30 },
      );
    });
  }
});
