import { describe, expect, it } from 'vitest';
import { renderSenderName, templateProblem } from './templates.ts';

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
