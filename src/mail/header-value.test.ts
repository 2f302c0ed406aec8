import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BREAKING_CHARACTERS,
  breakingCharacter as breaking,
  hostileHeaderText,
} from '../../test/support/hostile-text.ts';
import { headerSafePattern, headerText, isHeaderName, isHeaderSafe } from './header-value.ts';

describe('the header sanitiser', () => {
  it.each(BREAKING_CHARACTERS)('refuses and replaces %s', (_name, character) => {
    const value = `Ada${character}Bcc: everyone@example.test`;
    expect(isHeaderSafe(value)).toBe(false);
    expect(new RegExp(headerSafePattern, 'u').test(value)).toBe(false);
    expect(headerText(value)).toBe('Ada Bcc: everyone@example.test');
  });

  it('leaves ordinary text, other scripts and emoji alone', () => {
    for (const value of ['Acme Sales', 'Jörg Müller – Vertrieb', '山田太郎', 'Ada 😀', 'a\u00a0b']) {
      expect(isHeaderSafe(value)).toBe(true);
      expect(headerText(value)).toBe(value);
    }
  });

  it('whatever the input: one line, nothing breaking, idempotent, same verdict as the pattern', () => {
    fc.assert(
      fc.property(fc.oneof(hostileHeaderText, fc.string({ unit: 'binary' })), (value) => {
        const text = headerText(value);
        expect(breaking.test(text)).toBe(false);
        expect(isHeaderSafe(text)).toBe(true);
        expect(headerText(text)).toBe(text);
        expect(isHeaderSafe(value)).toBe(new RegExp(headerSafePattern, 'u').test(value));
        expect(isHeaderSafe(value)).toBe(!breaking.test(value));
      }),
      { numRuns: 200 },
    );
  });

  it('knows a header field name', () => {
    expect(isHeaderName('X-Campaign')).toBe(true);
    expect(isHeaderName('List-Unsubscribe')).toBe(true);
    for (const name of ['', 'X-A:B', 'X A', 'X-\r\nBcc', 'X-ü', 'X-\u2028'])
      expect(isHeaderName(name)).toBe(false);
  });
});
