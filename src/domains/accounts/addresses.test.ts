import { describe, expect, it } from 'vitest';
import { isHeaderSafe, isMailboxAddress } from './addresses.ts';

describe('mailbox addresses (RFC 5322 addr-spec, internationalised)', () => {
  it.each([
    'sales@acme.test',
    'first.last+tag@sub.acme.test',
    "o'brien@acme.test",
    '"quoted local"@acme.test',
    '用户@例子.广告',
    'jörg@bücher.de',
    'postmaster@[192.0.2.1]',
    'x@localhost',
  ])('accepts %s', (address) => {
    expect(isMailboxAddress(address)).toBe(true);
  });

  it.each([
    '',
    'no-at-sign',
    'two@@acme.test',
    '.lead@acme.test',
    'trail.@acme.test',
    'dou..ble@acme.test',
    'space in@acme.test',
    'Sales <sales@acme.test>',
    'sales@acme.test\r\nBcc: x@y.test',
    'sales@-acme.test',
    'sales@acme-.test',
    'sales@acme..test',
    `${'a'.repeat(65)}@acme.test`,
    `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(63)}.test`,
  ])('refuses %j', (address) => {
    expect(isMailboxAddress(address)).toBe(false);
  });

  it('refuses control characters in header values', () => {
    expect(isHeaderSafe('Acme Sales')).toBe(true);
    expect(isHeaderSafe('Acme\r\nBcc: x@y.test')).toBe(false);
    expect(isHeaderSafe('tab\there')).toBe(false);
    expect(isHeaderSafe('del\u007f')).toBe(false);
  });
});
