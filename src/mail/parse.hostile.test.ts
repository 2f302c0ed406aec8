/**
 * The path every received message takes (src/workers/mailbox-sync.ts): parseMessage, contentHash and
 * the bounce classifier, fed arbitrary bytes and structured but hostile MIME (deep nesting, many
 * parts, huge headers, broken boundaries, wrong encodings and charsets). Nothing throws, and the work
 * stays within PARSE_LIMITS: a message over a cap is an error (which the incoming path stores,
 * quarantined, with its raw bytes: see src/domains/messages/incoming-caps.test.ts), never a crash.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyMessage } from '../bounces/classify/index.ts';
import { contentHash, parseMessage, PARSE_LIMITS, type ParseOutcome } from './parse.ts';

const MAX_TEXT_BYTES = 2048;

/** What the mailbox worker does with one fetched message; throws only if something in it throws. */
async function readIncoming(raw: Buffer): Promise<ParseOutcome> {
  const started = performance.now();
  const parsed = await parseMessage(raw, { maxTextBytes: MAX_TEXT_BYTES });
  expect(contentHash(raw)).toMatch(/^[0-9a-f]{64}$/);
  expect(['bounce', 'autoreply', 'feedback', 'delivered', 'none']).toContain(classifyMessage(raw).category);
  expect(performance.now() - started).toBeLessThan(5000);
  if (parsed.ok) {
    const { message } = parsed;
    expect(Buffer.byteLength(message.text ?? '')).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    expect(Buffer.byteLength(message.html ?? '')).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    expect(message.attachments.length).toBeLessThanOrEqual(PARSE_LIMITS.maxParts);
    const headerChars = message.headers.reduce((sum, h) => sum + h.name.length + h.value.length, 0);
    expect(headerChars).toBeLessThanOrEqual(PARSE_LIMITS.maxHeadBytes);
    // What is stored is text a database takes: no NUL anywhere, no line break in a header value.
    for (const value of [message.subject, ...message.headers.map((h) => h.value)]) {
      expect(value).not.toMatch(/[\0\r\n]/);
    }
    expect(`${message.text ?? ''}${message.html ?? ''}`).not.toContain('\0');
  } else {
    expect(parsed.error).toEqual(expect.any(String));
  }
  return parsed;
}

// ---- Structured, hostile MIME ----

interface Leaf {
  kind: 'leaf';
  headers: string[];
  body: string;
}
interface Multi {
  kind: 'multi';
  subtype: string;
  boundary: string;
  /** Whether the closing delimiter is written. */
  closed: boolean;
  headers: string[];
  children: Part[];
}
interface Wrapped {
  kind: 'rfc822';
  inner: Part;
}
type Part = Leaf | Multi | Wrapped;

const contentType = fc.constantFrom(
  'text/plain; charset=utf-8',
  'text/plain; charset=iso-2022-jp',
  'text/plain; charset=utf-7',
  'text/plain; charset=x-unknown',
  'text/html; charset=windows-1252',
  'text/html',
  'message/delivery-status',
  'message/feedback-report',
  'text/rfc822-headers',
  'application/octet-stream; name="a.bin"',
  "image/png; name*=UTF-8''%E2%80%A8evil%0D%0A.png",
  'application/pdf; name="=?utf-8?b?4oCoDQo=?="',
  '',
  'garbage',
);
const encoding = fc.constantFrom(
  '',
  'base64',
  'quoted-printable',
  '7bit',
  '8bit',
  'binary',
  'x-uuencode',
  'bogus',
);
const headerLine = fc.oneof(
  contentType.map((type) => `Content-Type: ${type}`),
  encoding.map((value) => `Content-Transfer-Encoding: ${value}`),
  fc.constantFrom(
    'Content-Disposition: attachment; filename="x.txt"',
    'Content-Disposition: inline',
    'Content-Disposition: attachment; filename*0*=utf-8\'\'a%00b; filename*1="c"',
    'Content-ID: <img@x>',
    'Subject: =?utf-8?q?line=0D=0Abreak=00nul?=',
    'X-Long: ' + 'a'.repeat(2000),
    'X-Folded: a\r\n\tb\r\n c',
    'From: "=?utf-8?b?AA==?=" <a@b>',
  ),
  fc.string({ unit: 'binary-ascii', maxLength: 60 }).map((text) => `X-Junk: ${text.replace(/[\r\n]/g, ' ')}`),
);
const bodyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom(
    '=\r\n=3D=\r',
    'SGVsbG8gd29ybGQ=\r\n!!!',
    '<p onclick=x>hi<img src=//t>',
    '\0\0\0',
    '--b\r\n',
    'x'.repeat(5000),
  ),
);
const boundary = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/),
  fc.constantFrom('b', 'b b', '', '--', 'a'.repeat(200)),
);

