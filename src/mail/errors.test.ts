import { describe, expect, it } from 'vitest';
import { parseReply } from './errors.ts';

describe('parseReply', () => {
  it('separates the code, the enhanced status and the text of every line of a multi-line reply', () => {
    const reply = parseReply(
      '550-5.7.1 Our policy does not allow this\n550 5.7.1 See https://example.test/policy',
      'RCPT TO',
    );

    expect(reply).toEqual({
      code: 550,
      enhanced: '5.7.1',
      text: 'Our policy does not allow this\nSee https://example.test/policy',
      command: 'RCPT TO',
    });
  });

  it('keeps a reply without an enhanced status as it is', () => {
    expect(parseReply('421 mx.example.test closing connection', 'CONN')).toEqual({
      code: 421,
      enhanced: null,
      text: 'mx.example.test closing connection',
      command: 'CONN',
    });
  });

  it('does not mistake a number in the text for an enhanced status', () => {
    expect(parseReply('250 2500 bytes accepted', 'DATA')).toMatchObject({
      code: 250,
      enhanced: null,
      text: '2500 bytes accepted',
    });
  });

  it('keeps text that is not a reply whole, with no code', () => {
    expect(parseReply('connection reset', null)).toEqual({
      code: null,
      enhanced: null,
      text: 'connection reset',
      command: null,
    });
  });
});
