import { describe, expect, it } from 'vitest';
import { classifyMessage } from './index.ts';

function addresses(lines: string[]): Array<string | null> {
  return classifyMessage(Buffer.from(lines.join('\r\n'))).recipients.map((r) => r.address);
}

describe('who failed', () => {
  it('never takes a quoted Message-Id for a recipient of a forwarded notice', () => {
    const got = addresses([
      'From: person@example.jp',
      'To: admin@example.ac.jp',
      'Subject: Fwd: Returned mail: see transcript for details',
      '',
      'Begin forwarded message:',
      '> From: Mail Delivery Subsystem <MAILER-DAEMON>',
      '> Message-Id: <200901010000.abc123@smtp.example.jp>',
      '>',
      '>    ----- The following addresses had permanent fatal errors -----',
      '> <nobody@mobile.example.jp>',
      '>     (reason: 550 Unknown user nobody@mobile.example.jp)',
      '',
    ]);
    expect(got).toEqual(['nobody@mobile.example.jp']);
  });

  it('never takes the MAIL FROM of a session transcript for a recipient', () => {
    const got = addresses([
      'From: MAILER-DAEMON@mx.example.com (Mail Delivery System)',
      'To: postmaster@mx.example.com',
      'Subject: Postfix SMTP server: errors from localhost',
      '',
      'Transcript of session follows.',
      '',
      ' In:  MAIL',
      '     FROM:<bounce-77=example.net@err.example.org>',
      ' Out: 250 2.1.0 Ok',
      ' In:  RCPT TO:<reader@example.net>',
      ' Out: 451 4.3.0 Error: queue file write error',
      '',
    ]);
    expect(got).toEqual(['reader@example.net']);
  });

  it('takes X-Failed-Recipients when the report names a mailbox file instead of an address', () => {
    const got = addresses([
      'From: Mail Delivery System <Mailer-Daemon@mx.example.com>',
      'To: sender@example.jp',
      'X-Failed-Recipients: full%example.com@mx.example.com',
      'Subject: Mail delivery failed: returning message to sender',
      'Content-Type: multipart/report; report-type=delivery-status; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'A message that you sent could not be delivered.',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.com',
      '',
      'Action: failed',
      'Final-Recipient: rfc822;/var/spool/mail/full',
      'Status: 5.0.0',
      '--b--',
      '',
    ]);
    expect(got).toEqual(['full%example.com@mx.example.com']);
  });

  it('reads report fields that a broken boundary ran into the text', () => {
    const got = addresses([
      'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>',
      'To: <sender@example.org>',
      'Subject: Returned mail: User unknown',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
      '',
      '--B1',
      'Content-Type: text/plain',
      '',
      '<gone@example.com> (unrecoverable error)',
      '',
      ' --B1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.org',
      '',
      'Final-Recipient: rfc822;gone@example.com',
      'Action: failed',
      'Status: 5.0.0',
      '',
      'Final-Recipient: rfc822;later@example.net',
      'Action: delayed',
      'Status: 4.0.0',
      '',
      '--B1--',
      '',
    ]);
    expect(got).toEqual(['gone@example.com', 'later@example.net']);
  });
});
