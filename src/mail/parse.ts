/**
 * Turns a raw incoming message into what Mailroom stores. The body is parsed with mailparser;
 * the header block is read here, byte for byte, so that header names stay as written, values come
 * out in order, unfolded and decoded, and the same reading serves `contentHash` and `headerBlock`.
 * Knows nothing of the database.
 */
import { createHash, type Hash } from 'node:crypto';
import { parseAddressHeader, simpleParser } from 'mailparser';
import type { ParsedMail, SimpleParserOptions } from 'mailparser';

export interface ParsedAddress {
  name: string | null;
  /** As written in the header (an internationalised domain is not decoded), trimmed. */
  address: string;
}

export interface ParsedAttachment {
  filename: string | null;
  contentType: string;
  /** Decoded size in bytes. */
  size: number;
  /** Without angle brackets. */
  contentId: string | null;
  /** Disposition `inline`, or an embedded part of multipart/related (an image the HTML shows). */
  inline: boolean;
  /** sha-256 hex of the decoded content. */
  checksum: string;
}

export interface ParsedMessage {
  /** The Message-ID header, without angle brackets; null when absent or empty. */
  messageId: string | null;
  /** The first id of In-Reply-To, without brackets. */
  inReplyTo: string | null;
  /** The ids of References, without brackets, in order, each once. */
  references: string[];
  /** '' when absent. */
  subject: string;
  /** The first From mailbox. */
  from: ParsedAddress | null;
  sender: ParsedAddress | null;
  replyTo: ParsedAddress[];
  to: ParsedAddress[];
  cc: ParsedAddress[];
  /** The Date header as UTC ISO-8601; null when absent or not a date. */
  date: string | null;
  /** Cut to `maxTextBytes` of UTF-8. Text converted from the HTML when there is no plain part. */
  text: string | null;
  /** Cut to `maxTextBytes` of UTF-8. */
  html: string | null;
  /** Every header field of the message in order: names as written, values unfolded and RFC 2047 decoded. */
  headers: { name: string; value: string }[];
  attachments: ParsedAttachment[];
  /** Auto-Submitted other than "no", Precedence bulk/junk/list/auto_reply, X-Autoreply and kin, or a null Return-Path. */
  autoSubmitted: boolean;
}

export type ParseOutcome = { ok: true; message: ParsedMessage } | { ok: false; error: string };

export interface ParseOptions {
  /** The most UTF-8 bytes kept of each of text and html; the rest is cut off. Default 1 MiB. */
  maxTextBytes?: number;
}

const DEFAULT_MAX_TEXT_BYTES = 1024 * 1024;
/** HTML longer than this (in characters) is not converted to text: html-to-text takes ~0.35 s a MiB. */
const MAX_HTML_TO_TEXT = 2 * 1024 * 1024;
/** The largest header block of one MIME part mailparser reads (a larger one is a parse error). */
const MAX_HEAD_SIZE = 1024 * 1024;
/** The most MIME parts one message may have (more is a parse error); bounds nesting too. */
const MAX_PARTS = 1000;

/**
 * The caps on the parser's work, whatever the input. The raw message itself is capped before it
 * gets here (RAW_MESSAGE_MAX_BYTES: above it only the header block is fetched and kept, flagged as
 * truncated). A message over a cap is not dropped: it is stored with its raw bytes and the error
 * (quarantined), and never parsed again.
 */
export const PARSE_LIMITS = {
  /** Bytes of one header block (the message's or one part's). */
  maxHeadBytes: MAX_HEAD_SIZE,
  /** MIME nodes, containers included: every nesting level is one, so this bounds depth too. */
  maxParts: MAX_PARTS,
  /** UTF-8 bytes kept of each of text and html, by default. */
  maxTextBytes: DEFAULT_MAX_TEXT_BYTES,
  /** Characters of HTML converted to text when there is no text part. */
  maxHtmlToText: MAX_HTML_TO_TEXT,
} as const;

const TRACE_HEADERS = new Set(['received', 'return-path', 'delivered-to', 'x-original-to']);

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

// ---------------------------------------------------------------------------------------------
// The header block, read as bytes

