import { isAscii } from 'node:buffer';
import { TextDecoder } from 'node:util';

const decoders = new Map<string, TextDecoder | null>();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const fallback = new TextDecoder('windows-1252');

/** Charsets whose ASCII bytes do not stand for themselves, so the ASCII shortcut is wrong for them. */
const STATEFUL = /^(?:iso-2022|utf-7|utf-16|utf-32|ucs-2|hz)/;

function decoderFor(label: string): TextDecoder | null {
  let decoder = decoders.get(label);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(label);
    } catch {
      decoder = null;
    }
    if (decoders.size < 256) decoders.set(label, decoder);
  }
  return decoder;
}

/**
 * Turns bytes into text under a declared charset. A missing, unknown or lying charset never fails:
 * the bytes are tried as UTF-8 and otherwise read as windows-1252, which maps every byte.
 */
export function decodeBytes(bytes: Uint8Array, charset: string | undefined | null): string {
  const label = (charset ?? '').trim().toLowerCase();
  if (!STATEFUL.test(label) && isAscii(bytes)) return Buffer.from(bytes).toString('latin1');
  const declared =
    label && label !== 'us-ascii' && label !== 'utf-8' && label !== 'utf8' ? decoderFor(label) : null;
  if (declared) return declared.decode(bytes);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return fallback.decode(bytes);
  }
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Decodes quoted-printable (RFC 2045) from a latin1 string; malformed escapes are kept as they are. */
export function decodeQuotedPrintable(text: string): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  let length = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code === 61 /* = */) {
      if (text[i + 1] === '\n') {
        i += 1;
        continue;
      }
      if (text[i + 1] === '\r' && text[i + 2] === '\n') {
        i += 2;
        continue;
      }
      const high = hexValue(text.charCodeAt(i + 1));
      const low = hexValue(text.charCodeAt(i + 2));
      if (high >= 0 && low >= 0) {
        out[length++] = high * 16 + low;
        i += 2;
        continue;
      }
    }
    out[length++] = code & 0xff;
  }
  return out.subarray(0, length);
}