const { part } = fc.letrec<{ part: Part; leaf: Leaf; multi: Multi; wrapped: Wrapped }>((tie) => ({
  part: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('multi'), tie('wrapped')),
  leaf: fc.record({
    kind: fc.constant('leaf' as const),
    headers: fc.array(headerLine, { maxLength: 4 }),
    body: bodyText,
  }),
  multi: fc.record({
    kind: fc.constant('multi' as const),
    subtype: fc.constantFrom(
      'mixed',
      'alternative',
      'related',
      'report; report-type=delivery-status',
      'digest',
    ),
    boundary,
    closed: fc.boolean(),
    headers: fc.array(headerLine, { maxLength: 2 }),
    children: fc.array(tie('part'), { maxLength: 5 }),
  }),
  wrapped: fc.record({ kind: fc.constant('rfc822' as const), inner: tie('part') }),
}));

function write(node: Part): string {
  if (node.kind === 'leaf') return `${node.headers.join('\r\n')}\r\n\r\n${node.body}`;
  if (node.kind === 'rfc822')
    return `Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n${write(node.inner)}`;
  const head = [`Content-Type: multipart/${node.subtype}; boundary="${node.boundary}"`, ...node.headers].join(
    '\r\n',
  );
  const parts = node.children.map((child) => `--${node.boundary}\r\n${write(child)}\r\n`).join('');
  return `${head}\r\n\r\npreamble\r\n${parts}${node.closed ? `--${node.boundary}--\r\n` : ''}epilogue`;
}

const message = (body: string) =>
  Buffer.from(
    `From: Eve <eve@evil.test>\r\nTo: a@b.test\r\nSubject: hostile\r\nMIME-Version: 1.0\r\n${body}`,
    'utf8',
  );

/**
 * A message whose header block, its own or (`inPart`) its one part's, counts `size` bytes against
 * the parser's cap: one big line beside message()'s four header lines or the part's Content-Type.
 * The parser counts a short line as 64 bytes (so that a flood of tiny lines is bounded too), and
 * each CRLF.
 */
function messageWithHeaderBlockOf(size: number, inPart: boolean): Buffer {
  const others = inPart ? 64 : 4 * 64;
  const line = `X-Big: ${'a'.repeat(Math.max(0, size - others - 2 - 'X-Big: '.length))}`;
  return inPart
    ? message(
        `Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n${line}\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n`,
      )
    : message(`${line}\r\n\r\nhi`);
}

/** A text part inside `depth` multiparts, each holding `width - 1` empty text parts beside it. */
function tree(depth: number, width: number): { raw: Buffer; nodes: number } {
  let body = 'Content-Type: text/plain\r\n\r\nleaf';
  let nodes = 1;
  for (let level = 0; level < depth; level++) {
    const siblings = Array.from(
      { length: width - 1 },
      () => `--b${level}\r\nContent-Type: text/plain\r\n\r\nx\r\n`,
    );
    body = `Content-Type: multipart/mixed; boundary=b${level}\r\n\r\n${siblings.join('')}--b${level}\r\n${body}\r\n--b${level}--`;
    nodes += width;
  }
  return { raw: message(body), nodes };
}

describe('received mail, hostile', () => {
  it('arbitrary bytes never crash the parser, the hash or the classifier', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 4096 }),
          // Past the "is this a message at all" check, into mailparser.
          fc
            .uint8Array({ maxLength: 4096 })
            .map((bytes) =>
              Buffer.concat([
                Buffer.from('From: a@b.test\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n'),
                bytes,
              ]),
            ),
        ),
        async (bytes) => {
          await readIncoming(Buffer.from(bytes));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('structured but hostile MIME never crashes and stays within the caps', async () => {
    await fc.assert(
      fc.asyncProperty(part, async (root) => {
        await readIncoming(message(write(root)));
      }),
      { numRuns: 150 },
    );
  });

  it('more MIME parts than the cap, however they nest, is an error; within it, a message', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1200 }),
        fc.integer({ min: 1, max: 40 }),
        async (depth, width) => {
          const { raw, nodes } = tree(Math.max(1, Math.floor(depth / width)), width);
          const parsed = await readIncoming(raw);
          if (nodes > PARSE_LIMITS.maxParts + 1) expect(parsed.ok).toBe(false);
          else if (nodes < PARSE_LIMITS.maxParts) expect(parsed.ok).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a header block over the cap, the message’s or a part’s, is an error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -4096, max: 4096 }), fc.boolean(), async (delta, inPart) => {
        const size = PARSE_LIMITS.maxHeadBytes + delta;
        const parsed = await readIncoming(messageWithHeaderBlockOf(size, inPart));
        if (size > PARSE_LIMITS.maxHeadBytes + 100) expect(parsed.ok).toBe(false);
        if (size < PARSE_LIMITS.maxHeadBytes - 500) expect(parsed.ok).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('counts a header block’s bytes to the cap, just under and just over it, at the top and in a part', async () => {
    for (const inPart of [false, true]) {
      for (const [delta, ok] of [
        [-40, true],
        [40, false],
      ] as const) {
        const raw = messageWithHeaderBlockOf(PARSE_LIMITS.maxHeadBytes + delta, inPart);
        expect((await readIncoming(raw)).ok, `${inPart ? 'part' : 'message'} ${delta}`).toBe(ok);
      }
    }
  });
});
