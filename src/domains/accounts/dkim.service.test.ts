import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { verifyDkim } from '../../../test/support/dkim.ts';
import { describe, expect, it } from 'vitest';
import { testDialects, useTestDatabase } from '../../../test/support/dialects.ts';
import { composeMessage } from '../../mail/compose.ts';
import { signMessage, type DkimDnsRecord } from '../../mail/dkim.ts';
import { encryptSecret } from '../../secrets/cipher.ts';
import { buildKeyring, type Keyring } from '../../secrets/keyring.ts';
import { rotateSecrets } from '../../secrets/rotate.ts';
import { createDkimService, normalizeDkimDomain } from './dkim.service.ts';

const newKeyring = (...previous: Keyring[]): Keyring =>
  buildKeyring(
    [randomBytes(32), ...previous.map((keyring) => keyring.current.key.export())],
    { kind: 'env' },
    'test keys',
  );

function message(from: string): Promise<Buffer> {
  return composeMessage({
    from: { name: 'News', address: from },
    replyTo: null,
    to: [{ name: null, address: 'bob@example.org' }],
    cc: [],
    bcc: [],
    subject: 'Offers',
    text: 'Hello',
    html: null,
    attachments: [],
    headers: {},
    messageId: `<1@${from.split('@')[1]}>`,
    date: new Date('2025-03-04T05:06:07Z'),
  });
}

async function verifiesAgainst(signed: Buffer, record: DkimDnsRecord): Promise<string> {
  return (await verifyDkim(signed, [record]))[0]!.status.result;
}

describe('normalizeDkimDomain', () => {
  it('lower-cases, drops a trailing dot and writes internationalised names as A-labels', () => {
    expect(normalizeDkimDomain(' News.Example.COM. ')).toBe('news.example.com');
    expect(normalizeDkimDomain('bücher.example')).toBe('xn--bcher-kva.example');
    expect(normalizeDkimDomain('a-b.co.uk')).toBe('a-b.co.uk');
  });

  it('refuses what is not a domain name', () => {
    for (const bad of [
      '',
      'localhost',
      'example',
      '192.0.2.1',
      'user@example.com',
      'https://example.com',
      'exa mple.com',
      '-example.com',
      'example-.com',
      'ex_ample.com',
      'example..com',
      `${'a'.repeat(64)}.com`,
      `${'a.'.repeat(127)}com`,
      'example.com\r\nX-Injected: 1',
    ]) {
      expect(normalizeDkimDomain(bad), bad).toBeNull();
    }
  });
});

