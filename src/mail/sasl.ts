/**
 * The computations of the challenge-response logins ("SPA": the password never crosses the wire),
 * shared by every protocol adapter: CRAM-MD5 (RFC 2195) and SCRAM-SHA-256 (RFC 5802, RFC 7677).
 * Strings and bytes in, strings out: the adapters carry the messages over their own connections.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

export type SpaMechanism = 'SCRAM-SHA-256' | 'CRAM-MD5';

/** A server message this client cannot accept: malformed, or not what the exchange expects. */
export class SaslError extends Error {
  override name = 'SaslError';
}

/**
 * SCRAM-SHA-256 when the server offers it (the server proves it knows the password too, and what
 * it stores is salted and iterated), else CRAM-MD5; null when it offers neither.
 */
export function chooseSpaMechanism(offered: Iterable<string>): SpaMechanism | null {
  const upper = new Set([...offered].map((mechanism) => mechanism.toUpperCase()));
  if (upper.has('SCRAM-SHA-256')) return 'SCRAM-SHA-256';
  if (upper.has('CRAM-MD5')) return 'CRAM-MD5';
  return null;
}

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

/** The answer to a CRAM-MD5 challenge (base64 in, as servers send it): base64 of "user hex-digest". */
export function cramMd5Response(user: string, pass: string, challengeBase64: string): string {
  const challenge = Buffer.from(challengeBase64.trim(), 'base64');
  const digest = createHmac('md5', pass).update(challenge).digest('hex');
  return b64(`${user} ${digest}`);
}

// ------------------------------------------------------------------------------------------ SCRAM

/** RFC 3454 C.1.2: spaces other than U+0020, which SASLprep maps to U+0020. */
const nonAsciiSpace = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
/** RFC 3454 B.1: what SASLprep maps to nothing (soft hyphen, joiners, variation selectors, BOM). */
const mappedToNothing: readonly [number, number][] = [
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x1806, 0x1806],
  [0x180b, 0x180d],
  [0x200b, 0x200d],
  [0x2060, 0x2060],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
];

/**
 * SASLprep (RFC 4013) as far as a client needs it: the mapping and NFKC normalisation. The
 * prohibited-output and bidi checks are the server's to enforce; an ASCII string is unchanged.
 */
export function saslPrep(text: string): string {
  const kept = Array.from(text).filter((char) => {
    const code = char.codePointAt(0)!;
    return !mappedToNothing.some(([from, to]) => code >= from && code <= to);
  });
  return kept.join('').replace(nonAsciiSpace, ' ').normalize('NFKC');
}

/** RFC 5802 saslname: "," and "=" would end the attribute, so they are escaped. */
const saslName = (name: string) => saslPrep(name).replace(/=/g, '=3D').replace(/,/g, '=2C');

/**
 * PBKDF2 costs the client what it costs the server, so a server could stall a worker with a huge
 * count; RFC 7677 asks for at least 4096, and servers use 4096 to a few hundred thousand.
 */
const MAX_ITERATIONS = 1_000_000;

export interface ScramClientFirst {
  /** What the client sends first: the GS2 header ("n,,": no channel binding) and the bare message. */
  message: string;
  bare: string;
  nonce: string;
}

export function scramClientFirst(user: string, nonce = randomBytes(18).toString('base64')): ScramClientFirst {
  const bare = `n=${saslName(user)},r=${nonce}`;
  return { message: `n,,${bare}`, bare, nonce };
}

export interface ScramClientFinal {
  /** The client's proof, to send. */
  message: string;
  /** What the server must answer with (`v=`), proving it knows the password as well. */
  serverSignature: Buffer;
}

/** The attributes of a SCRAM message ("r=…,s=…,i=…"); a value may itself contain "=". */
function scramAttributes(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(',')) {
    const at = part.indexOf('=');
    if (at !== 1)
      throw new SaslError(`The server sent a malformed SCRAM message: ${JSON.stringify(message)}`);
    attributes.set(part[0]!, part.slice(2));
  }
  return attributes;
}

const pbkdf2Async = promisify(pbkdf2);
const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();

/** Computes the client-final message from the server-first one (RFC 5802 section 3). */
export async function scramClientFinal(
  first: ScramClientFirst,
  pass: string,
  serverFirst: string,
): Promise<ScramClientFinal> {
  const attributes = scramAttributes(serverFirst);
  if (attributes.has('m')) throw new SaslError('The server requires a SCRAM extension this client lacks');
  const nonce = attributes.get('r') ?? '';
  const salt = Buffer.from(attributes.get('s') ?? '', 'base64');
  const iterations = Number(attributes.get('i'));
  if (!nonce.startsWith(first.nonce) || nonce.length === first.nonce.length) {
    throw new SaslError('The server’s SCRAM nonce does not extend the client’s');
  }
  if (salt.length === 0) throw new SaslError('The server sent no SCRAM salt');
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new SaslError(
      `The server asked for ${attributes.get('i')} SCRAM iterations (1 to ${MAX_ITERATIONS})`,
    );
  }
  const salted = await pbkdf2Async(saslPrep(pass), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=${b64('n,,')},r=${nonce}`;
  const authMessage = `${first.bare},${serverFirst},${withoutProof}`;
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ clientSignature[i]!));
  return {
    message: `${withoutProof},p=${proof.toString('base64')}`,
    serverSignature: hmac(hmac(salted, 'Server Key'), authMessage),
  };
}

/**
 * Checks the server-final message. A server that does not know the password (one in the middle,
 * say) cannot compute the signature, so a mismatch must fail the login even if the server says OK.
 */
export function scramServerVerified(final: ScramClientFinal, serverFinal: string): boolean {
  const attributes = scramAttributes(serverFinal);
  const error = attributes.get('e');
  if (error !== undefined) throw new SaslError(`The server ended the SCRAM exchange: ${error}`);
  const signature = Buffer.from(attributes.get('v') ?? '', 'base64');
  return (
    signature.length === final.serverSignature.length && timingSafeEqual(signature, final.serverSignature)
  );
}
