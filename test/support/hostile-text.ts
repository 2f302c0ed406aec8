import fc from 'fast-check';

/** Every character that must never reach a header line, named, for tests that try each. */
export const BREAKING_CHARACTERS: [name: string, character: string][] = [
  ['CR', '\r'],
  ['LF', '\n'],
  ['CRLF', '\r\n'],
  ['NUL', '\0'],
  ['HT', '\t'],
  ['VT', '\v'],
  ['ESC', '\u001b'],
  ['DEL', '\u007f'],
  ['NEL (U+0085)', '\u0085'],
  ['LINE SEPARATOR (U+2028)', '\u2028'],
  ['PARAGRAPH SEPARATOR (U+2029)', '\u2029'],
];

/** A character of the set above, or any C0/C1 control. */
// eslint-disable-next-line no-control-regex -- control characters are what this finds
export const breakingCharacter = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

/**
 * Text built to inject a header: words, colons, the breaking characters and whole header lines
 * (`\r\nBcc: …`, `\nX-Injected: yes`), mixed at random; sometimes any string at all.
 */
export const hostileHeaderText = fc.oneof(
  fc
    .array(
      fc.constantFrom(
        'Ada',
        ' ',
        ':',
        '"',
        '<',
        '>',
        ',',
        ...BREAKING_CHARACTERS.map(([, character]) => character),
        '\r\nBcc: everyone@evil.test',
        '\nX-Injected: yes',
        '\u2028X-Injected: yes',
        '\r\n\r\n<script>',
      ),
      { minLength: 1, maxLength: 12 },
    )
    .map((parts) => parts.join('')),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
);