describe.each(testDialects)('the DKIM service on %s', (dialect) => {
  const database = useTestDatabase(dialect);
  const keyring = newKeyring();
  let clock = new Date('2025-01-02T03:04:05.000Z');
  const service = (ring: Keyring = keyring) =>
    createDkimService({ db: database.current.db, keyring: ring, now: () => clock });
  const storedRow = (domain: string) =>
    database.current.db
      .selectFrom('dkim_keys')
      .selectAll()
      .where('domain', '=', domain)
      .executeTakeFirstOrThrow();

  it('generates a key whose signatures verify against the record it returns', async () => {
    const dkim = service();
    const generated = await dkim.generate('News.Example.test');
    expect(generated).toMatchObject({
      domain: 'news.example.test',
      selector: 'mailroom',
      createdAt: '2025-01-02T03:04:05.000Z',
      replaced: null,
      record: { name: 'mailroom._domainkey.news.example.test' },
    });
    expect(generated.record.value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
    expect(JSON.stringify(generated)).not.toContain('PRIVATE KEY');
    expect(await dkim.record('news.example.test')).toEqual(generated.record);

    const signer = await dkim.signerFor('NEWS.example.test');
    expect(signer).toMatchObject({ domain: 'news.example.test', selector: 'mailroom' });
    const signed = await signMessage(await message('hello@news.example.test'), signer!);
    expect(await verifiesAgainst(signed, generated.record)).toBe('pass');
  });

  it('stores the private key encrypted, bound to its domain, and never shows it', async () => {
    const dkim = service();
    await dkim.generate('bound.example.test', 's1');
    const row = await storedRow('bound.example.test');
    expect(row.private_key).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(row.private_key).not.toContain('PRIVATE KEY');
    expect(row.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----/);

    const signer = await dkim.signerFor('bound.example.test');
    expect(inspect(signer)).not.toMatch(/PRIVATE KEY|MII/);
    expect(JSON.stringify(signer)).not.toMatch(/PRIVATE KEY|MII/);

    // The ciphertext pasted onto another domain's row does not decrypt there.
    await dkim.generate('other.example.test', 's1');
    await database.current.db
      .updateTable('dkim_keys')
      .set({ private_key: row.private_key })
      .where('domain', '=', 'other.example.test')
      .execute();
    await expect(dkim.signerFor('other.example.test')).rejects.toMatchObject({ code: 'SECRET_UNREADABLE' });
  });

  it('replaces the key of a domain that has one, and says which it replaced', async () => {
    const dkim = service();
    clock = new Date('2025-02-01T00:00:00.000Z');
    const first = await dkim.generate('replace.example.test');
    clock = new Date('2025-03-01T00:00:00.000Z');
    const second = await dkim.generate('replace.example.test', 'S2025');
    expect(second).toMatchObject({
      selector: 's2025',
      createdAt: '2025-03-01T00:00:00.000Z',
      replaced: { selector: 'mailroom', createdAt: '2025-02-01T00:00:00.000Z' },
      record: { name: 's2025._domainkey.replace.example.test' },
    });
    expect(second.record.value).not.toBe(first.record.value);
    expect(await dkim.record('replace.example.test')).toEqual(second.record);
    const rows = await database.current.db
      .selectFrom('dkim_keys')
      .select('domain')
      .where('domain', '=', 'replace.example.test')
      .execute();
    expect(rows).toHaveLength(1);

    const signed = await signMessage(
      await message('a@replace.example.test'),
      (await dkim.signerFor('replace.example.test'))!,
    );
    expect(await verifiesAgainst(signed, second.record)).toBe('pass');
  });

  it('answers null for a domain without a key, or that is no domain', async () => {
    const dkim = service();
    expect(await dkim.signerFor('nokey.example.test')).toBeNull();
    expect(await dkim.record('nokey.example.test')).toBeNull();
    expect(await dkim.signerFor('not a domain')).toBeNull();
    expect(await dkim.record('')).toBeNull();
  });

  it('refuses a bad domain or selector with every bad field named, and stores nothing', async () => {
    const dkim = service();
    const before = await database.current.db.selectFrom('dkim_keys').select('domain').execute();
    await expect(dkim.generate('not a domain')).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { fields: { domain: 'must be a domain name such as example.com' } },
    });
    await expect(dkim.generate('http://example.com', 'bad_selector')).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { fields: { domain: expect.any(String), selector: expect.any(String) } },
    });
    await expect(
      dkim.generate(`${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.test`, 'x'.repeat(63)),
    ).rejects.toMatchObject({ details: { fields: { selector: expect.stringContaining('too long') } } });
    expect(await database.current.db.selectFrom('dkim_keys').select('domain').execute()).toEqual(before);
  });

  it('gives its keys to `secrets rotate`: re-encrypted under the new key, still signing', async () => {
    const oldRing = newKeyring();
    const old = service(oldRing);
    const generated = await old.generate('rotate.example.test');
    const newRing = newKeyring(oldRing, keyring);
    const dkim = service(newRing);

    const result = await rotateSecrets(dkim.secretStore(), newRing);
    // Only the row an earlier test pasted another domain's ciphertext onto is unreadable.
    expect(result.unreadable).toEqual(['other.example.test']);
    expect(result.rotated).toBeGreaterThanOrEqual(1);
    expect((await storedRow('rotate.example.test')).private_key).toContain(`.${newRing.current.id}.`);

    const onlyNew = buildKeyring([newRing.current.key.export()], { kind: 'env' }, 'test keys');
    const signer = await service(onlyNew).signerFor('rotate.example.test');
    const signed = await signMessage(await message('a@rotate.example.test'), signer!);
    expect(await verifiesAgainst(signed, generated.record)).toBe('pass');

    // A compare-and-set that lost the race changes nothing.
    const row = await storedRow('rotate.example.test');
    expect(await dkim.secretStore().replace('rotate.example.test', 'stale', 'next')).toBe(false);
    const rewritten = encryptSecret(onlyNew, 'x', 'rotate.example.test');
    expect(await dkim.secretStore().replace('rotate.example.test', row.private_key, rewritten)).toBe(true);
  });
});
