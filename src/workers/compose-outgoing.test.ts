/**
 * Header injection through the values an outgoing message is composed from, end to end to the
 * bytes: the sender templates filled from contact fields (data that anyone who edits a contact, or
 * an import, wrote), the account's names and reply-to, an alert's subject quoting an incoming
 * subject, stored custom headers, and the List-Unsubscribe of a marketing recipient.
 */
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import type { AddressObject } from 'mailparser';
import { describe, expect, it } from 'vitest';
import {
  BREAKING_CHARACTERS,
  breakingCharacter,
  hostileHeaderText,
} from '../../test/support/hostile-text.ts';
import type { Row } from '../db/database.ts';
import type { AccountSender } from '../domains/accounts/accounts.service.ts';
import type { SenderContact, SenderIdentity } from '../domains/accounts/templates.ts';
import { composeOutgoing } from './compose-outgoing.ts';

function message(overrides: Partial<Row<'messages'>> = {}): Row<'messages'> {
  return {
    subject: 'Spring offer',
    text_body: 'Hello',
    html_body: null,
    headers: '{}',
    message_id_header: '<m1@acme.test>',
    created_at: '2026-11-23T09:00:00.000Z',
    ...overrides,
  } as Row<'messages'>;
}

const recipients = [{ kind: 'to' as const, name: 'Bob', address: 'bob@example.test' }];

function sender(overrides: Partial<SenderIdentity> = {}): AccountSender {
  const identity: SenderIdentity = {
    email: 'sales@acme.test',
    displayName: 'Acme Sales',
    replyTo: 'replies@acme.test',
    replyToName: 'Acme Replies',
    fromNameTemplate: '{{contact.owner.name}} at Acme',
    replyToNameTemplate: '{{contact.fields.desk}} desk',
    ...overrides,
  };
  return identity as unknown as AccountSender;
}

/** The header field names in the composed bytes, continuation lines folded in. */
function fieldNames(raw: Buffer): string[] {
  const block = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
  expect(block).toMatch(/^[\x20-\x7e\t\r\n]*$/);
  return block
    .split('\r\n')
    .filter((line) => !/^[ \t]/.test(line))
    .map((line) => line.slice(0, line.indexOf(':')));
}

const names = (field: AddressObject | AddressObject[] | undefined) =>
  [field ?? []].flat().flatMap((a) => a.value.map((v) => v.name));

async function expectClean(raw: Buffer, extra: string[] = []): Promise<void> {
  const fields = fieldNames(raw);
  for (const name of fields) {
    expect([
      'From',
      'Reply-To',
      'To',
      'Subject',
      'Message-ID',
      'Date',
      'MIME-Version',
      'Content-Type',
      'Content-Transfer-Encoding',
      ...extra,
    ]).toContain(name);
  }
  expect(new Set(fields).size).toBe(fields.length);
  const parsed = await simpleParser(raw);
  for (const value of [parsed.subject ?? '', ...names(parsed.from), ...names(parsed.replyTo)]) {
    expect(value).not.toMatch(breakingCharacter);
  }
}

describe('composing from contact fields, alerts and stored headers', () => {
  it.each(BREAKING_CHARACTERS)(
    '%s in contact fields read by the sender templates becomes a space in From and Reply-To',
    async (_name, character) => {
      const contact: SenderContact = {
        email: 'bob@example.test',
        owner: { name: `Grace${character}Bcc: everyone@evil.test` },
        fields: { desk: `EMEA${character}X-Injected: yes` },
      };
      const raw = await composeOutgoing(message(), recipients, [], sender(), contact);
      await expectClean(raw);
      const parsed = await simpleParser(raw);
      expect(names(parsed.from)).toEqual(['Grace Bcc: everyone@evil.test at Acme']);
      expect(names(parsed.replyTo)).toEqual(['EMEA X-Injected: yes desk']);
    },
  );

  it('any contact field value, any stored subject and header value: no header is added', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileHeaderText,
        hostileHeaderText,
        hostileHeaderText,
        async (field, subject, header) => {
          const contact: SenderContact = {
            email: 'bob@example.test',
            owner: { name: field },
            fields: { desk: field },
          };
          const raw = await composeOutgoing(
            // An alert's subject quotes an incoming subject, and is stored without the API's checks.
            message({
              subject: `Email from Eve: ${subject}`,
              headers: JSON.stringify({ 'X-Campaign': header }),
            }),
            recipients,
            [],
            sender(),
            contact,
            { 'List-Unsubscribe': `<https://mailroom.test/u/${header}>` },
          );
          await expectClean(raw, ['X-Campaign', 'List-Unsubscribe']);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('an account name and reply-to that somehow carry a line break are sanitised too', async () => {
    const raw = await composeOutgoing(
      message(),
      recipients,
      [],
      sender({
        displayName: 'Acme\r\nBcc: everyone@evil.test',
        replyToName: 'Replies\u2028X-Injected: yes',
        fromNameTemplate: null,
        replyToNameTemplate: null,
      }),
      { email: 'bob@example.test' },
    );
    await expectClean(raw);
  });
});
