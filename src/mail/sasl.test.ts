import { describe, expect, it } from 'vitest';
import {
  chooseSpaMechanism,
  cramMd5Response,
  SaslError,
  saslPrep,
  scramClientFinal,
  scramClientFirst,
  scramServerVerified,
} from './sasl.ts';
import { cramMd5Response as smtpCramMd5Response } from './smtp-auth.ts';

/** RFC 7677 section 3: the SCRAM-SHA-256 example exchange. */
const rfc7677 = {
  user: 'user',
  pass: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

describe('SCRAM-SHA-256', () => {
  it('computes the RFC 7677 example exchange and verifies the server’s signature', async () => {
    const first = scramClientFirst(rfc7677.user, rfc7677.clientNonce);
    expect(first.message).toBe(rfc7677.clientFirst);

    const final = await scramClientFinal(first, rfc7677.pass, rfc7677.serverFirst);
    expect(final.message).toBe(rfc7677.clientFinal);
    expect(scramServerVerified(final, rfc7677.serverFinal)).toBe(true);
  });

  it('refuses a server signature computed without the password', async () => {
    const first = scramClientFirst(rfc7677.user, rfc7677.clientNonce);
    const final = await scramClientFinal(first, 'not pencil', rfc7677.serverFirst);
    expect(scramServerVerified(final, rfc7677.serverFinal)).toBe(false);
    expect(scramServerVerified(final, 'v=')).toBe(false);
  });

  it('makes a fresh nonce each time and escapes "," and "=" in the user name', () => {
    const a = scramClientFirst('a,b=c');
    const b = scramClientFirst('a,b=c');
    expect(a.message).toMatch(/^n,,n=a=2Cb=3Dc,r=[A-Za-z0-9+/=]{24}$/);
    expect(a.bare).toBe(a.message.slice(3));
    expect(a.nonce).not.toBe(b.nonce);
  });

  it('refuses a server-first message it cannot trust or afford', async () => {
    const first = scramClientFirst(rfc7677.user, rfc7677.clientNonce);
    const refused = (serverFirst: string) =>
      expect(scramClientFinal(first, rfc7677.pass, serverFirst)).rejects.toBeInstanceOf(SaslError);
    await refused('r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    await refused(`r=${rfc7677.clientNonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`);
    await refused(`r=${rfc7677.clientNonce}x,s=,i=4096`);
    await refused(`r=${rfc7677.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100000000`);
    await refused(`r=${rfc7677.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=many`);
    await refused(`m=ext,r=${rfc7677.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`);
    await refused('not a scram message');
  });

  it('reports a server-final error attribute as an error', async () => {
    const first = scramClientFirst(rfc7677.user, rfc7677.clientNonce);
    const final = await scramClientFinal(first, rfc7677.pass, rfc7677.serverFirst);
    expect(() => scramServerVerified(final, 'e=invalid-proof')).toThrow(/invalid-proof/);
  });

  it('prepares strings with SASLprep’s mapping and NFKC, leaving ASCII alone', () => {
    expect(saslPrep('pencil')).toBe('pencil');
    expect(saslPrep('I\u00ADX')).toBe('IX');
    expect(saslPrep('a\u00A0b')).toBe('a b');
    expect(saslPrep('\uFF50\uFF41ss')).toBe('pass');
    expect(saslPrep('pa\u0308sswo\u0308rd')).toBe('pässwörd');
  });
});

describe('CRAM-MD5', () => {
  it('answers the RFC 2195 example challenge', () => {
    const challenge = Buffer.from('<1896.697170952@postoffice.reston.mci.net>').toString('base64');
    const response = cramMd5Response('tim', 'tanstaaftanstaaf', challenge);
    expect(Buffer.from(response, 'base64').toString()).toBe('tim b913a602c7eda7a495b4e6e7334d3890');
    // SMTP hands over its "334 " reply whole
    expect(smtpCramMd5Response('tim', 'tanstaaftanstaaf', `334 ${challenge}`)).toBe(response);
  });
});

describe('chooseSpaMechanism', () => {
  it('prefers SCRAM-SHA-256, then CRAM-MD5, and never picks a mechanism that sends the password', () => {
    expect(chooseSpaMechanism(['PLAIN', 'CRAM-MD5', 'SCRAM-SHA-256'])).toBe('SCRAM-SHA-256');
    expect(chooseSpaMechanism(['plain', 'cram-md5', 'SCRAM-SHA-1'])).toBe('CRAM-MD5');
    expect(chooseSpaMechanism(['PLAIN', 'LOGIN', 'XOAUTH2', 'SCRAM-SHA-1'])).toBeNull();
    expect(chooseSpaMechanism([])).toBeNull();
  });
});
