import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { breakingCharacter } from '../../../test/support/hostile-text.ts';
import { MAX_RENDERED_NAME, renderSenderName, templateProblem, type SenderContact } from './templates.ts';

const contact = {
  name: 'Ada Lovelace',
  email: 'ada@example.test',
  fields: { region: 'EMEA', tier: 2, empty: '' },
  owner: { name: 'Grace Hopper' },
};

describe('sender name templates', () => {
  it('accept the documented placeholders and refuse any other', () => {
    expect(templateProblem('{{contact.owner.name}} at Acme')).toBeNull();
    expect(templateProblem('{{ contact.name }} / {{contact.email}} / {{contact.fields.region}}')).toBeNull();
    expect(templateProblem('{{contact.phone}} at Acme')).toMatch(
      /^unknown placeholder \{\{contact\.phone\}\}/,
    );
    expect(templateProblem('{{user.name}}')).toMatch(/unknown placeholder/);
    expect(templateProblem('{{contact.fields.}}')).toMatch(/unknown placeholder/);
    expect(templateProblem('{{contact.name} at Acme')).toMatch(/not closed/);
  });

  it('fill in each recipient’s card', () => {
    expect(renderSenderName('{{contact.owner.name}} at Acme', contact, 'Acme Sales')).toBe(
      'Grace Hopper at Acme',
    );
    expect(renderSenderName('{{contact.fields.region}} team {{contact.fields.tier}}', contact, 'x')).toBe(
      'EMEA team 2',
    );
  });

  it('fall back to the display name when the card lacks a field', () => {
    expect(renderSenderName('{{contact.owner.name}} at Acme', { email: 'a@b.test' }, 'Acme Sales')).toBe(
      'Acme Sales',
    );
    expect(renderSenderName('{{contact.fields.empty}} desk', contact, 'Acme Sales')).toBe('Acme Sales');
    expect(renderSenderName(null, contact, 'Acme Sales')).toBe('Acme Sales');
  });

  it('never let a card value break out of the header line', () => {
    const hostile = { ...contact, owner: { name: 'Eve\r\nBcc: everyone@example.test' } };
    expect(renderSenderName('{{contact.owner.name}}', hostile, 'x')).toBe('Eve Bcc: everyone@example.test');
  });
});

/** Keys that name something on every object's prototype chain, not a field of the card. */
const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'isPrototypeOf',
];

describe('sender name templates reach nothing but the contact’s own fields', () => {
  it.each(PROTOTYPE_KEYS)('{{contact.fields.%s}} fills nothing from the prototype chain', (key) => {
    const template = `{{contact.fields.${key}}} at Acme`;
    expect(templateProblem(template)).toBeNull();
    expect(renderSenderName(template, { email: 'a@b.test', fields: {} }, 'Acme Sales')).toBe('Acme Sales');
    expect(renderSenderName(template, { email: 'a@b.test' }, 'Acme Sales')).toBe('Acme Sales');
    // A card that really has a field of that name (JSON makes it an own property) fills it.
    const card = JSON.parse(`{"email":"a@b.test","fields":{"${key}":"Desk 7"}}`) as SenderContact;
    expect(renderSenderName(template, card, 'Acme Sales')).toBe('Desk 7 at Acme');
  });

  it('refuses paths, expressions and calls as placeholders', () => {
    for (const template of [
      '{{constructor}}',
      '{{__proto__}}',
      '{{contact.__proto__}}',
      '{{contact.constructor.name}}',
      '{{contact.fields.a.b}}',
      "{{constructor.constructor('return process')()}}",
      '{{contact.name.toUpperCase()}}',
      '{{this}}',
      '{{{contact.name}}}',
      '${process.env}',
    ]) {
      const problem = templateProblem(template);
      const rendered = renderSenderName(template, { email: 'a@b.test', name: 'Ada' }, 'Acme Sales');
      if (problem === null) expect(rendered).not.toMatch(/function|native code|\[object/);
      else expect(problem).toMatch(/unknown placeholder|not closed/);
      expect(rendered === 'Acme Sales' || !rendered.includes('{{')).toBe(true);
    }
    // Text outside {{ }} is text: written out as it stands, never evaluated.
    expect(renderSenderName('${process.env}', { email: 'a@b.test' }, 'x')).toBe('${process.env}');
    expect(renderSenderName('{{{contact.name}}}', { email: 'a@b.test', name: 'Ada' }, 'x')).toBe('{Ada}');
  });

  it('only fills text, numbers and yes/no values', () => {
    const card = {
      email: 'a@b.test',
      fields: { list: ['x'], object: { toString: () => 'pwned' }, fn: () => 'pwned' },
    } as unknown as SenderContact;
    for (const key of ['list', 'object', 'fn']) {
      expect(renderSenderName(`{{contact.fields.${key}}}`, card, 'Acme Sales')).toBe('Acme Sales');
    }
  });

  it('any template and any card: the output is the fallback or made of the template’s text and the card’s own values', () => {
    const key = fc.oneof(
      fc.constantFrom(...PROTOTYPE_KEYS, 'region', 'tier'),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/),
    );
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    );
    const piece = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom('{{', '}}', '{', '}', ' at ', '\r\n', '\u2028'),
      key.map((k) => `{{contact.fields.${k}}}`),
      fc.constantFrom(
        '{{contact.name}}',
        '{{contact.email}}',
        '{{contact.owner.name}}',
        '{{ contact.name }}',
      ),
      fc.constantFrom('{{constructor}}', '{{__proto__}}', '{{contact}}', '{{contact.fields}}'),
    );
    const template = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
    const card = fc.record({
      email: fc.string({ maxLength: 20 }),
      name: fc.option(fc.string({ unit: 'binary', maxLength: 20 })),
      owner: fc.option(fc.record({ name: fc.option(fc.string({ maxLength: 20 })) })),
      fields: fc.dictionary(key, value, { maxKeys: 4 }),
    });
    fc.assert(
      fc.property(template, card, (text, contact) => {
        const rendered = renderSenderName(text, contact as SenderContact, 'FALLBACK');
        expect(rendered).not.toMatch(breakingCharacter);
        expect([...rendered].length).toBeLessThanOrEqual(MAX_RENDERED_NAME);
        expect(rendered).not.toMatch(/function |\[native code\]|\[object /);
        if (rendered === 'FALLBACK') return;
        // Rebuilt from the card's own values alone, the same way: the output is exactly that.
        const own = (k: string) => (Object.hasOwn(contact.fields, k) ? contact.fields[k] : undefined);
        const expected = text.replace(/\{\{([^{}]*)\}\}/g, (_whole, path: string) => {
          const p = path.trim();
          const raw =
            p === 'contact.name'
              ? contact.name
              : p === 'contact.email'
                ? contact.email
                : p === 'contact.owner.name'
                  ? contact.owner?.name
                  : p.startsWith('contact.fields.')
                    ? own(p.slice('contact.fields.'.length))
                    : undefined;
          return raw === null || raw === undefined ? '' : String(raw).trim();
        });
        const oneLine = expected
          .replace(new RegExp(breakingCharacter.source, 'gu'), ' ')
          .replace(/\s+/g, ' ')
          .trim();
        expect(rendered).toBe([...oneLine].slice(0, MAX_RENDERED_NAME).join('').trim());
      }),
      { numRuns: 200 },
    );
  });
});
