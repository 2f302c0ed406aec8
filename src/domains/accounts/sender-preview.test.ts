import { beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe.each(testDialects)('sender personalisation preview on %s', (dialect) => {
  const testApp = useTestApp(dialect);
  let rep: SignedIn;
  let outsider: SignedIn;
  let contactId: string;
  const call = (path: string, body: unknown, as: SignedIn = rep) =>
    request<Body>(testApp.current.baseUrl, 'POST', path, { token: as.token, body });
  const sender = {
    email: 'sales@acme.test',
    displayName: 'Acme Sales',
    fromNameTemplate: '{{contact.owner.name}} at Acme',
    replyToNameTemplate: '{{contact.fields.region}} desk',
  };

  beforeAll(async () => {
    rep = await signUp(testApp.current.container, { org: 'Previewers' });
    outsider = await signUp(testApp.current.container, { org: 'Other previewers' });
    const renamed = await request<Body>(testApp.current.baseUrl, 'PATCH', `/api/users/${rep.userId}`, {
      token: rep.token,
      body: { name: 'Olivia Owner' },
    });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    const contact = await call('/api/contacts', {
      email: 'ada@customer.test',
      name: 'Ada',
      ownerId: rep.userId,
      fields: { region: 'EMEA' },
    });
    expect(contact.status).toBe(201);
    contactId = contact.body.id as string;
  });

  it('shows From and Reply-To as the chosen contact would see them, from settings not yet saved', async () => {
    const preview = await call('/api/accounts/sender-preview', { ...sender, contactId });
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body).toEqual({
      from: { name: 'Olivia Owner at Acme', address: 'sales@acme.test' },
      replyTo: { name: 'EMEA desk', address: 'sales@acme.test' },
    });
  });

  it('falls back to the account’s own names where the card cannot fill a template', async () => {
    const preview = await call('/api/accounts/sender-preview', {
      ...sender,
      replyTo: 'help@acme.test',
      replyToName: 'Acme Help',
      replyToNameTemplate: '{{contact.fields.missing}} desk',
      contactId,
    });
    expect(preview.body.replyTo).toEqual({ name: 'Acme Help', address: 'help@acme.test' });
  });

  it('names a broken template, and does not find another organisation’s contact', async () => {
    const broken = await call('/api/accounts/sender-preview', {
      ...sender,
      fromNameTemplate: '{{contact.nickname}}',
      contactId,
    });
    expect(broken.status).toBe(400);
    expect(Object.keys(broken.body.error.fields)).toEqual(['fromNameTemplate']);
    const elsewhere = await call('/api/accounts/sender-preview', { ...sender, contactId }, outsider);
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.body.error.code).toBe('CONTACT_NOT_FOUND');
  });
});
