import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Which addresses Mailroom may connect to on a user's behalf: the SMTP, IMAP, POP3 and JMAP servers
 * and proxies an account names, and webhook receivers. Public ones only, unless the operator
 * allows private hosts (MAILROOM_ALLOW_PRIVATE_HOSTS). A user who may type a host name must not be
 * able to reach the machine's own services, the internal network or a cloud metadata endpoint
 * (169.254.169.254) through us.
 *
 * The ranges come from ipaddr.js (IANA's special-purpose registries, kept up to date by a library
 * that millions of installs rely on, fastify's proxy-addr among them) rather than from a table of
 * our own; this file only decides which of its ranges are public and words each refusal. The
 * check runs where the socket is opened, on every address the name resolves to, and the socket
 * connects to those very addresses, so a name that resolves to a public address when it is saved
 * and to an internal one at connect time (DNS rebinding) is still refused.
 */

/** How names are resolved: the system resolver (getaddrinfo, as Node connects) unless a test gives its own. */
export type HostLookup = (hostname: string) => Promise<LookupAddress[]>;

export interface HostPolicy {
  /** Private, loopback, link-local and other non-public addresses as well (MAILROOM_ALLOW_PRIVATE_HOSTS). */
  allowPrivate: boolean;
  /** Replaces the system resolver, at save time and at connect time alike (tests point it at their own DNS server). */
  lookup?: HostLookup;
}

/** Public addresses only, resolved by the system: what a caller that was told nothing gets. */
export const publicHostsOnly: HostPolicy = Object.freeze({ allowPrivate: false });
/** Any address: for the operator's own servers (the platform relay) and for tests against local peers. */
export const anyHost: HostPolicy = Object.freeze({ allowPrivate: true });

/** The cloud metadata endpoints, named as such: they hold credentials, the first thing an attacker asks for. */
const metadataAddresses = new Set([
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle…
  '169.254.170.2', // AWS ECS task metadata
  '169.254.169.253', // AWS DNS
  '100.100.100.200', // Alibaba Cloud
  '192.0.0.192', // Oracle Cloud
  'fd00:ec2::254', // AWS over IPv6
  'fd00:ec2::253', // AWS DNS over IPv6
]);

/** What each of ipaddr.js's range names means, in the words of a refusal. */
const ruleOfRange: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local (RFC 3927, RFC 4291)',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT (RFC 6598)',
  private: 'private (RFC 1918)',
  uniqueLocal: 'private (IPv6 unique local, RFC 4193)',
  deprecatedSiteLocal: 'private (IPv6 site-local, RFC 3879)',
};
const metadataRule = 'a cloud metadata endpoint';
const specialUseRule = 'reserved for special use (RFC 6890)';
const notAnAddressRule = 'not an IP address';

/** IPv6 forms that carry an IPv4 address a host or a gateway forwards to: judged by that address. */
function embeddedIPv4(address: ipaddr.IPv6, range: string): ipaddr.IPv4 | null {
  const p = address.parts;
  const v4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  if (range === 'ipv4Mapped' || range === 'rfc6145') return v4(p[6]!, p[7]!);
  // NAT64's well-known prefix 64:ff9b::/96 (the local-use 64:ff9b:1::/48 stays special use)
  if (range === 'rfc6052' && p[2] === 0) return v4(p[6]!, p[7]!);
  if (range === '6to4') return v4(p[1]!, p[2]!);
  return null;
}

/**
 * The rule an address breaks, in words ("private (RFC 1918)"), or null when it is public. IPv6
 * with or without brackets and zone; IPv4-mapped, IPv4-translated, NAT64 and 6to4 forms are judged
 * by the IPv4 address they carry. Only plain unicast addresses are public: every special-purpose
 * range is refused, documentation and benchmarking ranges included (some networks use them inside).
 */
export function addressRule(ip: string): string | null {
  // the zone of a link-local address (fe80::1%eth0) says nothing about the range
  const text = bare(ip).replace(/%.*$/, '');
  const family = isIP(text);
  if (!family) return notAnAddressRule;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // IPv6 as the WHATWG URL parser normalises it: ipaddr.js reads "::1.2.3.4" (IPv4-compatible)
    // as if it were "::ffff:1.2.3.4" (IPv4-mapped), which it is not
    address = ipaddr.parse(family === 6 ? new URL(`http://[${text}]/`).hostname.slice(1, -1) : text);
  } catch {
    return notAnAddressRule;
  }
  for (let depth = 0; depth < 2; depth++) {
    const range: string = address.range();
    const normal =
      address.kind() === 'ipv6' ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
    if (metadataAddresses.has(normal)) return metadataRule;
    if (address.kind() === 'ipv6') {
      const v6 = address as ipaddr.IPv6;
      const carried = embeddedIPv4(v6, range);
      if (carried) {
        address = carried;
        continue;
      }
      // ::a.b.c.d, the IPv4-compatible form RFC 4291 deprecated: no public server has one
      if (range === 'unicast' && v6.parts.slice(0, 6).every((part) => part === 0)) return specialUseRule;
    }
    if (range === 'unicast') return null;
    return ruleOfRange[range] ?? specialUseRule;
  }
  return specialUseRule;
}

/** Whether an IP address (v4, or v6 with or without brackets and zone) is on the public internet. */
export function isPublicAddress(ip: string): boolean {
  return addressRule(ip) === null;
}

/** A host as typed in a URL or a form: without the brackets of an IPv6 literal. */
function bare(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1');
}

/** What a refusal says when the host is saved ("the server's address is private (RFC 1918)"). */
export function refusalText(rule: string, what: 'server' | 'proxy' = 'server'): string {
  return `the ${what}'s address is ${rule}`;
}

