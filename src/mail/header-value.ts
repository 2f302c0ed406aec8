/**
 * The one gate for text that becomes part of a header Mailroom writes: display names, subjects,
 * sender-template output, reply-to, the custom headers a caller may set, List-Unsubscribe, alert
 * subjects, attachment file names. A header ends at a line break, so a value that carries one can
 * start a header of its own (header injection) or split the one it is in.
 *
 * What counts as a break here is wider than CR and LF:
 * - CR, LF and every other C0 control (NUL, HT, VT, FF, ESC…) and DEL: nodemailer already turns CR
 *   and LF into spaces and MIME-encodes the other controls, but an encoded word decodes back into
 *   the same control character at every reader (mailparser included), so a NUL or a CR still
 *   reaches the program that reads the header;
 * - the C1 controls U+0080–U+009F, NEL (U+0085) among them, which some readers take as a newline;
 * - the Unicode LINE SEPARATOR and PARAGRAPH SEPARATOR (U+2028, U+2029), which JavaScript, JSON
 *   consumers and many text renderers treat as line ends.
 *
 * Two ways through, one character class:
 * - `isHeaderSafe` / `headerSafePattern`: user input at the API is refused (400 naming the field),
 *   because the person or program that sent it is there to fix it and a silently changed subject or
 *   name is a surprise;
 * - `headerText`: everything composed is passed through it (src/mail/compose.ts, and the sender
 *   templates filled from contact fields), which replaces each run of such characters with one
 *   space. Contact fields are data, not header text, and there is nobody to show an error to when
 *   a queued message is composed; a space keeps the words apart.
 */

const BREAKING_CLASS = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029';

/** For JSON Schema `pattern`: a value without any character that could break a header line. */
export const headerSafePattern = `^[^${BREAKING_CLASS}]*$`;

/** Runs of characters that could break a header line. */
export const headerBreakingCharacters = new RegExp(`[${BREAKING_CLASS}]+`, 'gu');

const anyBreaking = new RegExp(`[${BREAKING_CLASS}]`, 'u');

export function isHeaderSafe(value: string): boolean {
  return !anyBreaking.test(value);
}

/** The value with each run of line-breaking or control characters replaced by one space. */
export function headerText(value: string): string {
  return value.replace(headerBreakingCharacters, ' ');
}

/** RFC 5322 field name: printable ASCII but the colon. */
const fieldName = /^[\x21-\x39\x3b-\x7e]{1,76}$/;

export function isHeaderName(name: string): boolean {
  return fieldName.test(name);
}
