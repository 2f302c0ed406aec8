import {
  MAX_DEPTH,
  MAX_HEADER_FIELDS,
  MAX_HEADER_VALUE,
  MAX_MESSAGE_BYTES,
  MAX_PARTS,
  MAX_PART_TEXT,
} from './limits.ts';
import { decodeBytes, decodeQuotedPrintable } from './charset.ts';

/** Lowercased field name to its unfolded raw values, in order of appearance. */
export type Headers = ReadonlyMap<string, readonly string[]>;

export interface HeaderBlock {
  headers: Headers;
  bodyStart: number;
}

export interface ContentType {
  mediaType: string;
  params: ReadonlyMap<string, string>;
}

/** One MIME entity. Offsets point into the message's latin1 source, so nothing is copied or decoded until read. */
export interface MimePart {
  headers: Headers;
  contentType: ContentType;
  bodyStart: number;
  bodyEnd: number;
  depth: number;
  /** Inside a message/rfc822 part: part of a returned or forwarded message, not of the notice itself. */
  embedded: boolean;
}

export interface MimeMessage {
  /** The first MAX_MESSAGE_BYTES of the raw message, one char per byte. */
  source: string;
  headers: Headers;
  /** Every entity walked, containers included, in document order; never more than MAX_PARTS. */
  parts: MimePart[];
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;

export function firstHeader(headers: Headers, name: string): string | null {
  return headers.get(name)?.[0] ?? null;
}

/**
 * Reads a header block from `start` up to the blank line that ends it. A line that is neither a field
 * nor a continuation also ends it, so a message with no blank line still gets a body.
 */
export function parseHeaderBlock(src: string, start: number, end: number): HeaderBlock {
  const headers = new Map<string, string[]>();
  let fields = 0;
  let name: string | null = null;
  let value = '';
  const flush = (): void => {
    if (name === null) return;
    const list = headers.get(name);
    if (list) list.push(value);
    else headers.set(name, [value]);
    name = null;
  };

  let pos = start;
  while (pos < end) {
    let nl = src.indexOf('\n', pos);
    if (nl === -1 || nl >= end) nl = end;
    let lineEnd = nl;
    if (lineEnd > pos && src.charCodeAt(lineEnd - 1) === CR) lineEnd -= 1;
    const next = Math.min(nl + 1, end);
    if (lineEnd === pos) {
      flush();
      return { headers, bodyStart: next };
    }
    const first = src.charCodeAt(pos);
    if (first === SPACE || first === TAB) {
      if (name !== null && value.length < MAX_HEADER_VALUE) {
        value += ' ' + src.slice(pos, Math.min(lineEnd, pos + MAX_HEADER_VALUE)).trim();
      }
    } else {
      const colon = src.indexOf(':', pos);
      if (colon === -1 || colon >= lineEnd) {
        // An mbox "From " line may precede the fields; any other stray line starts the body.
        if (pos !== start) {
          flush();
          return { headers, bodyStart: pos };
        }
      } else {
        flush();
        if (fields < MAX_HEADER_FIELDS) {
          name = src.slice(pos, colon).trim().toLowerCase();
          value = src.slice(colon + 1, Math.min(lineEnd, colon + 1 + MAX_HEADER_VALUE)).trim();
          fields += 1;
        }
      }
    }
    pos = next;
  }
  flush();
  return { headers, bodyStart: end };
}

/** Parses `type/subtype; name=value; name="quoted value"` without regular expressions. */
export function parseContentType(value: string | null): ContentType {
  const params = new Map<string, string>();
  if (value === null) return { mediaType: 'text/plain', params };
  const pieces: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i += 1) {
    const ch = value[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === '\\' && quoted && i + 1 < value.length) current += value[++i];
    else if (ch === ';' && !quoted) {
      pieces.push(current);
      current = '';
    } else current += ch;
  }
  pieces.push(current);
  // A folded header that lost its ";" still has the media type as its first word.
  const [head = '', ...loose] = (pieces[0] ?? '').trim().split(/[ \t]{1,64}/);
  const mediaType = head.toLowerCase() || 'text/plain';
  for (const piece of [...loose, ...pieces.slice(1)]) {
    const eq = piece.indexOf('=');
    if (eq === -1) continue;
    const key = piece.slice(0, eq).trim().toLowerCase();
    if (key && !params.has(key)) params.set(key, piece.slice(eq + 1).trim());
  }
  return { mediaType, params };
}

/**
 * Finds the body parts of a multipart entity. A delimiter counts only at the start of a line and when
 * followed by the end of the line or "--"; a missing close delimiter (truncated MIME) ends the last
 * part at the end of the entity.
 */
