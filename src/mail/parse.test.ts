import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentHash, headerBlock, parseMessage } from './parse.ts';
import type { ParsedMessage } from './parse.ts';

/** A message from lines, joined with CRLF (or `eol`). */
const mail = (lines: string[], eol = '\r\n') => Buffer.from(lines.join(eol));
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function parsed(raw: Buffer, options?: { maxTextBytes?: number }): Promise<ParsedMessage> {
  const outcome = await parseMessage(raw, options);
  if (!outcome.ok) throw new Error(`expected the message to parse: ${outcome.error}`);
  return outcome.message;
}

/** Deterministic pseudo-random bytes (xorshift), so a failure can be replayed. */
function junk(length: number, seed = 0x2545f491): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A multipart/alternative message: a quoted-printable UTF-8 text part and an HTML part. */
const alternative = (headers: string[], text: string, html: string) =>
  mail([
    ...headers,
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    '--alt',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    text,
    '--alt',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '--alt--',
    '',
  ]);

/** A multipart/mixed message of `count` small attachments. */
function manyParts(count: number): Buffer {
  let raw = 'Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n';
  for (let i = 0; i < count; i++) {
    raw += `--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f${i}.bin\r\n\r\n${i}\r\n`;
  }
  return Buffer.from(`${raw}--b--\r\n`);
}

/** A text part inside `depth` multiparts, each the only part of the one around it. */
function nested(depth: number): Buffer {
  let raw = 'Subject: deep\r\n';
  for (let i = 0; i < depth; i++) raw += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
  return Buffer.from(`${raw}Content-Type: text/plain\r\n\r\nhi\r\n`);
}

const plain = mail([
  'Return-Path: <ada@example.test>',
  'Received: from mx.example.test by mail.example.test; Tue, 4 Mar 2025 05:06:08 +0000',
  'From: Ada Lovelace <ada@example.test>',
  'To: Bob <bob@example.test>, carol@example.test',
  'Cc: "Dan, Jr." <dan@example.test>',
  'Subject: Quarterly figures',
  'Date: Tue, 4 Mar 2025 06:06:07 +0100',
  'Message-ID: <abc123@example.test>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello Bob,',
  'the figures are attached.',
  '',
]);

