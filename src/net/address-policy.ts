import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/**
 * Which addresses Mailroom may connect to on a user's behalf (webhook URLs now; SMTP, IMAP, POP3,
 * JMAP and proxy hosts later): public ones only, unless the operator allows private hosts. A user
 * who may type a host name must not be able to reach the machine's own services, the internal
 * network or a cloud metadata endpoint (169.254.169.254) through us.
 */

/** What a refusal says: never the address found, which would map the internal network for the caller. */
export const notPublicMessage = 'resolves to a private, loopback or other non-public address';

/** IPv4 ranges that are not the public internet: [first address, prefix length]. */
const privateV4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", including the unspecified address
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, with the cloud metadata address
  ['172.16.0.0', 12], // RFC 1918
  ['192.168.0.0', 16], // RFC 1918
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
];

function v4ToNumber(ip: string): number {
  return ip.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
}

const privateV4Ranges = privateV4.map(([first, bits]) => {
  const start = v4ToNumber(first);
  return { start, end: start + 2 ** (32 - bits) - 1 };
});

function isPublicV4(ip: string): boolean {
  const value = v4ToNumber(ip);
  return !privateV4Ranges.some(({ start, end }) => value >= start && value <= end);
}

/** The 16 bytes of an IPv6 address (already checked by `isIP`), with any dotted IPv4 tail. */
function v6Bytes(ip: string): number[] {
  let text = ip;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...dotted[1]!.split('.').map(Number));
    text = `${text.slice(0, dotted.index)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = all.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function isPublicV6(ip: string): boolean {
  const b = v6Bytes(ip);
  const zeros = (from: number, to: number) => b.slice(from, to).every((byte) => byte === 0);
  const embeddedV4 = (at: number) => b.slice(at, at + 4).join('.');
  // ::ffff:a.b.c.d (IPv4-mapped) reaches the IPv4 address; judge that one.
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return isPublicV4(embeddedV4(12));
  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d.
  if (zeros(0, 12)) return false;
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address a gateway may forward to.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12))
    return isPublicV4(embeddedV4(12));
  if (b[0] === 0x20 && b[1] === 0x02) return isPublicV4(embeddedV4(2));
  if ((b[0]! & 0xfe) === 0xfc) return false; // unique local, fc00::/7
  if (b[0] === 0xfe && (b[1]! & 0x80) === 0x80) return false; // link-local fe80::/10, site-local fec0::/10
  if (b[0] === 0xff) return false; // multicast
  return true;
}

/** Whether an IP address (v4, or v6 with or without brackets and zone) is on the public internet. */
export function isPublicAddress(ip: string): boolean {
  const address = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 4) return isPublicV4(address);
  if (family === 6) return isPublicV6(address);
  return false;
}

/** A refusal at connect time: its message names the host, never the address it resolved to. */
export class AddressNotAllowedError extends Error {
  readonly code = 'EADDRNOTALLOWED';
  constructor(host: string) {
    super(`${host} ${notPublicMessage}`);
    this.name = 'AddressNotAllowedError';
  }
}

/**
 * A `lookup` for `net.connect`/`http(s).request` that refuses a host any of whose addresses is not
 * public. It runs on every connection, so a name that resolved to a public address when it was
 * saved and to an internal one now (DNS rebinding) is still refused. Note that connecting to an IP
 * literal skips `lookup`: check those with `isPublicAddress` before connecting.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      if (addresses.length === 0 || (!allowPrivate && addresses.some((a) => !isPublicAddress(a.address)))) {
        return callback(new AddressNotAllowedError(hostname), '', 0);
      }
      if (options.all)
        return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * Why a host may not be used, or null when it may: resolves it now and refuses it when any of its
 * addresses is not public. For checks when a host is saved; connections check again with
 * `guardedLookup`.
 */
export async function hostRefusal(host: string, allowPrivate: boolean): Promise<string | null> {
  const name = host.replace(/^\[|\]$/g, '');
  if (allowPrivate) return null;
  if (isIP(name)) return isPublicAddress(name) ? null : notPublicMessage;
  const addresses = await new Promise<LookupAddress[] | null>((resolve) =>
    dnsLookup(name, { all: true }, (error, found) => resolve(error ? null : found)),
  );
  if (!addresses || addresses.length === 0) return 'does not resolve to any address';
  return addresses.every((a) => isPublicAddress(a.address)) ? null : notPublicMessage;
}
