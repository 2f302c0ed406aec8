import { describe, expect, it } from 'vitest';
import { decideBounceType, decideReason } from './reason.ts';
import type { ReasonEvidence } from './reason.ts';
import { findSmtpCommand } from './smtp-command.ts';

function reason(diagnostic: string, extra: Partial<ReasonEvidence> = {}): string {
  return decideReason({
    action: 'failed',
    status: null,
    replyCode: null,
    diagnosticType: 'smtp',
    command: null,
    diagnostic,
    ...extra,
  });
}

describe('user unknown or filtered', () => {
  it('trusts "user unknown" said to RCPT TO', () => {
    expect(reason('550 User unknown', { command: 'RCPT', replyCode: '550', status: '5.0.0' })).toBe(
      'userunknown',
    );
  });

  it('trusts "user unknown" with an address status', () => {
    expect(reason('550 5.1.1 <a@example.net>: User unknown', { replyCode: '550', status: '5.1.1' })).toBe(
      'userunknown',
    );
  });

  it('reads "user unknown" at an unnamed stage, or with a policy status, as a filter', () => {
    expect(reason('550 User unknown', { replyCode: '550', status: '5.0.0' })).toBe('filtered');
    expect(
      reason('550 5.7.1 Recipient address rejected: User unknown', { replyCode: '550', status: '5.7.1' }),
    ).toBe('filtered');
    expect(reason('No such user here [5.3.0]', { status: '5.3.0' })).toBe('filtered');
    expect(reason('[User unknown]')).toBe('filtered');
    expect(reason('User unknown', { command: 'DATA' })).toBe('filtered');
  });

  it("trusts an MTA's own directory wording at any stage", () => {
    expect(reason('User someone (a@example.org) not listed in Domino Directory')).toBe('userunknown');
    expect(reason("** Address not found ** ... because the address couldn't be found.")).toBe('userunknown');
    expect(
      reason("554 delivery error: dd This user doesn't have a example.com account", { replyCode: '554' }),
    ).toBe('userunknown');
  });

  it('keeps filtered soft and userunknown hard', () => {
    expect(decideBounceType('filtered', 'failed', '5.0.0', '550')).toBe('soft');
    expect(decideBounceType('userunknown', 'failed', '5.0.0', '550')).toBe('hard');
  });
});

describe('provider codes', () => {
  it('reads the cause from an Orange / La Poste LPN code', () => {
    expect(reason('550 5.5.0 Invalid recipient. OFR_416', { status: '5.5.0', replyCode: '550' })).toBe(
      'userunknown',
    );
    expect(reason('554 5.7.1 Client host rejected: LPN000_630', { status: '5.7.1', replyCode: '554' })).toBe(
      'policyviolation',
    );
    expect(reason('421 mwinf too many connections OFR_104-104', { replyCode: '421' })).toBe('toomanyconn');
  });

  it("reads the cause from Spectrum's AUP# number", () => {
    expect(reason('550 5.1.0 sender rejected. See the error page. AUP#In-1310', { status: '5.1.0' })).toBe(
      'toomanyconn',
    );
    expect(reason('554 message refused AUP#CXBL-1000', { replyCode: '554' })).toBe('blocked');
  });

  it("reads Exchange Online's x.4.31x expiry codes", () => {
    expect(reason('550 5.4.312 Message expired, DNS query failed', { status: '5.4.312' })).toBe(
      'networkerror',
    );
    expect(reason('550 5.4.316 Message expired, connection refused', { status: '5.4.316' })).toBe('expired');
  });

  it("reads Exchange 2003's hex error codes", () => {
    expect(reason('MSEXCH:IMS:EXAMPLE:SITE:SERVER 0 (000C05A6) Unknown Recipient')).toBe('userunknown');
    expect(reason('MSEXCH:IMS:EXAMPLE:SITE:SERVER 0 (000C0595) Ambiguous Recipient')).toBe('filtered');
  });

  it('tells KDDI (au) unknown mailboxes from its filters', () => {
    const hosts = ['lsean.ezweb.ne.jp'];
    expect(reason('550 <x@ezweb.ne.jp>: User unknown', { hosts, replyCode: '550', status: '5.0.0' })).toBe(
      'userunknown',
    );
    expect(reason('550 : User unknown', { hosts, replyCode: '550', status: '5.0.0' })).toBe('filtered');
    // The same reply from anyone else is a bare "user unknown" of unknown stage.
    expect(reason('550 <x@example.jp>: User unknown', { replyCode: '550', status: '5.0.0' })).toBe(
      'filtered',
    );
  });

  it('reads NTT docomo by the SMTP stage', () => {
    const hosts = ['mfsmax.docomo.ne.jp'];
    const base = { hosts, replyCode: '550', status: '5.0.0' };
    expect(reason('550 Unknown user x@docomo.ne.jp', { ...base, command: 'DATA' })).toBe('rejected');
    expect(reason('550 Unknown user x@docomo.ne.jp', { ...base, command: 'RCPT' })).toBe('userunknown');
    expect(reason('552 Too much mail data', { hosts, replyCode: '552' })).toBe('mailboxfull');
  });

  it('reads MessageLabs relaying an address refusal', () => {
    const hosts = ['mail.example.org', 'messagelabs.com'];
    expect(reason('542 someone@example.com Rejected', { hosts, replyCode: '542' })).toBe('userunknown');
    expect(reason('550 someone@example.org... No such user', { hosts, replyCode: '550' })).toBe(
      'userunknown',
    );
  });

  it("reads Mimecast's replies with their codes", () => {
    const hosts = ['service1.mimecast.com'];
    expect(reason('554 email rejected due to security policies - MCSig', { hosts, replyCode: '554' })).toBe(
      'virusdetected',
    );
    expect(reason('550 Invalid Recipient', { hosts, replyCode: '550' })).toBe('userunknown');
  });
});

describe('wording', () => {
  it('takes a spam verdict over SPF advice that follows it', () => {
    expect(
      reason(
        'Your email to group g@example.com was rejected due to spam classification. Set up SPF records.',
      ),
    ).toBe('spamdetected');
  });

  it('reads a retry count as expiry', () => {
    expect(reason('Delivery failed 12 attempts')).toBe('expired');
  });

  it('reads an unverified sending identity as a relay refusal', () => {
    expect(reason('554 Message rejected: Email address is not verified.', { replyCode: '554' })).toBe(
      'norelaying',
    );
  });

  it('finds the stage in "SMTP:RCPT host"', () => {
    expect(findSmtpCommand('SMTP:RCPT host 192.0.2.8: 553 5.3.0 <a@b.example>... No such user here')).toBe(
      'RCPT',
    );
  });
});