/** Where the header block ends: the start of the first empty line, or the end of the message. */
function headerEnd(raw: Buffer): number {
  if (raw[0] === LF || (raw[0] === CR && raw[1] === LF)) return 0;
  let nl = raw.indexOf(LF);
  while (nl !== -1) {
    const next = raw[nl + 1];
    if (next === LF || (next === CR && raw[nl + 2] === LF)) return nl + 1;
    nl = raw.indexOf(LF, nl + 1);
  }
  return raw.length;
}

interface RawField {
  /** Lower-cased; null for a line that is no header field (an mbox "From " line, junk). */
  key: string | null;
  /** The name as written. */
  name: string;
  start: number;
  /** Where the value starts (after the colon). */
  valueStart: number;
  /** After the field's last line break, continuation lines included. */
  end: number;
}

/** Where the field name at `start` (printable ASCII but ':') ends and its colon is; null when the line is no field. */
function fieldNameEnd(raw: Buffer, start: number, end: number): { nameEnd: number; colon: number } | null {
  let i = start;
  while (i < end) {
    const b = raw[i]!;
    if (b === COLON || b === SP || b === HT) break;
    if (b < 0x21 || b > 0x7e) return null;
    i++;
  }
  const nameEnd = i;
  while (i < end && (raw[i] === SP || raw[i] === HT)) i++;
  if (nameEnd === start || raw[i] !== COLON) return null;
  return { nameEnd, colon: i };
}

/** The header fields (and stray lines) of the block that ends at `end`, in order. */
function headerFields(raw: Buffer, end: number): RawField[] {
  const fields: RawField[] = [];
  let pos = 0;
  while (pos < end) {
    const nl = raw.indexOf(LF, pos);
    const lineEnd = nl === -1 || nl >= end ? end : nl + 1;
    const first = raw[pos];
    const last = fields[fields.length - 1];
    if ((first === SP || first === HT) && last) {
      last.end = lineEnd;
    } else {
      const found = fieldNameEnd(raw, pos, lineEnd);
      const name = found ? raw.toString('latin1', pos, found.nameEnd) : '';
      fields.push({
        key: found ? name.toLowerCase() : null,
        name,
        start: pos,
        valueStart: found ? found.colon + 1 : pos,
        end: lineEnd,
      });
    }
    pos = lineEnd;
  }
  return fields;
}

/** Where `updateNormalised` gathers LF-only lines, so that the hash sees few large updates. */
const scratch = Buffer.allocUnsafe(64 * 1024);

/** Feeds raw[start, end) to the hash with every line break (LF or CRLF) written as CRLF. */
function updateNormalised(hash: Hash, raw: Buffer, start: number, end: number): void {
  let run = start; // the start of the bytes not yet fed nor gathered
  let filled = 0;
  const gather = (from: number, to: number) => {
    if (filled + (to - from) + 2 > scratch.length) {
      hash.update(scratch.subarray(0, filled));
      filled = 0;
    }
    if (to - from + 2 > scratch.length) hash.update(raw.subarray(from, to));
    else if (to - from < 64) for (let i = from; i < to; i++) scratch[filled++] = raw[i]!;
    else filled += raw.copy(scratch, filled, from, to);
    scratch[filled++] = CR;
    scratch[filled++] = LF;
  };
  let nl = raw.indexOf(LF, start);
  while (nl !== -1 && nl < end) {
    if (nl === start || raw[nl - 1] !== CR) {
      gather(run, nl);
      run = nl + 1;
    }
    nl = raw.indexOf(LF, nl + 1);
  }
  if (filled > 0) hash.update(scratch.subarray(0, filled));
  if (end > run) hash.update(raw.subarray(run, end));
}

/**
 * Only the header block of a raw message, up to the first empty line, which is left out unless
 * `withEmptyLine` (as a server's TOP n 0 sends it); all of it when there is no empty line. A copy.
 */
export function headerBlock(raw: Buffer, { withEmptyLine = false } = {}): Buffer {
  let end = headerEnd(raw);
  if (withEmptyLine && end < raw.length) end += raw[end] === LF ? 1 : 2;
  return Buffer.from(raw.subarray(0, end));
}

