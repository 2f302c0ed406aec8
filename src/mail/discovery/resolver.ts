/**
 * The DNS of discovery, and the address policy (src/net/address-policy.ts) applied to everything
 * it connects to. One resolver answers SRV, MX and the addresses of hosts: the servers of
 * MAILROOM_DNS_SERVERS when set (so a test, or an operator with a split horizon, points it at its
 * own), else the system's. Every connection discovery opens (HTTPS fetches, probes) resolves its
 * host through the policy (`hostPolicyFor`), so the address checked is the address connected to.
 */
import { lookup as systemLookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  hostNotAllowedIn,
  resolveAllowed,
  type HostNotAllowedError,
  type HostPolicy,
} from '../../net/address-policy.ts';

export interface SrvAnswer {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface MxAnswer {
  exchange: string;
  priority: number;
}

export interface DiscoveryResolver {
  srv(name: string): Promise<SrvAnswer[]>;
  mx(name: string): Promise<MxAnswer[]>;
  /** Every address of a host: an IP literal is itself, `localhost` is loopback (RFC 6761). */
  addresses(host: string): Promise<string[]>;
}

/** A lookup gives up after this, and tries twice, so one lost packet does not fail a source. */
const DNS_TIMEOUT_MS = 2_000;
const DNS_TRIES = 2;

const bare = (host: string) => host.replace(/^\[|\]$/g, '').replace(/\.$/, '');

export function createDiscoveryResolver(servers: readonly string[] | undefined): DiscoveryResolver {
  const resolver = new Resolver({ timeout: DNS_TIMEOUT_MS, tries: DNS_TRIES });
  if (servers !== undefined) resolver.setServers([...servers]);

  async function addressesThroughServers(host: string): Promise<string[]> {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
    const found = [
      ...(v4.status === 'fulfilled' ? v4.value : []),
      ...(v6.status === 'fulfilled' ? v6.value : []),
    ];
    if (found.length > 0) return found;
    const failure = [v4, v6].find((result) => result.status === 'rejected');
    throw failure?.reason instanceof Error ? failure.reason : dnsError('ENOTFOUND', host);
  }

  return {
    srv: (name) => resolver.resolveSrv(name),
    mx: (name) => resolver.resolveMx(name),
    async addresses(host) {
      const name = bare(host);
      if (isIP(name)) return [name];
      if (/^(.+\.)?localhost$/i.test(name)) return ['127.0.0.1', '::1'];
      if (servers !== undefined) return addressesThroughServers(name);
      const found = await systemLookup(name, { all: true });
      return found.map((entry) => entry.address);
    },
  };
}

function dnsError(code: string, host: string): Error {
  return Object.assign(new Error(`${host} does not resolve (${code})`), { code, hostname: host });
}

/**
 * The address policy of discovery: MAILROOM_ALLOW_PRIVATE_HOSTS, with names resolved by this
 * resolver when it has servers of its own (so the address checked is the one connected to).
 */
export function hostPolicyFor(
  resolver: DiscoveryResolver,
  ownServers: boolean,
  allowPrivate: boolean,
): HostPolicy {
  if (!ownServers) return { allowPrivate };
  return {
    allowPrivate,
    lookup: async (hostname) =>
      (await resolver.addresses(hostname)).map((address) => ({ address, family: isIP(address) })),
  };
}

/** Whether a host may be contacted, checked on every address it has now, before anyone connects. */
export type HostCheck = { allowed: true } | { allowed: false; refused: boolean; reason: string };

export async function checkHost(host: string, policy: HostPolicy): Promise<HostCheck> {
  try {
    await resolveAllowed(host, policy);
    return { allowed: true };
  } catch (error) {
    const refused = hostNotAllowedIn(error);
    if (refused) return { allowed: false, refused: true, reason: refusalWords(refused) };
    return { allowed: false, refused: false, reason: `${bare(host)} does not resolve (${dnsWords(error)})` };
  }
}

/** A refusal in words: the policy's, naming the rule, and the setting that lifts it. */
export function refusalWords(error: HostNotAllowedError): string {
  return `${error.message}: not contacted (MAILROOM_ALLOW_PRIVATE_HOSTS=true allows private hosts)`;
}

/** A DNS failure in words: "no such name", "no such record", "timed out", or the code. */
export function dnsWords(error: unknown): string {
  const code = (error as { code?: string } | null)?.code;
  switch (code) {
    case 'ENOTFOUND':
      return 'no such name (NXDOMAIN)';
    case 'ENODATA':
      return 'no such record';
    case 'ETIMEOUT':
      return 'the name server did not answer';
    case 'ESERVFAIL':
      return 'the name server failed (SERVFAIL)';
    case 'ECONNREFUSED':
      return 'the name server refused the connection';
    case 'ECANCELLED':
      return 'cancelled';
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}

/** A name that does not exist, or exists without this record: an answer, not a failure. */
export const isNoRecord = (error: unknown): boolean =>
  ['ENOTFOUND', 'ENODATA'].includes((error as { code?: string } | null)?.code ?? '');
