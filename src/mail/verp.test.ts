import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newId } from '../db/ids.ts';
import { buildKeyring } from '../secrets/keyring.ts';
import { verpKeys } from '../secrets/derived.ts';
import {
  envelopeIdFor,
  parseEnvelopeId,
  parseUnsubscribeToken,
  parseVerpAddress,
  parseVerpToken,
  unsubscribeToken,
  verpAddress,
} from './verp.ts';
import { findVerpToken } from '../bounces/classify/verp.ts';

const domain = 'bounces.example.com';

describe('VERP addresses', () => {
  const key = randomBytes(32);
  const id = newId();

  it('names the recipient in a lower-case local part of at most 64 characters, which verifies', () => {
    const address = verpAddress(id, 'Bounces.Example.COM', key);
    expect(address).toMatch(/^bounces\+[0-9a-f]{48}@bounces\.example\.com$/);
    expect(address.split('@')[0]!.length).toBeLessThanOrEqual(64);
    expect(address).toContain(id.replaceAll('-', ''));
    expect(parseVerpAddress(address, domain, [key])).toEqual({ recipientId: id });
  });

  it('is read whatever the case, with angle brackets, and on the domain written with a final dot', () => {
    const address = verpAddress(id, domain, key);
    expect(parseVerpAddress(address.toUpperCase(), domain, [key])).toEqual({ recipientId: id });
    expect(parseVerpAddress(`<${address}>`, 'BOUNCES.example.com.', [key])).toEqual({ recipientId: id });
  });

  it('is the token the bounce classifier finds in a notice', () => {
    const address = verpAddress(id, domain, key);
    const headers = new Map([['x-original-to', [address]]]);
    const token = findVerpToken(headers, null);
    expect(address).toBe(`bounces+${token}@${domain}`);
  });

  it('refuses a forged or altered token, another domain, another shape and another key', () => {
    const address = verpAddress(id, domain, key);
    const [local] = address.split('@') as [string];
    const flip = (text: string, at: number) =>
      text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1);
    expect(parseVerpAddress(`${flip(local, local.length - 1)}@${domain}`, domain, [key])).toBeNull();
    // another recipient's id under this recipient's signature
    expect(parseVerpAddress(`${flip(local, 10)}@${domain}`, domain, [key])).toBeNull();
    expect(parseVerpAddress(`${local}@other.example.com`, domain, [key])).toBeNull();
    expect(parseVerpAddress(`${local}x@${domain}`, domain, [key])).toBeNull();
    expect(parseVerpAddress(`${local.replace('bounces+', 'bounce-')}@${domain}`, domain, [key])).toBeNull();
    expect(parseVerpAddress(domain, domain, [key])).toBeNull();
    expect(parseVerpAddress(address, domain, [randomBytes(32)])).toBeNull();
    expect(parseVerpAddress(address, domain, [])).toBeNull();
  });

  it('still verifies with a previous key after a rotation', () => {
    const old = buildKeyring([randomBytes(32)], { kind: 'env' }, 'test');
    const rotated = buildKeyring([randomBytes(32), old.current.key.export()], { kind: 'env' }, 'test');
    const [oldKey] = verpKeys(old) as [Buffer];
    const address = verpAddress(id, domain, oldKey);
    expect(verpKeys(rotated)).toHaveLength(2);
    expect(verpKeys(rotated)[1]!.equals(oldKey)).toBe(true);
    expect(parseVerpAddress(address, domain, verpKeys(rotated))).toEqual({ recipientId: id });
    expect(parseVerpAddress(address, domain, verpKeys(rotated).slice(0, 1))).toBeNull();
  });

  it('derives a key of its own, not the encryption key itself', () => {
    const keyring = buildKeyring([randomBytes(32)], { kind: 'env' }, 'test');
    const [derived] = verpKeys(keyring) as [Buffer];
    expect(derived).toHaveLength(32);
    expect(derived.equals(keyring.current.key.export())).toBe(false);
    expect(verpKeys(keyring)[0]!.equals(derived)).toBe(true);
  });

  it('refuses to sign what is not a recipient id', () => {
    expect(() => verpAddress('not-a-uuid', domain, key)).toThrow(/Not a message or recipient id/);
  });
});

describe('unsubscribe tokens', () => {
  const key = randomBytes(32);
  const id = newId();

  it('name the recipient and verify, also upper-cased', () => {
    const token = unsubscribeToken(id, key);
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    expect(parseUnsubscribeToken(token, [key])).toEqual({ recipientId: id });
    expect(parseUnsubscribeToken(token.toUpperCase(), [randomBytes(32), key])).toEqual({ recipientId: id });
  });

  it('are not VERP tokens, nor the other way round', () => {
    const token = unsubscribeToken(id, key);
    expect(parseVerpAddress(`bounces+${token}@${domain}`, domain, [key])).toBeNull();
    const verpToken = verpAddress(id, domain, key).slice('bounces+'.length).split('@')[0]!;
    expect(parseUnsubscribeToken(verpToken, [key])).toBeNull();
  });

  it('refuse a forgery, another key and anything else', () => {
    const token = unsubscribeToken(id, key);
    expect(
      parseUnsubscribeToken(`${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`, [key]),
    ).toBeNull();
    expect(parseUnsubscribeToken(token, [randomBytes(32)])).toBeNull();
    expect(parseUnsubscribeToken('', [key])).toBeNull();
    expect(parseUnsubscribeToken(`${token}0`, [key])).toBeNull();
  });
});

describe('ENVIDs', () => {
  const key = randomBytes(32);
  const messageId = newId();

  it('name the message in 48 hex characters, which an RFC 3461 xtext carries as they are', () => {
    const envelopeId = envelopeIdFor(messageId, key);
    expect(envelopeId).toMatch(/^[0-9a-f]{48}$/);
    expect(parseEnvelopeId(` ${envelopeId.toUpperCase()} `, [randomBytes(32), key])).toEqual({ messageId });
  });

  it('are neither VERP nor unsubscribe tokens, and a forgery or another key is refused', () => {
    const envelopeId = envelopeIdFor(messageId, key);
    expect(parseVerpToken(envelopeId, [key])).toBeNull();
    expect(parseUnsubscribeToken(envelopeId, [key])).toBeNull();
    expect(parseEnvelopeId(unsubscribeToken(messageId, key), [key])).toBeNull();
    expect(parseEnvelopeId(envelopeId, [randomBytes(32)])).toBeNull();
    expect(
      parseEnvelopeId(`${envelopeId.slice(0, -1)}${envelopeId.endsWith('0') ? '1' : '0'}`, [key]),
    ).toBeNull();
  });
});
