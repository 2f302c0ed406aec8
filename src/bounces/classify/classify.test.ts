import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyMessage } from './index.ts';
import type { BounceVerdict, RecipientVerdict } from './index.ts';

function classifyFixture(name: string): BounceVerdict {
  return classifyMessage(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));
}

type Expected = Partial<RecipientVerdict> & { address: string };

/** One hand-written notice per family: the verdict a person reading it would reach. */
const families: Array<[string, string, Partial<BounceVerdict>, Expected[]]> = [
  [
    'Postfix, RFC 3464 report with returned headers, ENVID and VERP',
    'postfix-dsn.eml',
    {
      category: 'bounce',
      originalMessageId: '<news-2025-03.42@mail.example.net>',
      envelopeId: 'env-7731',
      verpToken: 'c42-m9001',
    },
    [
      {
        address: 'ghost@example.org',
        action: 'failed',
        status: '5.1.1',
        replyCode: '550',
        reason: 'userunknown',
        bounceType: 'hard',
        remoteMta: 'mx.example.org',
      },
    ],
  ],
  [
    'Postfix delay warning',
    'postfix-delayed.eml',
    { category: 'bounce' },
    [
      {
        address: 'slow@example.com',
        action: 'delayed',
        status: '4.4.1',
        reason: 'expired',
        bounceType: 'soft',
      },
    ],
  ],
  [
    'Exim text notice with X-Failed-Recipients',
    'exim.eml',
    { category: 'bounce', originalMessageId: '<E1abc-0001@mail.example.net>' },
    [
      {
        address: 'full@example.com',
        status: '5.2.2',
        replyCode: '552',
        reason: 'mailboxfull',
        bounceType: 'soft',
      },
    ],
  ],
  [
    'Sendmail report whose MIME type is missing from the headers',
    'sendmail.eml',
    { category: 'bounce', originalMessageId: '<201707140300.v6E30000@example.jp>' },
    [{ address: 'someone@nowhere.invalid', status: '5.1.2', reason: 'hostunknown', bounceType: 'hard' }],
  ],
  [
    'qmail notice with two recipients',
    'qmail.eml',
    { category: 'bounce' },
    [
      { address: 'nobody@example.com', status: '5.1.1', reason: 'userunknown', bounceType: 'hard' },
      { address: 'quota@example.com', status: '5.2.2', reason: 'mailboxfull', bounceType: 'soft' },
    ],
  ],
  [
    'Exchange Online / Office 365',
    'office365.eml',
    { category: 'bounce', originalMessageId: '<report-q3@example.com>' },
    [{ address: 'gone@contoso.com', status: '5.1.10', reason: 'userunknown', bounceType: 'hard' }],
  ],
  [
    'Gmail text notice with a multi-line SMTP reply',
    'gmail.eml',
    { category: 'bounce' },
    [
      {
        address: 'blocked@example.net',
        status: '5.7.1',
        replyCode: '550',
        reason: 'spamdetected',
        bounceType: 'soft',
      },
    ],
  ],
  [
    'Yahoo notice',
    'yahoo.eml',
    { category: 'bounce' },
    [{ address: 'deadbox@example.jp', replyCode: '554', reason: 'userunknown', bounceType: 'hard' }],
  ],
  [
    'Amazon SES bounce notification (JSON)',
    'amazon-ses.eml',
    { category: 'bounce', originalMessageId: '<ses-1@example.com>' },
    [{ address: 'busy@example.org', status: '5.2.2', reason: 'mailboxfull', bounceType: 'soft' }],
  ],
  [
    'Zoho notice, quoted-printable',
    'zoho.eml',
    { category: 'bounce' },
    [{ address: 'nouser@example.co.jp', status: '5.1.1', reason: 'userunknown', bounceType: 'hard' }],
  ],
  [
    'Lotus Domino notice',
    'domino.eml',
    { category: 'bounce' },
    [{ address: 'taro@example.co.jp', reason: 'userunknown', bounceType: 'hard' }],
  ],
  [
    'mail.ru notice in Russian, 8-bit UTF-8',
    'mailru.eml',
    { category: 'bounce', originalMessageId: '<ru-1@mail.ru>' },
    [{ address: 'pavel@example.ru', status: '5.2.1', reason: 'suspend', bounceType: 'soft' }],
  ],
  [
    'RFC 5965 complaint',
    'arf.eml',
    { category: 'feedback', originalMessageId: '<promo-3@mail.example.com>', verpToken: 'c7-m3' },
    [{ address: 'reader@isp.example', reason: 'feedback', bounceType: null }],
  ],
  [
    'RFC 3834 out-of-office reply',
    'autoreply.eml',
    { category: 'autoreply', originalMessageId: '<news-2025-03.42@mail.example.com>', verpToken: null },
    [{ address: 'jun@example.org', reason: 'vacation', bounceType: null }],
  ],
  [
    'success notice',
    'delivered.eml',
    { category: 'delivered' },
    [
      {
        address: 'lee@example.net',
        action: 'relayed',
        status: '2.0.0',
        reason: 'delivered',
        bounceType: null,
      },
    ],
  ],
  [
    'au (KDDI) report: an unknown mailbox, and a filter that answers "User unknown" too',
    'kddi-dsn.eml',
    { category: 'bounce', originalMessageId: '<kddi-orig-1@example.net>' },
    [
      { address: 'hanako@ezweb.ne.jp', reason: 'userunknown', bounceType: 'hard' },
      { address: 'jiro@ezweb.ne.jp', reason: 'filtered', bounceType: 'soft' },
    ],
  ],
  ['ordinary mail', 'plain.eml', { category: 'none', originalMessageId: null, verpToken: null }, []],
];