/**
 * sha-256 hex of the raw message without its trace headers (Received, Return-Path, Delivered-To,
 * X-Original-To) and with every line break written as CRLF, so that the same mail delivered to two
 * mailboxes, or stored with LF line ends, hashes alike. One pass, no copy of the message.
 */
export function contentHash(raw: Buffer): string {
  const hash = createHash('sha256');
  const end = headerEnd(raw);
  for (const field of headerFields(raw, end)) {
    if (field.key === null || !TRACE_HEADERS.has(field.key))
      updateNormalised(hash, raw, field.start, field.end);
  }
  updateNormalised(hash, raw, end, raw.length);
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Header values

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');
const windows1252 = new TextDecoder('windows-1252');

/** 8-bit header bytes: UTF-8 (RFC 6532) when they are valid UTF-8, else the legacy Windows-1252. */
function decodeBytes(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return windows1252.decode(bytes);
  }
}

function decodeCharset(charset: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    // An unknown charset (or UTF-7, which TextDecoder does not offer): keep what UTF-8 can read.
    return utf8Lenient.decode(bytes);
  }
}

function qDecode(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const hex = c === '=' ? text.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c === '_' ? SP : c.charCodeAt(0) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=/g;

/**
 * RFC 2047: encoded words decoded; the white space between two of them dropped; adjacent words in
 * one charset joined before decoding, so a character split across them survives.
 */
function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  let out = '';
  let last = 0;
  let charset: string | null = null;
  let chunks: Buffer[] = [];
  const flush = () => {
    if (charset !== null) out += decodeCharset(charset, Buffer.concat(chunks));
    charset = null;
    chunks = [];
  };
  for (const match of value.matchAll(ENCODED_WORD)) {
    const between = value.slice(last, match.index);
    const wordCharset = match[1]!.toLowerCase();
    if (charset !== wordCharset || !/^[ \t]*$/.test(between)) {
      flush();
      // White space between two encoded words is dropped, even when their charsets differ.
      if (!(last > 0 && /^[ \t]*$/.test(between))) out += between;
    }
    charset = wordCharset;
    const text = match[3]!;
    chunks.push(match[2]!.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : qDecode(text));
    last = match.index + match[0].length;
  }
  flush();
  return out + value.slice(last);
}

/** No CR, LF or NUL (a database text column takes no NUL); runs of line breaks become one space. */
const clean = (value: string) => value.replace(/\0/g, '').replace(/[\r\n]+/g, ' ');

interface HeaderField {
  key: string;
  name: string;
  /** Unfolded and trimmed, encoded words left as they are (what address parsing wants). */
  raw: string;
  /** `raw` with encoded words decoded. */
  value: string;
}

function readHeaders(raw: Buffer, fields: RawField[]): HeaderField[] {
  const headers: HeaderField[] = [];
  for (const field of fields) {
    if (field.key === null) continue;
    const text = decodeBytes(raw.subarray(field.valueStart, field.end))
      .replace(/\r?\n(?=[ \t])/g, '')
      .trim();
    const unfolded = clean(text);
    headers.push({
      key: field.key,
      name: field.name,
      raw: unfolded,
      value: clean(decodeWords(unfolded)).trim(),
    });
  }
  return headers;
}

const first = (headers: HeaderField[], key: string) => headers.find((h) => h.key === key);
const all = (headers: HeaderField[], key: string) => headers.filter((h) => h.key === key);

/** The ids of a Message-ID-like header: the bracketed ones, else the bare tokens with an '@'. */
function messageIds(value: string): string[] {
  const bracketed = [...value.matchAll(/<([^<>]*)>/g)].map((m) => m[1]!.replace(/\s+/g, '')).filter(Boolean);
  if (bracketed.length > 0) return bracketed;
  return value.split(/[\s,]+/).filter((token) => token.includes('@'));
}

