import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyMessage } from './index.ts';
import type { BounceVerdict } from './index.ts';
import { MAX_DEPTH, MAX_DIAGNOSTIC, MAX_MESSAGE_BYTES, MAX_PARTS, MAX_RECIPIENTS } from './limits.ts';
import { walkMessage } from './mime.ts';

const fixtureDir = new URL('./fixtures/', import.meta.url);
const fixtures = readdirSync(fixtureDir)
  .sort()
  .map((name) => readFileSync(new URL(name, fixtureDir)));
const CATEGORIES = ['bounce', 'autoreply', 'feedback', 'delivered', 'none'];

/** What every verdict must satisfy, whatever came in. */
function expectWellFormed(verdict: BounceVerdict): void {
  expect(CATEGORIES).toContain(verdict.category);
  expect(verdict.recipients.length).toBeLessThanOrEqual(MAX_RECIPIENTS);
  for (const recipient of verdict.recipients) {
    expect(recipient.diagnostic?.length ?? 0).toBeLessThanOrEqual(MAX_DIAGNOSTIC);
    expect([null, 'hard', 'soft']).toContain(recipient.bounceType);
  }
}

const fixture = fc.constantFrom(...fixtures);

function nested(depth: number, leaf: string): string {
  let body = leaf;
  for (let level = depth; level > 0; level -= 1) {
    body = [
      `Content-Type: multipart/mixed; boundary="b${level}"`,
      '',
      `--b${level}`,
      body,
      `--b${level}--`,
    ].join('\r\n');
  }
  return body;
}

const DSN_LEAF = [
  'Content-Type: message/delivery-status',
  '',
  'Final-Recipient: rfc822; deep@example.org',
  'Action: failed',
  'Status: 5.1.1',
].join('\r\n');

/** Tokens that make backtracking regular expressions blow up when repeated. */
const trippingToken = fc.constantFrom(
  'a',
  '@',
  '.',
  '-',
  '<',
  '>',
  ' ',
  '\t',
  '\n',
  ':',
  '=?',
  '?=',
  '550-',
  '5.1.1',
  '5.',
  'a@',
  'a.',
  '@a.',
  '<a@b.',
  'user unknown ',
  '--',
  '"',
  '\\',
  '&#',
  '<x ',
);
const trippingText = fc
  .tuple(fc.array(trippingToken, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 20_000 }))
  .map(([tokens, times]) => tokens.join('').repeat(times).slice(0, 200_000));

describe('hostile input ends in a verdict, never a crash', () => {
  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8192 }), (bytes) => {
        expectWellFormed(classifyMessage(Buffer.from(bytes)));
      }),
      { numRuns: 300 },
    );
  });

  it('truncated MIME: every notice cut anywhere', () => {
    fc.assert(
      fc.property(fixture, fc.nat(), (raw, cut) => {
        expectWellFormed(classifyMessage(raw.subarray(0, cut % (raw.length + 1))));
      }),
      { numRuns: 300 },
    );
  });

  it('an unknown charset label reads the same as no label', () => {
    fc.assert(
      fc.property(fixture, fc.stringMatching(/^x-[a-z]{1,12}$/), (raw, label) => {
        const relabelled = Buffer.from(
          raw.toString('latin1').replace(/charset="?[\w-]+"?/gi, `charset=${label}`),
          'latin1',
        );
        const unlabelled = Buffer.from(
          raw.toString('latin1').replace(/;\s*charset="?[\w-]+"?/gi, ''),
          'latin1',
        );
        expect(classifyMessage(relabelled)).toEqual(classifyMessage(unlabelled));
      }),
      { numRuns: 100 },
    );
  });

  it('wrong charsets, stateful ones included, on any bytes', () => {
    const charset = fc.constantFrom(
      'utf-16',
      'utf-16le',
      'iso-2022-jp',
      'shift_jis',
      'koi8-r',
      'utf-7',
      'us-ascii',
      '',
    );
    fc.assert(
      fc.property(fixture, charset, fc.uint8Array({ maxLength: 512 }), (raw, label, noise) => {
        const text = raw.toString('latin1').replace(/charset="?[\w-]+"?/gi, `charset=${label}`);
        expectWellFormed(classifyMessage(Buffer.concat([Buffer.from(text, 'latin1'), noise])));
      }),
      { numRuns: 200 },
    );
  });

  it('8-bit bytes in headers leave the failed recipients as they were', () => {
    const highBytes = fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .map((b) => Buffer.from(b.map((x) => x | 0x80)));
    fc.assert(
      fc.property(fixture, highBytes, (raw, junk) => {
        const withJunk = Buffer.concat([
          Buffer.from('X-Junk: '),
          junk,
          Buffer.from('\r\nComments: '),
          junk,
          Buffer.from('\r\n'),
          raw,
        ]);
        const addresses = (v: BounceVerdict): Array<string | null> => v.recipients.map((r) => r.address);
        const verdict = classifyMessage(withJunk);
        expectWellFormed(verdict);
        expect(addresses(verdict)).toEqual(addresses(classifyMessage(raw)));
      }),
      { numRuns: 100 },
    );
  });

  it('input built to trip regular expressions, in headers and in the body', () => {
    fc.assert(
      fc.property(trippingText, trippingText, (header, body) => {
        const raw = Buffer.from(
          `From: MAILER-DAEMON@example.org\r\nSubject: Undelivered ${header.replace(/\n/g, ' ')}\r\n` +
            `X-Failed-Recipients: ${header.replace(/\n/g, ' ')}\r\n\r\n${body}`,
          'latin1',
        );
        expectWellFormed(classifyMessage(raw));
      }),
      { numRuns: 40 },
    );
  });
});

