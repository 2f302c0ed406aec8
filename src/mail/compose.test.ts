import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import type { AddressObject } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { describe, expect, it } from 'vitest';
import {
  BREAKING_CHARACTERS,
  breakingCharacter,
  hostileHeaderText,
} from '../../test/support/hostile-text.ts';
import { composeMessage, newMessageId } from './compose.ts';
import { headerText } from './header-value.ts';
import type { ComposeInput } from './compose.ts';

function input(overrides: Partial<ComposeInput> = {}): ComposeInput {
  return {
    from: { name: 'Ada Lovelace', address: 'ada@example.test' },
    replyTo: { name: null, address: 'replies@example.test' },
    to: [
      { name: 'Bob', address: 'bob@example.test' },
      { name: null, address: 'carol@example.test' },
    ],
    cc: [{ name: 'Dan', address: 'dan@example.test' }],
    bcc: [{ name: 'Secret Eve', address: 'eve@example.test' }],
    subject: 'Quarterly figures – draft',
    text: 'Hello Bob,\nthe figures are attached.',
    html: '<p>Hello Bob,<br>the figures are <b>attached</b>.</p>',
    attachments: [
      { filename: 'figures.csv', contentType: 'text/csv', content: Buffer.from('q,revenue\n1,100\n') },
    ],
    headers: { 'X-Campaign': 'spring' },
    messageId: '<abc123@example.test>',
    date: new Date('2025-03-04T05:06:07Z'),
    ...overrides,
  };
}

const addresses = (field: AddressObject | AddressObject[] | undefined) =>
  [field ?? []].flat().flatMap((a) => a.value.map((v) => ({ name: v.name, address: v.address })));

describe('composeMessage', () => {
  it('writes a message a mail client reads back field for field', async () => {
    const raw = await composeMessage(input());
    const parsed = await simpleParser(raw);

    expect(addresses(parsed.from)).toEqual([{ name: 'Ada Lovelace', address: 'ada@example.test' }]);
    expect(addresses(parsed.replyTo)).toEqual([{ name: '', address: 'replies@example.test' }]);
    expect(addresses(parsed.to)).toEqual([
      { name: 'Bob', address: 'bob@example.test' },
      { name: '', address: 'carol@example.test' },
    ]);
    expect(addresses(parsed.cc)).toEqual([{ name: 'Dan', address: 'dan@example.test' }]);
    expect(parsed.subject).toBe('Quarterly figures – draft');
    expect(parsed.text?.trim()).toBe('Hello Bob,\nthe figures are attached.');
    expect(parsed.html).toContain('<b>attached</b>');
    expect(parsed.messageId).toBe('<abc123@example.test>');
    expect(parsed.date?.toISOString()).toBe('2025-03-04T05:06:07.000Z');
    expect(parsed.headers.get('x-campaign')).toBe('spring');
    expect(parsed.attachments.map((a) => [a.filename, a.contentType, a.content.toString()])).toEqual([
      ['figures.csv', 'text/csv', 'q,revenue\n1,100\n'],
    ]);
  });

  it('never writes Bcc recipients into the message', async () => {
    const raw = await composeMessage(input());
    const parsed = await simpleParser(raw);

    expect(parsed.bcc).toBeUndefined();
    expect(raw.toString()).not.toContain('eve@example.test');
    expect(raw.toString()).not.toContain('Secret Eve');
  });

  it('leaves out Reply-To, Cc, and the bodies that are not given', async () => {
    const raw = await composeMessage(input({ replyTo: null, cc: [], html: null, attachments: [] }));
    const parsed = await simpleParser(raw);

    expect(parsed.replyTo).toBeUndefined();
    expect(parsed.cc).toBeUndefined();
    expect(parsed.html).toBe(false);
    expect(parsed.text?.trim()).toBe('Hello Bob,\nthe figures are attached.');
  });
});

describe('newMessageId', () => {
  it('is <random@the sender’s domain>, lower-cased, and different every time', () => {
    const first = newMessageId('Ada@Example.TEST');
    const second = newMessageId('ada@example.test');

    expect(first).toMatch(/^<[a-z0-9.]+@example\.test>$/);
    expect(second).not.toBe(first);
  });

  it('writes an internationalised domain in ASCII', () => {
    expect(newMessageId('jörg@bücher.example')).toMatch(/@xn--bcher-kva\.example>$/);
  });
});

/**
 * The header block as a receiving server reads it: the bytes up to the first empty line, every
 * line ended by CRLF, continuation lines joined to the field they continue.
 */
function headerFields(raw: Buffer): { name: string; value: string }[] {
  const end = raw.indexOf('\r\n\r\n');
  const block = raw.subarray(0, end).toString('latin1');
  // Only printable ASCII, space and tab between the CRLFs: no bare CR or LF, no NUL, no 8-bit byte.
  expect(block).toMatch(/^[\x20-\x7e\t\r\n]*$/);
  const lines = block.split('\r\n');
  for (const line of lines) expect(line).not.toMatch(/[\r\n]/);
  const fields: { name: string; value: string }[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line)) fields[fields.length - 1]!.value += line;
    else {
      const colon = line.indexOf(':');
      expect(colon).toBeGreaterThan(0);
      fields.push({ name: line.slice(0, colon), value: line.slice(colon + 1) });
    }
  }
  return fields;
}

