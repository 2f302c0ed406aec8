import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { verifyDkim } from '../../test/support/dkim.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { composeMessage } from './compose.ts';
import {
  dkimSignedHeaders,
  dnsTxtRecord,
  generateDkimKey,
  signMessage,
  txtStrings,
  zoneFileLine,
  type DkimDnsRecord,
  type DkimKeyPair,
} from './dkim.ts';

const domain = 'news.example.test';
const selector = 'mailroom';

function marketingMessage(overrides: { text?: string } = {}): Promise<Buffer> {
  return composeMessage({
    from: { name: 'Example News', address: 'hello@news.example.test' },
    replyTo: { name: null, address: 'replies@news.example.test' },
    to: [{ name: 'Bob', address: 'bob@example.org' }],
    cc: [{ name: null, address: 'carol@example.org' }],
    bcc: [],
    subject: 'Spring offers – 20% off',
    text: overrides.text ?? 'Hello Bob,\nour spring offers are here.',
    html: '<p>Hello Bob,<br>our spring offers are <b>here</b>.</p>',
    attachments: [],
    headers: {
      'List-Unsubscribe': '<https://mailroom.example.test/u/abc>, <mailto:unsubscribe@news.example.test>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
    messageId: '<spring.1@news.example.test>',
    date: new Date('2025-03-04T05:06:07Z'),
  });
}

/** The headers of a message, unfolded, by lower-case name. */
function headerOf(message: Buffer, name: string): string | undefined {
  const head = message
    .toString('latin1')
    .split('\r\n\r\n')[0]!
    .replace(/\r\n[ \t]/g, ' ');
  const line = head.split('\r\n').find((candidate) => candidate.toLowerCase().startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim();
}

describe('DKIM keys and their DNS record', () => {
  let key: DkimKeyPair;
  beforeAll(async () => {
    key = await generateDkimKey();
  });

  it('makes an RSA 2048 pair in PEM, PKCS#8 and SPKI', () => {
    expect(key.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(key.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const privateKey = createPrivateKey(key.privateKey);
    expect(privateKey.asymmetricKeyType).toBe('rsa');
    expect(privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }).toString()).toBe(
      key.publicKey,
    );
  });

  it('publishes the public key as a DKIM1 TXT record under the selector', () => {
    const record = dnsTxtRecord(selector, domain, key.publicKey);
    expect(record.name).toBe('mailroom._domainkey.news.example.test');
    const match = /^v=DKIM1; k=rsa; p=([A-Za-z0-9+/]+={0,2})$/.exec(record.value);
    expect(match).not.toBeNull();
    const der = Buffer.from(match![1]!, 'base64');
    expect(
      createPublicKey({ key: der, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }),
    ).toBe(key.publicKey);
  });

  it('splits a long value into strings of at most 255 characters for a zone file', () => {
    const record = dnsTxtRecord(selector, domain, key.publicKey);
    const strings = txtStrings(record.value);
    expect(strings.length).toBe(2);
    expect(strings.every((part) => part.length <= 255)).toBe(true);
    expect(strings.join('')).toBe(record.value);
    expect(zoneFileLine(record)).toBe(
      `mailroom._domainkey.news.example.test. IN TXT ( "${strings[0]}" "${strings[1]}" )`,
    );
    expect(txtStrings('v=DKIM1; k=rsa; p=short')).toEqual(['v=DKIM1; k=rsa; p=short']);
  });
});

describe('signMessage', () => {
  let key: DkimKeyPair;
  let record: DkimDnsRecord;
  beforeAll(async () => {
    key = await generateDkimKey();
    record = dnsTxtRecord(selector, domain, key.publicKey);
  });
  const signingKey = () => ({ domain, selector, privateKey: key.privateKey });

  it('prepends a relaxed/relaxed rsa-sha256 signature that a receiver verifies', async () => {
    const raw = await marketingMessage();
    const signed = await signMessage(raw, signingKey());

    expect(signed.toString('latin1')).toMatch(/^DKIM-Signature: /);
    expect(signed.subarray(signed.length - raw.length).equals(raw)).toBe(true);
    const signature = headerOf(signed, 'dkim-signature')!;
    expect(signature).toContain('a=rsa-sha256');
    expect(signature).toContain('c=relaxed/relaxed');
    expect(signature).toContain(`d=${domain}`);
    expect(signature).toContain(`s=${selector}`);
    const signedFields = /(?:^|;\s*)h=([^;]+)/.exec(signature)![1]!.replace(/\s/g, '').split(':');
    expect(signedFields).toEqual(dkimSignedHeaders.map((name) => name.toLowerCase()));

    const [result, ...others] = await verifyDkim(signed, [record]);
    expect(others).toEqual([]);
    expect(result).toMatchObject({
      signingDomain: domain,
      selector,
      status: { result: 'pass', aligned: domain },
    });
  });

  it('signs with a KeyObject too', async () => {
    const signed = await signMessage(await marketingMessage(), {
      ...signingKey(),
      privateKey: createPrivateKey(key.privateKey),
    });
    expect((await verifyDkim(signed, [record]))[0]!.status.result).toBe('pass');
  });

  it('survives what relaxed canonicalisation allows: refolded headers, trailing spaces', async () => {
    const signed = await signMessage(await marketingMessage(), signingKey());
    const rewritten = Buffer.from(
      signed
        .toString('latin1')
        .replace(/^Subject: /m, 'Subject:   ')
        .replace(/^(Cc: .*)$/m, '$1  '),
      'latin1',
    );
    expect(rewritten.equals(signed)).toBe(false);
    expect((await verifyDkim(rewritten, [record]))[0]!.status.result).toBe('pass');
  });

  it('fails verification when the body is altered', async () => {
    const signed = await signMessage(await marketingMessage(), signingKey());
    const tampered = Buffer.from(
      signed.toString('latin1').replace('spring offers are here', 'spring offers are gone'),
      'latin1',
    );
    expect(tampered.equals(signed)).toBe(false);
    const [result] = await verifyDkim(tampered, [record]);
    expect(result!.status.result).not.toBe('pass');
    expect(result!.status.comment).toMatch(/body hash/);
  });

  it('fails verification when a signed header is altered or the unsubscribe link swapped', async () => {
    const signed = (await signMessage(await marketingMessage(), signingKey())).toString('latin1');
    for (const tampered of [
      signed.replace('Spring_offers', 'Autumn_offers'),
      signed.replace('https://mailroom.example.test/u/abc', 'https://evil.example/u/abc'),
    ]) {
      expect(tampered).not.toBe(signed);
      expect((await verifyDkim(Buffer.from(tampered, 'latin1'), [record]))[0]!.status.result).toBe('fail');
    }
  });

  it('fails verification against another key published under the selector', async () => {
    const signed = await signMessage(await marketingMessage(), signingKey());
    const other = await generateDkimKey();
    expect(
      (await verifyDkim(signed, [dnsTxtRecord(selector, domain, other.publicKey)]))[0]!.status.result,
    ).toBe('fail');
  });

  it('refuses a key that cannot sign, rather than sending the message unsigned', async () => {
    const raw = await marketingMessage();
    await expect(signMessage(raw, { ...signingKey(), privateKey: 'not a key' })).rejects.toThrow(
      `the DKIM key for ${domain} is not a readable private key`,
    );
    const ed25519 = generateKeyPairSync('ed25519').privateKey;
    await expect(signMessage(raw, { ...signingKey(), privateKey: ed25519 })).rejects.toThrow(
      'is not an RSA private key',
    );
    await expect(signMessage(raw, { ...signingKey(), privateKey: key.publicKey })).rejects.toThrow(
      'is not a readable private key',
    );
    await expect(
      signMessage(raw, { ...signingKey(), privateKey: createPublicKey(key.publicKey) }),
    ).rejects.toThrow('is not an RSA private key');
  });
});
