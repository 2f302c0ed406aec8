/**
 * GET /api/messages/{id}/attachments/{index}: every attachment, sent or received, is a download
 * (Content-Disposition: attachment, RFC 6266 file names), never sniffed (nosniff), sandboxed by its
 * own Content-Security-Policy, and served with its claimed type only when that type is on the safe
 * list (raster images, PDF, plain text): HTML and SVG go out as application/octet-stream.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { classifyMessage } from '../../bounces/classify/index.ts';
import { newId } from '../../db/ids.ts';
import { contentHash, parseMessage } from '../../mail/parse.ts';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';
import { contentDisposition, servedContentType } from './download.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const HTML = Buffer.from('<html><body><script>parent.document.title="pwned"</script></body></html>');
const SVG = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
);

async function download(baseUrl: string, path: string, token: string) {
  const response = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

function expectDownload(response: Response) {
  expect(response.status).toBe(200);
  expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="/);
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('content-security-policy')).toMatch(/^sandbox\b/);
}

describe('download headers', () => {
  it('keep the claimed type only for raster images, PDF and plain text', () => {
    for (const type of [
      'image/png',
      'image/JPEG',
      'image/gif',
      'image/webp',
      'application/pdf',
      'text/plain; charset=utf-8',
    ]) {
      expect(servedContentType(type)).toBe(type.split(';')[0]!.toLowerCase());
    }
    for (const type of [
      'text/html',
      'image/svg+xml',
      'application/xhtml+xml',
      'text/xml',
      'application/javascript',
      'text/css',
      'multipart/related',
      'message/rfc822',
      'application/x-shockwave-flash',
      '',
      'text/plain\r\nX: y',
    ]) {
      expect(servedContentType(type), type).toBe('application/octet-stream');
    }
  });

  it('name the file as RFC 6266 says: an ASCII fallback and the exact name in UTF-8', () => {
    expect(contentDisposition('report.pdf')).toBe(
      `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`,
    );
    expect(contentDisposition('Prüfbericht 2026 (final).pdf')).toBe(
      `attachment; filename="Pr_fbericht 2026 (final).pdf"; filename*=UTF-8''Pr%C3%BCfbericht%202026%20%28final%29.pdf`,
    );
    expect(contentDisposition('a "quoted" 100%.txt')).toBe(
      `attachment; filename="a _quoted_ 100_.txt"; filename*=UTF-8''a%20%22quoted%22%20100%25.txt`,
    );
    // Paths, line breaks and empty names.
    expect(contentDisposition('../../etc/passwd')).toMatch(/filename="passwd"/);
    expect(contentDisposition('C:\\Users\\x\\evil.exe')).toMatch(/filename="evil.exe"/);
    expect(contentDisposition('a\r\nSet-Cookie: x=1.txt')).toBe(
      `attachment; filename="a Set-Cookie: x=1.txt"; filename*=UTF-8''a%20Set-Cookie%3A%20x%3D1.txt`,
    );
    expect(contentDisposition('')).toMatch(/filename="attachment"/);
    expect(contentDisposition('..')).toMatch(/filename="attachment"/);
  });
});

describe.each(testDialects)('attachments on %s', (dialect) => {
  const testApp = useTestApp(dialect, { RATE_LIMIT_SEND_PER_USER: '0', RATE_LIMIT_SEND_PER_IP: '0' });
  let user: SignedIn;
  let outsider: SignedIn;
  let accountId: string;
  const call = (method: string, path: string, body?: unknown, as: SignedIn = user) =>
    request<Body>(testApp.current.baseUrl, method, path, { token: as.token, body });
  const get = (path: string, as: SignedIn = user) => download(testApp.current.baseUrl, path, as.token);

  /** Files a raw message as the mailbox worker does after reading it (only its head when truncated). */
  async function receive(raw: Buffer, truncated = false) {
    const kept = truncated ? raw.subarray(0, raw.indexOf('\r\n\r\n') + 2) : raw;
    await testApp.current.container.services.incoming.store(
      { id: accountId, orgId: user.orgId, markIncomingPrivate: false },
      [
        {
          fetched: {
            folder: 'INBOX',
            serverId: `uid-${newId()}`,
            raw: kept,
            size: raw.length,
            truncated,
            receivedAt: new Date(),
          },
          parsed: await parseMessage(kept),
          hash: contentHash(kept),
          verdict: classifyMessage(kept),
        },
      ],
      async () => {},
    );
  }

  async function received(subject: string): Promise<Body> {
    const list = await call('GET', `/api/messages?direction=in&accountId=${accountId}`);
    return (list.body.items as Body[]).find((item) => item.subject === subject)!;
  }

  beforeAll(async () => {
    user = await signUp(testApp.current.container, { org: 'Files Ltd' });
    outsider = await signUp(testApp.current.container, { org: 'Elsewhere' });
    const account = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'Files',
      email: 'files@files.test',
      smtp: { host: '127.0.0.1', port: 2525, security: 'none', requiresAuth: false },
    });
    expect(account.status, JSON.stringify(account.body)).toBe(201);
    accountId = account.body.id;
  });

  it('serves a sent message’s attachments as downloads, dangerous types as octet-stream', async () => {
    const files = [
      { filename: 'photo.png', contentType: 'image/png', content: PNG, served: 'image/png' },
      { filename: 'page.html', contentType: 'text/html', content: HTML, served: 'application/octet-stream' },
      {
        filename: 'logo.svg',
        contentType: 'image/svg+xml',
        content: SVG,
        served: 'application/octet-stream',
      },
      {
        filename: 'Prüfbericht.pdf',
        contentType: 'application/pdf',
        content: Buffer.from('%PDF-1.4'),
        served: 'application/pdf',
      },
      {
        filename: 'notes.txt',
        contentType: 'text/plain',
        content: Buffer.from('hello'),
        served: 'text/plain',
      },
    ];
    const queued = await call('POST', '/api/messages', {
      accountId,
      to: ['bob@example.test'],
      subject: 'Files',
      text: 'See attached.',
      attachments: files.map((file) => ({
        filename: file.filename,
        contentType: file.contentType,
        content: file.content.toString('base64'),
      })),
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    const id = queued.body.id as string;

    for (const [index, file] of files.entries()) {
      const { response, bytes } = await get(`/api/messages/${id}/attachments/${index}`);
      expectDownload(response);
      expect(response.headers.get('content-type')).toBe(file.served);
      expect(response.headers.get('content-disposition')).toBe(contentDisposition(file.filename));
      expect(bytes.equals(file.content)).toBe(true);
    }
    const missing = await call('GET', `/api/messages/${id}/attachments/${files.length}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('ATTACHMENT_NOT_FOUND');
    expect((await call('GET', `/api/messages/${id}/attachments/0`, undefined, outsider)).status).toBe(404);
    expect((await call('GET', `/api/messages/${id}/attachments/-1`)).status).toBe(400);
  });

  it('serves a received message’s attachments from the kept raw message, inline images named by Content-ID', async () => {
    const raw = Buffer.from(
      [
        'From: Eve <eve@evil.test>',
        'To: files@files.test',
        'Subject: Pictures',
        `Message-ID: <${newId()}@evil.test>`,
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="outer"',
        '',
        '--outer',
        'Content-Type: multipart/related; boundary="rel"',
        '',
        '--rel',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<p>Look: <img src="cid:logo@evil.test"></p>',
        '--rel',
        'Content-Type: image/png',
        'Content-ID: <logo@evil.test>',
        'Content-Transfer-Encoding: base64',
        '',
        PNG.toString('base64'),
        '--rel--',
        '--outer',
        'Content-Type: text/html; name="invoice.html"',
        'Content-Disposition: attachment; filename="invoice.html"',
        '',
        HTML.toString(),
        '--outer--',
        '',
      ].join('\r\n'),
    );
    await receive(raw);
    const message = await received('Pictures');
    expect(message.attachments).toEqual([
      { filename: '', contentType: 'image/png', size: PNG.length, contentId: 'logo@evil.test', inline: true },
      {
        filename: 'invoice.html',
        contentType: 'text/html',
        size: HTML.length,
        contentId: null,
        inline: false,
      },
    ]);

    const image = await get(`/api/messages/${message.id}/attachments/0`);
    expectDownload(image.response);
    expect(image.response.headers.get('content-type')).toBe('image/png');
    expect(image.bytes.equals(PNG)).toBe(true);

    const page = await get(`/api/messages/${message.id}/attachments/1`);
    expectDownload(page.response);
    expect(page.response.headers.get('content-type')).toBe('application/octet-stream');
    expect(page.response.headers.get('content-disposition')).toBe(contentDisposition('invoice.html'));
    expect(page.bytes.toString()).toBe(HTML.toString());

    // The raw message itself is never a page of ours either.
    const rawResponse = await get(`/api/messages/${message.id}/raw`);
    expect(rawResponse.response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(rawResponse.response.headers.get('content-security-policy')).toMatch(/^sandbox\b/);
  });

  it('has no attachment to serve from a message above the size cap, whose head alone was kept', async () => {
    const raw = Buffer.from(
      `From: eve@evil.test\r\nSubject: Too big\r\nMessage-ID: <${newId()}@evil.test>\r\n` +
        'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\n\r\nx\r\n--b--\r\n',
    );
    await receive(raw, true);
    const message = await received('Too big');
    const response = await call('GET', `/api/messages/${message.id}/attachments/0`);
    expect(response.status).toBe(404);
    expect(response.body.error).toMatchObject({ code: 'ATTACHMENT_NOT_FOUND' });
    expect(response.body.error.message).toMatch(/size cap/);
  });
});
