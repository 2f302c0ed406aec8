import { simpleParser } from 'mailparser';
import type { AddressObject } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { composeMessage, newMessageId } from './compose.ts';
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