describe('parseMessage', () => {
  it('reads a plain text message field for field', async () => {
    const message = await parsed(plain);

    expect(message).toMatchObject({
      messageId: 'abc123@example.test',
      inReplyTo: null,
      references: [],
      subject: 'Quarterly figures',
      from: { name: 'Ada Lovelace', address: 'ada@example.test' },
      sender: null,
      replyTo: [],
      to: [
        { name: 'Bob', address: 'bob@example.test' },
        { name: null, address: 'carol@example.test' },
      ],
      cc: [{ name: 'Dan, Jr.', address: 'dan@example.test' }],
      date: '2025-03-04T05:06:07.000Z',
      text: 'Hello Bob,\nthe figures are attached.\n',
      html: null,
      attachments: [],
      autoSubmitted: false,
    });
    expect(message.headers.map((h) => h.name)).toEqual([
      'Return-Path',
      'Received',
      'From',
      'To',
      'Cc',
      'Subject',
      'Date',
      'Message-ID',
      'MIME-Version',
      'Content-Type',
    ]);
    expect(message.headers[5]).toEqual({ name: 'Subject', value: 'Quarterly figures' });
  });

  it('reads an LF-only message as it reads the same message with CRLF', async () => {
    const lf = Buffer.from(plain.toString().replace(/\r\n/g, '\n'));
    expect(await parsed(lf)).toEqual(await parsed(plain));
  });

  it('takes both parts of multipart/alternative', async () => {
    const message = await parsed(
      alternative(
        ['From: ada@example.test', 'Subject: Both'],
        'Gr=C3=BC=C3=9Fe',
        '<p>Grüße <img src="cid:logo@x"></p>',
      ),
    );

    expect(message.text).toBe('Grüße');
    // cid: links stay as they are: nothing is inlined into the stored HTML.
    expect(message.html).toBe('<p>Grüße <img src="cid:logo@x"></p>');
    expect(message.attachments).toEqual([]);
  });

  it('turns an HTML-only message into text as well', async () => {
    const message = await parsed(
      mail(['Subject: html', 'Content-Type: text/html', '', '<p>Hello <b>there</b></p>', '']),
    );
    expect(message.html).toBe('<p>Hello <b>there</b></p>\n');
    expect(message.text).toBe('Hello there');
  });

  it('describes attachments by metadata and a sha-256 of their content, inline ones included', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), junk(3000, 7)]);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), junk(500, 11)]);
    const message = await parsed(
      mail([
        'From: ada@example.test',
        'Subject: Files',
        'Content-Type: multipart/mixed; boundary="mixed"',
        '',
        '--mixed',
        'Content-Type: multipart/related; boundary="rel"',
        '',
        '--rel',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<p><img src="cid:logo@example.test"></p>',
        '--rel',
        'Content-Type: image/png',
        'Content-Transfer-Encoding: base64',
        'Content-ID: <logo@example.test>',
        '',
        png.toString('base64'),
        '--rel--',
        '--mixed',
        'Content-Type: application/pdf; name="=?utf-8?Q?Bericht_M=C3=A4rz.pdf?="',
        "Content-Disposition: attachment; filename*=utf-8''Bericht%20M%C3%A4rz.pdf",
        'Content-Transfer-Encoding: base64',
        '',
        ...(pdf.toString('base64').match(/.{1,76}/g) ?? []),
        '--mixed--',
        '',
      ]),
    );

    expect(message.attachments).toEqual([
      {
        filename: null,
        contentType: 'image/png',
        size: png.length,
        contentId: 'logo@example.test',
        inline: true,
        checksum: sha256(png),
      },
      {
        filename: 'Bericht März.pdf',
        contentType: 'application/pdf',
        size: pdf.length,
        contentId: null,
        inline: false,
        checksum: sha256(pdf),
      },
    ]);
    expect(message.html).toBe('<p><img src="cid:logo@example.test"></p>');
  });

  it('decodes RFC 2047 words in the subject, display names and every header value', async () => {
    const message = await parsed(
      mail([
        // "Grüße aus Köln ✓", split mid-character across two base64 words
        'Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2?=',
        ' =?UTF-8?B?bG4g4pyT?=',
        'From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.test>',
        'To: =?utf-8?q?Zo=C3=AB?= <zoe@example.test>, "Plain Name" <p@example.test>',
        'X-Note: =?utf-8?q?a?= =?utf-8?q?b?= and =?iso-8859-1?q?=E9?=',
        'X-Raw-Utf8: Grüße',
        '',
        'body',
      ]),
    );

    expect(message.subject).toBe('Grüße aus Köln ✓');
    expect(message.from).toEqual({ name: 'Jörg Müller', address: 'joerg@example.test' });
    expect(message.to).toEqual([
      { name: 'Zoë', address: 'zoe@example.test' },
      { name: 'Plain Name', address: 'p@example.test' },
    ]);
    expect(message.headers).toEqual([
      { name: 'Subject', value: 'Grüße aus Köln ✓' },
      { name: 'From', value: 'Jörg Müller <joerg@example.test>' },
      { name: 'To', value: 'Zoë <zoe@example.test>, "Plain Name" <p@example.test>' },
      { name: 'X-Note', value: 'ab and é' },
      { name: 'X-Raw-Utf8', value: 'Grüße' },
    ]);
  });

  it('reads raw 8-bit header bytes as UTF-8, or as Windows-1252 when they are not UTF-8', async () => {
    const raw = Buffer.concat([
      Buffer.from('Subject: Gr'),
      Buffer.from([0xfc, 0xdf]),
      Buffer.from('e\r\n\r\nb'),
    ]);
    expect((await parsed(raw)).subject).toBe('Grüße');
  });

  it('unfolds header values and never lets a CR or LF through, encoded or not', async () => {
    const message = await parsed(
      mail([
        'Subject: a long',
        '\tfolded subject',
        'X-Sneaky: =?utf-8?q?one=0D=0ABcc:_evil@example.test?=',
        '',
        'b',
      ]),
    );
    expect(message.subject).toBe('a long\tfolded subject');
    expect(message.headers[1]).toEqual({ name: 'X-Sneaky', value: 'one Bcc: evil@example.test' });
    for (const { value } of message.headers) expect(value).not.toMatch(/[\r\n]/);
  });

  it('flattens address groups and skips entries without an address', async () => {
    const message = await parsed(
      mail([
        'From: ada@example.test',
        'To: Team: a@example.test, "B" <b@example.test>;, c@example.test',
        'Cc: undisclosed-recipients:;',
        'To: d@example.test',
        'Reply-To: Sales <sales@example.test>, support@example.test',
        'Sender: Bot <bot@example.test>',
        '',
        'b',
      ]),
    );
    expect(message.to.map((a) => a.address)).toEqual([
      'a@example.test',
      'b@example.test',
      'c@example.test',
      'd@example.test',
    ]);
    expect(message.cc).toEqual([]);
    expect(message.replyTo).toEqual([
      { name: 'Sales', address: 'sales@example.test' },
      { name: null, address: 'support@example.test' },
    ]);
    expect(message.sender).toEqual({ name: 'Bot', address: 'bot@example.test' });
    expect(message.from).toEqual({ name: null, address: 'ada@example.test' });
  });

  it('extracts In-Reply-To and References without brackets, in order', async () => {
    const message = await parsed(
      mail([
        'Message-ID: < c3@example.test >',
        "In-Reply-To: <b2@example.test> (Bob's message of Monday) <other@example.test>",
        'References: <a1@example.test>',
        '  <b2@example.test>',
        '\t<a1@example.test>',
        'Subject: Re: Re: hi',
        '',
        'b',
      ]),
    );
    expect(message.messageId).toBe('c3@example.test');
    expect(message.inReplyTo).toBe('b2@example.test');
    expect(message.references).toEqual(['a1@example.test', 'b2@example.test']);
  });

  it('has a null Message-ID when the header is missing or empty, and a bare one without brackets', async () => {
    expect((await parsed(mail(['Subject: none', '', 'b']))).messageId).toBeNull();
    expect((await parsed(mail(['Message-ID: <>', '', 'b']))).messageId).toBeNull();
    expect((await parsed(mail(['Message-ID:', '', 'b']))).messageId).toBeNull();
    expect((await parsed(mail(['Message-ID: bare@example.test', '', 'b']))).messageId).toBe(
      'bare@example.test',
    );
    expect((await parsed(mail(['In-Reply-To: ', '', 'b']))).inReplyTo).toBeNull();
  });

  it('gives the subject as empty text when there is none', async () => {
    expect((await parsed(mail(['From: a@example.test', '', 'b']))).subject).toBe('');
  });

  it.each([
    ['Tue, 4 Mar 2025 14:06:07 +0900', '2025-03-04T05:06:07.000Z'],
    ['Mon, 3 Mar 2025 23:36:07 -0530', '2025-03-04T05:06:07.000Z'],
    ['Tue, 04 Mar 2025 00:06:07 EST', '2025-03-04T05:06:07.000Z'],
    ['3 Mar 2025 21:06:07 PST', '2025-03-04T05:06:07.000Z'],
    ['Tue, 4 Mar 2025 05:06:07 GMT', '2025-03-04T05:06:07.000Z'],
    ['Tue,  4 Mar 2025 07:06:07 +0200 (CEST)', '2025-03-04T05:06:07.000Z'],
    ['4 Mar 25 05:06 +0000', '2025-03-04T05:06:00.000Z'],
    ['2025-03-04T06:06:07+01:00', '2025-03-04T05:06:07.000Z'],
    ['yesterday', null],
    ['5', null],
    ['31 Feb 2025 10:00:00 +0000', null],
    ['Tue, 4 Mar 2025 25:06:07 +0000', null],
  ])('reads Date: %s as %s', async (header, expected) => {
    expect((await parsed(mail([`Date: ${header}`, '', 'b']))).date).toBe(expected);
  });

  it('has a null date when there is no Date header', async () => {
    expect((await parsed(mail(['Subject: undated', '', 'b']))).date).toBeNull();
  });

  it('refuses input that is no message, and says why', async () => {
    for (const raw of [
      junk(5000),
      Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), junk(2000, 3)]),
      Buffer.from('just some text\nwithout any header\n\nmore text\n'),
      Buffer.from('\r\nbody after an empty header block'),
      Buffer.alloc(0),
      Buffer.from('Subject: x\r\nX-Bin: a\0b\r\n\r\nbody'),
    ]) {
      const outcome = await parseMessage(raw);
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) expect(outcome.error).toMatch(/\w/);
    }
  });

  it('reads a header block alone (a message fetched truncated) and an mbox From_ line', async () => {
    const message = await parsed(Buffer.from('From: ada@example.test\r\nSubject: only headers'));
    expect(message).toMatchObject({ subject: 'only headers', text: null, html: null, attachments: [] });
    const mbox = await parsed(
      mail(['From ada@example.test Tue Mar  4 05:06:07 2025', 'Subject: mbox', '', 'b']),
    );
    expect(mbox.subject).toBe('mbox');
    expect(mbox.headers).toEqual([{ name: 'Subject', value: 'mbox' }]);
  });

  it('cuts text and html at maxTextBytes of UTF-8, never inside a character', async () => {
    const body = 'äö€😀'.repeat(100);
    const message = await parsed(
      alternative([], Buffer.from(body).toString('hex').replace(/../g, '=$&'), `<p>${body}</p>`),
      { maxTextBytes: 100 },
    );
    for (const value of [message.text!, message.html!]) {
      expect(Buffer.byteLength(value)).toBeLessThanOrEqual(100);
      expect(Buffer.byteLength(value)).toBeGreaterThan(90);
      expect(value).not.toContain('\uFFFD');
      expect(body.startsWith(value.replace('<p>', ''))).toBe(true);
    }
  });

  it('ends hostile input in bounded time: huge header blocks and too many parts are errors', async () => {
    const started = Date.now();
    const hugeHeader = await parseMessage(
      Buffer.from(`Subject: x\r\nX-Big: ${'a'.repeat(10 * 1024 * 1024)}\r\n\r\nb`),
    );
    expect(hugeHeader.ok).toBe(false);

    expect((await parseMessage(manyParts(5000))).ok).toBe(false);
    expect((await parseMessage(nested(5000))).ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reads what stays within the bounds: 500 attachments, 500 levels of nesting', async () => {
    const attachments = (await parsed(manyParts(500))).attachments;
    expect(attachments).toHaveLength(500);
    expect(attachments[499]).toMatchObject({ filename: 'f499.bin', size: 3, checksum: sha256('499') });

    expect((await parsed(nested(500))).text).toBe('hi\n');
  });

  it.each([
    [['Auto-Submitted: auto-replied'], true],
    [['Auto-Submitted: auto-generated; type=bounce'], true],
    [['Auto-Submitted: No'], false],
    [['Precedence: bulk'], true],
    [['Precedence: list'], true],
    [['Precedence: junk'], true],
    [['Precedence: first-class'], false],
    [['X-Autoreply: yes'], true],
    [['X-Autorespond: Vacation'], true],
    [['Return-Path: <>'], true],
    [['Return-Path: <ada@example.test>'], false],
    [['From: ada@example.test'], false],
  ])('%j is auto-submitted: %s', async (headers, expected) => {
    expect((await parsed(mail([...headers, 'Subject: s', '', 'b']))).autoSubmitted).toBe(expected);
  });
});