describe('the work is bounded by construction', () => {
  it('walks at most MAX_PARTS parts and no deeper than MAX_DEPTH, however deep the nesting', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), (depth) => {
        const raw = Buffer.from(`From: MAILER-DAEMON@example.org\r\n${nested(depth, DSN_LEAF)}`);
        const { parts } = walkMessage(raw);
        expect(parts.length).toBeLessThanOrEqual(MAX_PARTS);
        expect(Math.max(...parts.map((p) => p.depth))).toBeLessThanOrEqual(MAX_DEPTH);
        expectWellFormed(classifyMessage(raw));
      }),
      { numRuns: 60 },
    );
  });

  it('walks at most MAX_PARTS parts, however wide the multipart', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), (width) => {
        const part = '--w\r\nContent-Type: text/plain\r\n\r\nx\r\n';
        const raw = Buffer.from(
          `Content-Type: multipart/mixed; boundary=w\r\n\r\n${part.repeat(width)}--w--\r\n`,
        );
        expect(walkMessage(raw).parts.length).toBeLessThanOrEqual(MAX_PARTS);
      }),
      { numRuns: 40 },
    );
  });

  it('reports at most MAX_RECIPIENTS recipients, however many the notice lists', () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `<user${i}@example.org>: 550 5.1.1 User unknown`);
    const raw = Buffer.from(
      `From: MAILER-DAEMON@example.org\r\nSubject: failure notice\r\n\r\n${lines.join('\r\n')}`,
    );
    const verdict = classifyMessage(raw);
    expect(verdict.category).toBe('bounce');
    expect(verdict.recipients).toHaveLength(MAX_RECIPIENTS);
  });

  it('a message larger than the cap gets the verdict of its first MAX_MESSAGE_BYTES', () => {
    fc.assert(
      fc.property(
        fixture,
        fc.integer({ min: 1, max: 2 * MAX_MESSAGE_BYTES }),
        fc.constantFrom('A', '\n', '-', '@'),
        (raw, extra, fill) => {
          const big = Buffer.concat([raw, Buffer.alloc(MAX_MESSAGE_BYTES + extra, fill)]);
          expect(classifyMessage(big)).toEqual(classifyMessage(big.subarray(0, MAX_MESSAGE_BYTES)));
        },
      ),
      { numRuns: 20 },
    );
  });

  it('a 50 MB message is classified like its head, and as the notice it starts with', () => {
    const notice = fixtures[0] as Buffer;
    const big = Buffer.concat([notice, Buffer.alloc(50 * 1024 * 1024, 'Z')]);
    const verdict = classifyMessage(big);
    expect(verdict).toEqual(classifyMessage(big.subarray(0, MAX_MESSAGE_BYTES)));
    expect(verdict).toEqual(classifyMessage(notice));
  });
});