/**
 * A refusal at connect time. Its message names the host as the user gave it (a name, or the IP
 * literal they typed) and the rule it broke, never the address a name resolved to, which would map
 * the internal network for the caller: "imap.example.com: the server's address is loopback; only
 * public addresses are allowed".
 */
export class HostNotAllowedError extends Error {
  readonly code = 'HOST_NOT_ALLOWED';
  constructor(
    readonly host: string,
    readonly rule: string,
    what: 'server' | 'proxy' = 'server',
  ) {
    const text = `${refusalText(rule, what)}; only public addresses are allowed`;
    super(isIP(bare(host)) ? `${text[0]!.toUpperCase()}${text.slice(1)}` : `${host}: ${text}`);
    this.name = 'HostNotAllowedError';
  }
}

/** The HostNotAllowedError behind an error, wherever a library wrapped it (fetch's cause, an AggregateError…). */
export function hostNotAllowedIn(error: unknown): HostNotAllowedError | null {
  const seen = new Set<unknown>();
  const queue = [error];
  while (queue.length > 0) {
    const e = queue.shift() as { cause?: unknown; errors?: unknown; _err?: unknown } | null | undefined;
    if (!e || typeof e !== 'object' || seen.has(e) || seen.size > 20) continue;
    seen.add(e);
    if (e instanceof HostNotAllowedError) return e;
    queue.push(e.cause, e._err, ...(Array.isArray(e.errors) ? (e.errors as unknown[]) : []));
  }
  return null;
}

function systemLookup(hostname: string, family: 0 | 4 | 6): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, family }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );
}

function notFound(hostname: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    code: 'ENOTFOUND',
    hostname,
  });
}

/**
 * Every address `host` resolves to, each one checked: throws HostNotAllowedError when any of them
 * is refused (a name with one private address among public ones is refused whole: which one a
 * connection would use is not ours to choose). An IP literal is checked as it is. Resolution
 * failures are thrown as the resolver's errors (ENOTFOUND…).
 */
export async function resolveAllowed(
  host: string,
  policy: HostPolicy,
  options: { family?: 0 | 4 | 6; what?: 'server' | 'proxy' } = {},
): Promise<LookupAddress[]> {
  const name = bare(host);
  const family = options.family ?? 0;
  const literal = isIP(name);
  let addresses: LookupAddress[];
  if (literal) addresses = [{ address: name, family: literal }];
  else {
    const found = policy.lookup ? await policy.lookup(name) : await systemLookup(name, family);
    addresses = family ? found.filter((a) => a.family === family) : found;
  }
  if (addresses.length === 0) throw notFound(name);
  if (!policy.allowPrivate) {
    for (const { address } of addresses) {
      const rule = addressRule(address);
      if (rule) throw new HostNotAllowedError(host, rule, options.what);
    }
  }
  return addresses;
}

/**
 * Throws HostNotAllowedError for an IP literal the policy refuses. Connecting to a literal skips
 * `lookup`, so a caller that relies on `lookupFor` checks literals with this first.
 */
export function checkLiteral(host: string, policy: HostPolicy, what: 'server' | 'proxy' = 'server'): void {
  const name = bare(host);
  if (policy.allowPrivate || !isIP(name)) return;
  const rule = addressRule(name);
  if (rule) throw new HostNotAllowedError(host, rule, what);
}

function familyOf(value: unknown): 0 | 4 | 6 {
  if (value === 4 || value === 'IPv4') return 4;
  if (value === 6 || value === 'IPv6') return 6;
  return 0;
}

/**
 * A `lookup` for `net.connect`, `tls.connect`, `http(s).request`, undici's connector and imapflow
 * that applies the policy on every connection: the socket then connects to the addresses that were
 * checked, and to no others. Undefined when there is nothing to apply (any host, the system
 * resolver), so Node's own lookup stays. IP literals skip `lookup`: check them with `checkLiteral`.
 */
export function lookupFor(policy: HostPolicy): LookupFunction | undefined {
  if (policy.allowPrivate && !policy.lookup) return undefined;
  return (hostname, options, callback) => {
    resolveAllowed(hostname, policy, { family: familyOf(options.family) }).then(
      (addresses) => {
        if (options.all) {
          (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
        } else {
          callback(null, addresses[0]!.address, addresses[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/**
 * Why a host may not be saved, in words (`refusalText`), or null when it may: resolves it now and
 * refuses it when any of its addresses is refused. A name that does not resolve is refused with
 * `unresolvable: 'refuse'` (webhooks) and let through with 'accept' (mail servers: DNS may come
 * later, and connections check again anyway).
 */
export async function hostRefusal(
  host: string,
  policy: HostPolicy,
  options: { unresolvable?: 'refuse' | 'accept'; what?: 'server' | 'proxy'; timeoutMs?: number } = {},
): Promise<string | null> {
  if (policy.allowPrivate) return null;
  let timer: NodeJS.Timeout | undefined;
  try {
    const resolving = resolveAllowed(host, policy, { what: options.what });
    if (options.timeoutMs === undefined) await resolving;
    else {
      // a resolver that does not answer in time counts as a name that does not resolve
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(notFound(host)), options.timeoutMs);
      });
      resolving.catch(() => undefined);
      await Promise.race([resolving, late]);
    }
    return null;
  } catch (error) {
    if (error instanceof HostNotAllowedError) return refusalText(error.rule, options.what);
    return options.unresolvable === 'accept' ? null : 'the name does not resolve to any address';
  } finally {
    clearTimeout(timer);
  }
}