const EXPECTED_FIELDS = [
  'Cc',
  'Content-Type',
  'Date',
  'From',
  'MIME-Version',
  'Message-ID',
  'Reply-To',
  'Subject',
  'To',
  'X-Campaign',
];

/** Every value the header sanitiser guards, set to the same hostile text. */
function hostileInput(value: string): ComposeInput {
  return input({
    from: { name: value, address: 'ada@example.test' },
    replyTo: { name: value, address: 'replies@example.test' },
    to: [{ name: value, address: 'bob@example.test' }],
    cc: [{ name: value, address: 'dan@example.test' }],
    subject: value,
    headers: { 'X-Campaign': value },
    attachments: [{ filename: value, contentType: 'text/plain', content: Buffer.from('x') }],
  });
}

async function expectNoInjection(raw: Buffer, value: string): Promise<void> {
  const fields = headerFields(raw);
  // nodemailer leaves out a header whose value is blank (as the sanitised text may be).
  const blank = headerText(value).trim() === '';
  const expected = EXPECTED_FIELDS.filter((name) => !blank || !['Subject', 'X-Campaign'].includes(name));
  expect(fields.map((field) => field.name).sort()).toEqual(expected);
  const parsed = await simpleParser(raw);
  // Read back, decoded (encoded words and all): not one breaking character in any value.
  const decoded = [
    parsed.subject ?? '',
    ...addresses(parsed.from).map((a) => a.name),
    ...addresses(parsed.replyTo).map((a) => a.name),
    ...addresses(parsed.to).map((a) => a.name),
    ...addresses(parsed.cc).map((a) => a.name),
    String(parsed.headers.get('x-campaign') ?? ''),
    ...parsed.attachments.map((a) => a.filename ?? ''),
  ];
  for (const value of decoded) expect(value).not.toMatch(breakingCharacter);
  expect(parsed.headers.has('bcc')).toBe(false);
  expect(parsed.headers.has('x-injected')).toBe(false);
  expect(addresses(parsed.to).map((a) => a.address)).toEqual(['bob@example.test']);
  expect(parsed.attachments).toHaveLength(1);
}

describe('header injection', () => {
  it('nodemailer alone writes no new header line, but a reader decodes NUL and U+2028 back out of it', async () => {
    // Why the sanitiser is in the path at all: nodemailer turns CR and LF into spaces and MIME-encodes
    // the other controls and non-ASCII, so no header is added, yet the encoded word carries the
    // character to whatever reads the header.
    const raw = await new MailComposer({
      from: 'ada@example.test',
      to: 'bob@example.test',
      subject: 'Hello\r\nBcc: everyone@evil.test\u0000 and\u2028X-Injected: yes',
      text: 'hi',
    })
      .compile()
      .build();
    const fields = headerFields(raw);
    expect(fields.map((field) => field.name)).not.toContain('Bcc');
    expect(fields.map((field) => field.name)).not.toContain('X-Injected');
    const subject = (await simpleParser(raw)).subject ?? '';
    expect(subject).toContain('\u0000');
    expect(subject).toContain('\u2028');
  });

  it.each(BREAKING_CHARACTERS)(
    '%s in every display name, the subject, reply-to, a custom header and a file name adds no header',
    async (_name, character) => {
      const value = `Eve${character}Bcc: everyone@evil.test${character}`;
      const raw = await composeMessage(hostileInput(value));
      await expectNoInjection(raw, value);
      const parsed = await simpleParser(raw);
      expect(parsed.subject).toBe('Eve Bcc: everyone@evil.test');
      expect(addresses(parsed.from)).toEqual([
        { name: 'Eve Bcc: everyone@evil.test', address: 'ada@example.test' },
      ]);
    },
  );

  it('whatever the text, the header block has exactly the fields it should', async () => {
    await fc.assert(
      fc.asyncProperty(hostileHeaderText, async (value) => {
        await expectNoInjection(await composeMessage(hostileInput(value)), value);
      }),
      { numRuns: 150 },
    );
  });

  it('an address carrying a line break stays one address in one header', async () => {
    const raw = await composeMessage(
      input({ to: [{ name: null, address: 'bob@example.test\r\nBcc: everyone@evil.test' }], cc: [] }),
    );
    const names = headerFields(raw).map((field) => field.name);
    expect(names).not.toContain('Bcc');
    expect(names.filter((name) => name === 'To')).toHaveLength(1);
  });

  it('an encoded word written out literally is no header line either (a reader decodes it, as RFC 2047 says)', async () => {
    const raw = await composeMessage(hostileInput('=?utf-8?q?x=0D=0ABcc:_everyone@evil.test?='));
    const names = headerFields(raw).map((field) => field.name);
    expect(names.sort()).toEqual(EXPECTED_FIELDS);
  });

  it('refuses a header name that is no field name', async () => {
    await expect(composeMessage(input({ headers: { 'X-A\r\nBcc': 'x' } }))).rejects.toThrow(
      /not a header field name/,
    );
  });

  it('writes an object header value as text, never as a raw "prepared" header', async () => {
    const prepared = { prepared: true, value: 'x\r\nBcc: everyone@evil.test' } as unknown as string;
    const raw = await composeMessage(input({ headers: { 'X-Campaign': prepared } }));
    expect(headerFields(raw).map((field) => field.name)).not.toContain('Bcc');
  });
});