describe('contentHash', () => {
  const base = [
    'From: ada@example.test',
    'To: bob@example.test',
    'Subject: Same mail',
    'Message-ID: <same@example.test>',
    '',
    'One body,',
    'two lines.',
    '',
  ];
  const delivered = (to: string, eol: string) =>
    mail(
      [
        `Return-Path: <bounce+${to}@example.test>`,
        `Delivered-To: ${to}@example.test`,
        `X-Original-To: ${to}@example.test`,
        `Received: from mx.example.test (mx.example.test [192.0.2.1])`,
        `\tby ${to}.example.test with ESMTPS id ${to.toUpperCase()}`,
        `\tfor <${to}@example.test>; Tue, 4 Mar 2025 05:06:08 +0000`,
        ...base,
      ],
      eol,
    );

  it('is the same for one mail delivered to two mailboxes, with CRLF or LF line ends', () => {
    const bob = contentHash(delivered('bob', '\r\n'));
    expect(contentHash(delivered('carol', '\r\n'))).toBe(bob);
    expect(contentHash(delivered('dan', '\n'))).toBe(bob);
    expect(contentHash(mail(base, '\n'))).toBe(bob);
    expect(bob).toBe(sha256(mail(base, '\r\n')));
  });

  it('differs for a different body, subject or kept header', () => {
    const hash = contentHash(mail(base));
    expect(contentHash(mail([...base.slice(0, -1), 'two lines!', '']))).not.toBe(hash);
    expect(contentHash(mail(base.map((l) => l.replace('Same mail', 'Other mail'))))).not.toBe(hash);
    expect(contentHash(mail(['X-Spam-Score: 1', ...base]))).not.toBe(hash);
  });

  it('hashes mixed line ends and long lines as their CRLF form', () => {
    const raw = Buffer.from(`A: b\n\n${'x'.repeat(100_000)}\n${'y\r\nz\n'.repeat(20_000)}end`);
    expect(contentHash(raw)).toBe(sha256(raw.toString().replace(/\r?\n/g, '\r\n')));
  });

  it('hashes a 10,000-message import quickly', () => {
    const lf = mail([...base.slice(0, -2), ...Array<string>(1000).fill('a line of body text')], '\n');
    const started = Date.now();
    for (let i = 0; i < 10_000; i++) contentHash(lf);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('headerBlock', () => {
  it('is the header lines up to the first empty line, which it leaves out', () => {
    expect(headerBlock(Buffer.from('A: 1\r\nB: 2\r\n folded\r\n\r\nbody\r\n\r\nmore')).toString()).toBe(
      'A: 1\r\nB: 2\r\n folded\r\n',
    );
    expect(headerBlock(Buffer.from('A: 1\nB: 2\n\nbody')).toString()).toBe('A: 1\nB: 2\n');
  });

  it('is the whole input when there is no body, and empty when the message starts with an empty line', () => {
    expect(headerBlock(Buffer.from('A: 1\r\nB: 2')).toString()).toBe('A: 1\r\nB: 2');
    expect(headerBlock(Buffer.from('\r\nbody')).length).toBe(0);
    expect(headerBlock(Buffer.alloc(0)).length).toBe(0);
  });

  it('keeps the empty line with `withEmptyLine`, as TOP n 0 sends the block', () => {
    const withEmptyLine = (text: string) =>
      headerBlock(Buffer.from(text), { withEmptyLine: true }).toString();
    expect(withEmptyLine('A: 1\r\nB: 2\r\n\r\nbody')).toBe('A: 1\r\nB: 2\r\n\r\n');
    expect(withEmptyLine('A: 1\nB: 2\n\nbody')).toBe('A: 1\nB: 2\n\n');
    expect(withEmptyLine('\r\nbody')).toBe('\r\n');
    expect(withEmptyLine('\nbody')).toBe('\n');
    expect(withEmptyLine('A: 1\r\n')).toBe('A: 1\r\n');
    expect(withEmptyLine('A: 1\r\n\r\n')).toBe('A: 1\r\n\r\n');
  });

  it('is a copy, not a view that keeps the whole message alive', () => {
    const raw = Buffer.from('A: 1\r\n\r\nbody');
    const block = headerBlock(raw);
    raw[0] = 0x5a;
    expect(block.toString()).toBe('A: 1\r\n');
  });
});