describe('classifyMessage on one notice per family', () => {
  it.each(families)('%s', (_title, file, verdict, recipients) => {
    const result = classifyFixture(file);
    expect(result).toMatchObject(verdict);
    expect(result.recipients).toHaveLength(recipients.length);
    recipients.forEach((expected, i) => expect(result.recipients[i]).toMatchObject(expected));
  });
});

describe('verdict shape', () => {
  it('uses null, never undefined, so the JSON output is stable', () => {
    const result = classifyFixture('yahoo.eml');
    const json = JSON.parse(JSON.stringify(result)) as BounceVerdict;
    expect(Object.keys(json).sort()).toEqual(
      ['category', 'envelopeId', 'originalMessageId', 'recipients', 'verpToken'].sort(),
    );
    expect(Object.keys(json.recipients[0] ?? {}).sort()).toEqual(
      ['action', 'address', 'bounceType', 'diagnostic', 'reason', 'remoteMta', 'replyCode', 'status'].sort(),
    );
    expect(json.recipients[0]?.remoteMta).toBeNull();
    expect(json.envelopeId).toBeNull();
  });

  it('keeps the evidence: the diagnostic names the server reply', () => {
    const [recipient] = classifyFixture('postfix-dsn.eml').recipients;
    expect(recipient?.diagnostic).toContain('User unknown in virtual mailbox table');
  });

  it('never calls an auto-reply a bounce, even one that says the mailbox is gone', () => {
    const raw = Buffer.from(
      [
        'From: Help Desk <noreply@example.com>',
        'To: news@mail.example.com',
        'Subject: AutoResponse: March news',
        'Auto-Submitted: auto-replied',
        '',
        'This inbox is no longer in use and your message could not be delivered to anyone.',
      ].join('\r\n'),
    );
    expect(classifyMessage(raw).category).toBe('autoreply');
  });

  it('reads a delayed notice as a soft bounce with its reason kept', () => {
    const [recipient] = classifyFixture('postfix-delayed.eml').recipients;
    expect(recipient).toMatchObject({ action: 'delayed', reason: 'expired', bounceType: 'soft' });
  });
});
