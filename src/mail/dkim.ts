import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import DKIM from 'nodemailer/lib/dkim';

/**
 * DKIM (RFC 6376) for the messages we compose ourselves: the key pair, the DNS record that
 * publishes its public half, and the signature. Signing is nodemailer's (already what sends the
 * mail); this file only pins the choices: rsa-sha256, relaxed/relaxed, the header list below.
 */

export interface DkimKeyPair {
  /** PKCS#8 PEM. */
  privateKey: string;
  /** SPKI PEM. */
  publicKey: string;
}

/** What signs for one domain. A KeyObject prints as `PrivateKeyObject { … }` and `{}` in JSON, never the key. */
export interface DkimSigningKey {
  domain: string;
  selector: string;
  privateKey: KeyObject | string;
}

/** A TXT record as an operator enters it in a DNS provider's form. */
export interface DkimDnsRecord {
  /** `<selector>._domainkey.<domain>`, without the trailing dot. */
  name: string;
  /** `v=DKIM1; k=rsa; p=<base64 SPKI>` */
  value: string;
}

/** RSA 2048: what every receiver accepts and the usual recommendation; 1024 is refused by some. */
export const DKIM_KEY_BITS = 2048;

/**
 * Signed when present. From is the one RFC 6376 requires; the rest are what a relay or a list
 * could otherwise change or add to alter what the recipient sees or does (unsubscribe included).
 */
export const dkimSignedHeaders = [
  'From',
  'To',
  'Cc',
  'Subject',
  'Date',
  'Message-ID',
  'Reply-To',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'MIME-Version',
  'Content-Type',
] as const;

/** A TXT record holds strings of at most 255 octets each; longer values are split and joined by the reader. */
const TXT_STRING_OCTETS = 255;

const generateRsaKeyPair = promisify(generateKeyPair);

/** A new RSA key pair, off the event loop (2048-bit generation takes tens to hundreds of milliseconds). */
export async function generateDkimKey(): Promise<DkimKeyPair> {
  const { privateKey, publicKey } = await generateRsaKeyPair('rsa', {
    modulusLength: DKIM_KEY_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKey, publicKey };
}

export function dnsTxtRecord(selector: string, domain: string, publicKeyPem: string): DkimDnsRecord {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return {
    name: `${selector}._domainkey.${domain}`,
    value: `v=DKIM1; k=rsa; p=${der.toString('base64')}`,
  };
}

/** The value as the quoted strings of a TXT record, each at most 255 characters (the value is ASCII). */
export function txtStrings(value: string): string[] {
  const strings: string[] = [];
  for (let start = 0; start < value.length; start += TXT_STRING_OCTETS) {
    strings.push(value.slice(start, start + TXT_STRING_OCTETS));
  }
  return strings;
}

/** One line for a BIND-style zone file: `name. IN TXT ( "…" "…" )`. */
export function zoneFileLine(record: DkimDnsRecord): string {
  const strings = txtStrings(record.value).map((part) => `"${part}"`);
  return `${record.name}. IN TXT ( ${strings.join(' ')} )`;
}

/**
 * The raw message with a DKIM-Signature header put in front (rsa-sha256, relaxed/relaxed, the
 * whole body). Rejects when the key is not an RSA private key, rather than sending unsigned mail:
 * nodemailer on its own quietly leaves the signature out when the key cannot sign.
 */
export async function signMessage(raw: Buffer, key: DkimSigningKey): Promise<Buffer> {
  const privateKey = rsaPrivateKey(key);
  const signer = new DKIM({
    domainName: key.domain,
    keySelector: key.selector,
    privateKey,
    hashAlgo: 'sha256',
    headerFieldNames: dkimSignedHeaders.join(':'),
  });
  const chunks: Buffer[] = [];
  for await (const chunk of signer.sign(raw)) chunks.push(chunk as Buffer);
  const signed = Buffer.concat(chunks);
  if (!signed.subarray(0, 'DKIM-Signature:'.length).equals(Buffer.from('DKIM-Signature:'))) {
    throw new Error(`DKIM signing for ${key.domain} produced no signature`);
  }
  return signed;
}

function rsaPrivateKey(key: DkimSigningKey): KeyObject {
  let privateKey: KeyObject;
  try {
    privateKey = typeof key.privateKey === 'string' ? createPrivateKey(key.privateKey) : key.privateKey;
  } catch {
    // Node's message may quote part of the input; ours names only the domain.
    throw new Error(`the DKIM key for ${key.domain} is not a readable private key`);
  }
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') {
    throw new Error(`the DKIM key for ${key.domain} is not an RSA private key`);
  }
  return privateKey;
}
