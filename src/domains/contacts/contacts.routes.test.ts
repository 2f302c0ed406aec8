import { beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe.each(testDialects)('contacts on %s', (dialect) => {
  const testApp = useTestApp(dialect);
  let rep: SignedIn;
  let outsider: SignedIn;
  const call = (method: string, path: string, as: SignedIn, body?: unknown) =>
    request<Body>(testApp.current.baseUrl, method, path, { token: as.token, body });

  beforeAll(async () => {
    rep = await signUp(testApp.current.container, { org: 'Crm' });
    outsider = await signUp(testApp.current.container, { org: 'Other Crm' });
  });

  it('adds a contact with an owner and custom fields, unique by address in the organisation', async () => {
    const created = await call('POST', '/api/contacts', rep, {
      email: 'Ada@Example.test',
      name: 'Ada Lovelace',
      ownerId: rep.userId,
      fields: { region: 'EMEA', tier: 2, vip: true },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      email: 'Ada@Example.test',
      ownerId: rep.userId,
      fields: { region: 'EMEA', tier: 2, vip: true },
    });

    const duplicate = await call('POST', '/api/contacts', rep, { email: 'ada@example.TEST' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toMatchObject({
      code: 'CONTACT_EMAIL_TAKEN',
      fields: { email: 'is already a contact' },
    });
    expect((await call('POST', '/api/contacts', outsider, { email: 'ada@example.test' })).status).toBe(201);
  });

  it('merges custom fields on change, removing those sent as null', async () => {
    const created = await call('POST', '/api/contacts', rep, {
      email: 'grace@example.test',
      fields: { a: '1', b: '2' },
    });
    const changed = await call('PATCH', `/api/contacts/${created.body.id}`, rep, {
      name: 'Grace',
      fields: { b: null, c: 3 },
    });
    expect(changed.body).toMatchObject({ name: 'Grace', fields: { a: '1', c: 3 } });
    expect(changed.body.fields).not.toHaveProperty('b');
  });

  it('refuses an owner from another organisation and hides contacts across organisations', async () => {
    const foreignOwner = await call('POST', '/api/contacts', rep, {
      email: 'x@example.test',
      ownerId: outsider.userId,
    });
    expect(foreignOwner.status).toBe(400);
    expect(foreignOwner.body.error.fields).toHaveProperty('ownerId');
    const mine = await call('POST', '/api/contacts', rep, { email: 'mine@example.test' });
    expect((await call('GET', `/api/contacts/${mine.body.id}`, outsider)).status).toBe(404);
    const search = await call('GET', '/api/contacts?q=MINE', rep);
    expect(search.body.items.map((contact: Body) => contact.email)).toEqual(['mine@example.test']);
    await call('POST', '/api/contacts', rep, { email: 'gold@example.test', name: '100% Gold' });
    await call('POST', '/api/contacts', rep, { email: 'silver@example.test', name: '100 Silver' });
    const literal = await call('GET', `/api/contacts?q=${encodeURIComponent('100%')}`, rep);
    expect(literal.body.items.map((contact: Body) => contact.email)).toEqual(['gold@example.test']);
  });
});
