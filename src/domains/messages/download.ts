import { headerText } from '../../mail/header-value.ts';

/**
 * How a file that came in a message (anyone's file) is served: always as a download, never as a
 * page of ours. A browser that opened an attachment inline as text/html or image/svg+xml would run
 * its script with the UI's origin and session.
 *
 * - Content-Type: the type the message claims only when it is on a small list of types a browser
 *   renders without running anything (raster images, PDF, plain text); anything else, SVG and HTML
 *   included, is application/octet-stream.
 * - Content-Disposition: attachment, with the name as RFC 6266 says: an ASCII `filename` for old
 *   clients and the exact name in `filename*` (RFC 8187, UTF-8, percent-encoded).
 * - X-Content-Type-Options: nosniff, so that no browser guesses a more dangerous type from the bytes.
 * - Content-Security-Policy: sandbox, so that even a file opened by hand runs no script in our origin.
 */
export const SAFE_CONTENT_TYPES: ReadonlySet<string> = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
  'application/pdf',
  'text/plain',
]);

/** The type to serve: the claimed one, without parameters, when it is safe; otherwise octet-stream. */
export function servedContentType(claimed: string): string {
  const type = claimed.split(';', 1)[0]!.trim().toLowerCase();
  return SAFE_CONTENT_TYPES.has(type) ? type : 'application/octet-stream';
}

/** The last part of a path-like name, one line, at most 200 characters; "attachment" when nothing is left. */
function baseName(filename: string): string {
  const line = headerText(filename).trim();
  const base = line.split(/[/\\]/).pop()!.trim();
  const cut = [...base].slice(0, 200).join('');
  return cut.replace(/^\.+$/, '') || 'attachment';
}

/** RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; every other byte of the UTF-8 is %XX. */
function extValue(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9!#$&+\-.^_`|~]/.test(char)
        ? char
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** `attachment; filename="ascii"; filename*=UTF-8''exact` (RFC 6266 section 4.3). */
export function contentDisposition(filename: string): string {
  const name = baseName(filename);
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${extValue(name)}`;
}

/** For someone else's bytes served as they came (a raw message): never sniffed, never a page of ours. */
export const UNTRUSTED_BYTES_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "sandbox; default-src 'none'",
};

export function downloadHeaders(filename: string, contentType: string): Record<string, string> {
  return {
    'content-type': servedContentType(contentType),
    'content-disposition': contentDisposition(filename),
    ...UNTRUSTED_BYTES_HEADERS,
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'private, no-cache',
  };
}