function splitMultipart(src: string, start: number, end: number, boundary: string): Array<[number, number]> {
  const delimiter = '--' + boundary;
  const bodies: Array<[number, number]> = [];
  let partStart = -1;
  let pos = start;
  while (pos < end && bodies.length < MAX_PARTS) {
    const at = src.indexOf(delimiter, pos);
    if (at === -1 || at + delimiter.length > end) break;
    const after = at + delimiter.length;
    const follower = after < end ? src.charCodeAt(after) : LF;
    const atLineStart = at === start || src.charCodeAt(at - 1) === LF;
    const closes = src.startsWith('--', after);
    if (
      !atLineStart ||
      !(closes || follower === LF || follower === CR || follower === SPACE || follower === TAB)
    ) {
      pos = after;
      continue;
    }
    if (partStart !== -1) {
      let partEnd = at - 1;
      if (partEnd > partStart && src.charCodeAt(partEnd - 1) === CR) partEnd -= 1;
      bodies.push([partStart, Math.max(partStart, partEnd)]);
    }
    if (closes) return bodies;
    const nl = src.indexOf('\n', after);
    if (nl === -1 || nl >= end) return bodies;
    partStart = nl + 1;
    pos = partStart;
  }
  if (partStart !== -1 && bodies.length < MAX_PARTS) bodies.push([partStart, end]);
  return bodies;
}

const EMBEDDED_TYPES = new Set(['message/rfc822', 'message/global']);

/**
 * Some MTAs send a MIME body without a Content-Type header naming its boundary. When the message body
 * opens with a delimiter-looking line ("--something") that recurs, it is taken for a multipart/mixed.
 */
function sniffBoundary(src: string, start: number, end: number): string | null {
  const head = src.slice(start, Math.min(end, start + 512));
  const match = /^--([^\s]{1,70})[ \t]{0,8}\r?$/m.exec(head);
  if (!match?.[1] || match[1].endsWith('--')) return null;
  return src.indexOf('\n--' + match[1], start + match.index + match[0].length) !== -1 ? match[1] : null;
}

function walkEntity(
  src: string,
  headers: Headers,
  bodyStart: number,
  bodyEnd: number,
  depth: number,
  embedded: boolean,
  parts: MimePart[],
): void {
  if (parts.length >= MAX_PARTS) return;
  const declared = firstHeader(headers, 'content-type');
  let contentType = parseContentType(declared);
  const unlabelled = declared === null && depth === 0;
  if (unlabelled || (contentType.mediaType.startsWith('multipart/') && !contentType.params.has('boundary'))) {
    const sniffed = sniffBoundary(src, bodyStart, bodyEnd);
    if (sniffed) contentType = { mediaType: 'multipart/mixed', params: new Map([['boundary', sniffed]]) };
  }
  parts.push({ headers, contentType, bodyStart, bodyEnd, depth, embedded });
  if (depth >= MAX_DEPTH) return;
  const { mediaType } = contentType;
  if (EMBEDDED_TYPES.has(mediaType)) {
    const encoding = (firstHeader(headers, 'content-transfer-encoding') ?? '').trim().toLowerCase();
    if (encoding === 'base64' || encoding === 'quoted-printable') return;
    const block = parseHeaderBlock(src, bodyStart, bodyEnd);
    walkEntity(src, block.headers, block.bodyStart, bodyEnd, depth + 1, true, parts);
    return;
  }
  const boundary = contentType.params.get('boundary');
  if (!mediaType.startsWith('multipart/') || !boundary) return;
  for (const [start, end] of splitMultipart(src, bodyStart, bodyEnd, boundary)) {
    if (parts.length >= MAX_PARTS) return;
    const block = parseHeaderBlock(src, start, end);
    walkEntity(src, block.headers, block.bodyStart, end, depth + 1, embedded, parts);
  }
}

/** Walks the MIME structure of the head of a raw message, into attached messages too. */
export function walkMessage(raw: Buffer): MimeMessage {
  const source = raw.toString('latin1', 0, Math.min(raw.length, MAX_MESSAGE_BYTES));
  const top = parseHeaderBlock(source, 0, source.length);
  const parts: MimePart[] = [];
  walkEntity(source, top.headers, top.bodyStart, source.length, 0, false, parts);
  return { source, headers: top.headers, parts };
}

/** Decodes the transfer encoding and charset of a part's body, reading at most `maxChars` of it. */
export function readPartText(src: string, part: MimePart, maxChars = MAX_PART_TEXT): string {
  const encoding = (firstHeader(part.headers, 'content-transfer-encoding') ?? '').trim().toLowerCase();
  const charset = part.contentType.params.get('charset');
  // Base64 and quoted-printable expand by at most 4/3 and 3, so this slice holds `maxChars` decoded.
  const raw = src.slice(part.bodyStart, Math.min(part.bodyEnd, part.bodyStart + maxChars * 3));
  let text: string;
  if (encoding === 'base64') text = decodeBytes(Buffer.from(raw, 'base64'), charset);
  else if (encoding === 'quoted-printable') text = decodeBytes(decodeQuotedPrintable(raw), charset);
  else text = decodeBytes(Buffer.from(raw, 'latin1'), charset);
  return text.length > maxChars ? text.slice(0, maxChars) : text;
}