function addresses(fields: HeaderField[]): ParsedAddress[] {
  if (fields.length === 0) return [];
  const parsed = parseAddressHeader(
    fields.map((f) => f.raw),
    { flatten: true, decodePunycode: false },
  );
  const out: ParsedAddress[] = [];
  for (const entry of parsed.value) {
    const address = entry.address?.trim();
    if (address) out.push({ name: clean(entry.name).trim() || null, address });
  }
  return out;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** RFC 5322 obsolete zones in minutes east of UTC; military and unknown zones count as UTC. */
const ZONES: Record<string, number> = {
  ut: 0,
  gmt: 0,
  utc: 0,
  z: 0,
  edt: -240,
  est: -300,
  cdt: -300,
  cst: -360,
  mdt: -360,
  mst: -420,
  pdt: -420,
  pst: -480,
};
const RFC5322_DATE =
  /^(?:[a-z]+\s*,?\s*)?(\d{1,2})\s*([a-z]{3})[a-z]*\.?\s*(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([+-]\d{4}|[a-z]+)?\b/i;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** The Date header as UTC ISO-8601: RFC 5322 (obsolete forms too) or ISO 8601; null otherwise. */
function parseDate(value: string): string | null {
  const text = value
    .replace(/\([^()]*\)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length > 200) return null;
  if (ISO_DATE.test(text)) {
    const ms = Date.parse(text.replace(' ', 'T'));
    return Number.isNaN(ms) ? null : new Date(ms).toISOString();
  }
  const m = RFC5322_DATE.exec(text);
  if (!m) return null;
  const [, dayText, monthText, yearText, hourText, minuteText, secondText, zoneText] = m;
  const day = Number(dayText);
  const month = MONTHS.indexOf(monthText!.toLowerCase());
  let year = Number(yearText);
  if (yearText!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (yearText!.length === 3) year += 1900;
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Math.min(Number(secondText ?? 0), 59);
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return null;
  let offset = 0;
  if (zoneText && /^[+-]\d{4}$/.test(zoneText)) {
    const sign = zoneText[0] === '-' ? -1 : 1;
    offset = sign * (Number(zoneText.slice(1, 3)) * 60 + Number(zoneText.slice(3, 5)));
  } else if (zoneText) {
    offset = ZONES[zoneText.toLowerCase()] ?? 0;
  }
  const local = new Date(Date.UTC(year, month, day, hour, minute, second));
  if (local.getUTCDate() !== day) return null; // 31 Feb and the like
  return new Date(local.getTime() - offset * 60_000).toISOString();
}

const AUTO_REPLY_HEADERS = [
  'x-autoreply',
  'x-autorespond',
  'x-autoresponder',
  'x-autoreply-from',
  'x-mail-autoreply',
];

function isAutoSubmitted(headers: HeaderField[]): boolean {
  const token = (key: string) =>
    first(headers, key)
      ?.value.split(/[;\s(]/, 1)[0]!
      .toLowerCase() ?? null;
  const auto = token('auto-submitted');
  if (auto !== null && auto !== '' && auto !== 'no') return true;
  if (['bulk', 'junk', 'list', 'auto_reply'].includes(token('precedence') ?? '')) return true;
  for (const key of AUTO_REPLY_HEADERS) {
    const value = token(key);
    if (value !== null && value !== 'no' && value !== 'false') return true;
  }
  // A null reverse path: a bounce, a read receipt, a vacation reply done right (RFC 3834).
  return first(headers, 'return-path')?.raw.replace(/\s/g, '') === '<>';
}

// ---------------------------------------------------------------------------------------------
// The message

/** The longest prefix of `text` whose UTF-8 takes at most `maxBytes`; never splits a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length <= maxBytes / 3 || Buffer.byteLength(text) <= maxBytes) return text;
  const { read } = new TextEncoder().encodeInto(text, new Uint8Array(maxBytes));
  return text.slice(0, read);
}

/**
 * Why `raw` is not a message at all, or null when it may be one: it has to start with a header
 * field (an mbox "From " line before it is allowed), and its header block holds no NUL.
 */
function notAMessage(raw: Buffer, end: number, fields: RawField[]): string | null {
  if (raw.length === 0) return 'empty message';
  const start = fields[0]?.key === null && raw.subarray(0, 5).toString('latin1') === 'From ' ? 1 : 0;
  if (!fields[start]?.key) return 'not a message: it does not start with a header field';
  if (raw.subarray(0, end).includes(0)) return 'not a message: NUL byte in the header block';
  return null;
}

const PARSER_OPTIONS: SimpleParserOptions = {
  skipImageLinks: true,
  keepCidLinks: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  checksumAlgo: 'sha256',
  maxHtmlLengthToParse: MAX_HTML_TO_TEXT,
  maxHeadSize: MAX_HEAD_SIZE,
  maxChildNodes: MAX_PARTS,
};

function attachmentsOf(mail: ParsedMail): ParsedAttachment[] {
  return mail.attachments.map((a) => ({
    filename: a.filename ? clean(a.filename) : null,
    contentType: a.contentType,
    size: a.size,
    contentId: a.cid ?? (a.contentId ? a.contentId.replace(/^<|>$/g, '') : null),
    inline: a.contentDisposition === 'inline' || a.related === true,
    checksum: a.checksum,
  }));
}

function bodyText(value: string | false | undefined, maxBytes: number): string | null {
  return typeof value === 'string' ? truncateUtf8(value.replace(/\0/g, ''), maxBytes) : null;
}

/**
 * Parses a raw message. Never throws: a parser failure, or input that is no message at all (binary
 * junk, text without a header), is `{ ok: false, error }`. A header block alone (a message fetched
 * truncated) parses. Bounded: header blocks over 1 MiB and more than 1000 MIME parts are errors.
 */
export async function parseMessage(raw: Buffer, options: ParseOptions = {}): Promise<ParseOutcome> {
  const maxTextBytes = options.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
  try {
    const end = headerEnd(raw);
    if (end > MAX_HEAD_SIZE) return { ok: false, error: `header block larger than ${MAX_HEAD_SIZE} bytes` };
    const fields = headerFields(raw, end);
    const junk = notAMessage(raw, end, fields);
    if (junk !== null) return { ok: false, error: junk };
    const mail = await simpleParser(raw, PARSER_OPTIONS);
    const attachments = attachmentsOf(mail);
    mail.attachments.length = 0; // let go of the contents now that they are hashed and sized
    const headers = readHeaders(raw, fields);
    const messageId = first(headers, 'message-id');
    const inReplyTo = first(headers, 'in-reply-to');
    const date = first(headers, 'date');
    const references = all(headers, 'references').flatMap((h) => messageIds(h.value));
    return {
      ok: true,
      message: {
        messageId: messageId
          ? (messageIds(messageId.value)[0] ?? (messageId.value.replace(/[<>\s]/g, '') || null))
          : null,
        inReplyTo: inReplyTo ? (messageIds(inReplyTo.value)[0] ?? null) : null,
        references: [...new Set(references)],
        subject: first(headers, 'subject')?.value ?? '',
        from: addresses(all(headers, 'from').slice(0, 1))[0] ?? null,
        sender: addresses(all(headers, 'sender').slice(0, 1))[0] ?? null,
        replyTo: addresses(all(headers, 'reply-to').slice(0, 1)),
        to: addresses(all(headers, 'to')),
        cc: addresses(all(headers, 'cc')),
        date: date ? parseDate(date.value) : null,
        text: bodyText(mail.text, maxTextBytes),
        html: bodyText(mail.html, maxTextBytes),
        headers: headers.map((h) => ({ name: h.name, value: h.value })),
        attachments,
        autoSubmitted: isAutoSubmitted(headers),
      },
    };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

export interface AttachmentContent {
  filename: string | null;
  contentType: string;
  content: Buffer;
}

/**
 * The decoded content of the `index`th attachment of a raw message, in the order `parseMessage`
 * lists them; null when there is no such attachment or the message does not parse (within the same
 * caps).
 */
export async function attachmentContent(raw: Buffer, index: number): Promise<AttachmentContent | null> {
  try {
    if (headerEnd(raw) > MAX_HEAD_SIZE) return null;
    const mail = await simpleParser(raw, PARSER_OPTIONS);
    const attachment = mail.attachments[index];
    if (!attachment) return null;
    return {
      filename: attachment.filename ? clean(attachment.filename) : null,
      contentType: attachment.contentType,
      content: attachment.content,
    };
  } catch {
    return null;
  }
}
