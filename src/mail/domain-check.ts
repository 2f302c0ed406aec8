import { isIP } from 'node:net';
import { Type, type Static } from '@sinclair/typebox';
import { spf } from 'mailauth/lib/spf/index.js';
import { getDomain } from 'tldts';
import { Nullable, StrictObject } from '../schemas.ts';
import type { DkimDnsRecord } from './dkim.ts';

/**
 * A DNS lookup as mailauth takes it: TXT answers are arrays of strings, A and AAAA answers strings.
 * Rejects with the `code` of `node:dns` (ENOTFOUND, ENODATA, ETIMEOUT…).
 */
export type DnsResolver = (name: string, rrtype: string) => Promise<string[][] | string[]>;

const CheckStatus = Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('missing')]);

const checkPart = (description: string) => ({
  status: CheckStatus,
  record: Nullable(Type.String({ description: 'the TXT record as published, its strings joined' })),
  detail: Type.String({ description }),
});

export const DmarcPolicySchema = StrictObject({
  p: Nullable(Type.String({ description: 'none, quarantine or reject' })),
  sp: Nullable(Type.String({ description: 'for subdomains; absent: the same as p' })),
  pct: Type.Integer({ minimum: 0, maximum: 100 }),
  adkim: Type.Union([Type.Literal('r'), Type.Literal('s')]),
  aspf: Type.Union([Type.Literal('r'), Type.Literal('s')]),
  /** The record was found at the organisational domain, not the sending domain itself. */
  inherited: Type.Boolean({ description: 'found at the organisational domain, not the sending domain' }),
});

export const DomainCheckSchema = StrictObject({
  domain: Type.String({ description: 'the sending domain: the domain of the account’s address' }),
  ok: Type.Boolean({ description: 'SPF, DKIM and DMARC all pass' }),
  spf: StrictObject(checkPart('whether the record lets the platform relay send for the domain')),
  dkim: StrictObject(checkPart('whether the published key is the one Mailroom signs with')),
  dmarc: StrictObject({
    ...checkPart('the policy, and whether mail from this account would align with it'),
    policy: Nullable(DmarcPolicySchema),
  }),
});

export type DomainCheckReport = Static<typeof DomainCheckSchema>;
export type DmarcPolicy = Static<typeof DmarcPolicySchema>;
type Part = DomainCheckReport['spf'];

export interface DomainCheckInput {
  /** The sending domain, lower case, in its A-label form. */
  domain: string;
  /** The host of MAILROOM_RELAY_URL (a name or an IP address); null when no relay is configured. */
  relayHost: string | null;
  /** The DKIM record Mailroom expects for the domain; null when no key was made for it yet. */
  expectedDkim: DkimDnsRecord | null;
  /** MAILROOM_BOUNCE_DOMAIN: marketing return paths are bounces+…@ this domain; null: the account's address. */
  bounceDomain: string | null;
}

/** What receivers will find in DNS for the domain marketing mail is sent from, against what Mailroom sends. */
export async function checkSendingDomain(
  resolve: DnsResolver,
  input: DomainCheckInput,
): Promise<DomainCheckReport> {
  const { domain, bounceDomain } = input;
  const relayIps = input.relayHost === null ? null : await addressesOf(resolve, input.relayHost);
  const spfPart = await checkSpf(resolve, domain, input.relayHost, relayIps);
  const dkimPart = await checkDkim(resolve, domain, input.expectedDkim);
  // With VERP the receiver checks SPF for the return path's domain, not the From domain.
  const returnPathDomain = bounceDomain ?? domain;
  const returnPathSpf =
    returnPathDomain === domain
      ? spfPart
      : await checkSpf(resolve, returnPathDomain, input.relayHost, relayIps);
  const dmarcPart = await checkDmarc(resolve, domain, {
    dkimPasses: dkimPart.status === 'pass',
    returnPathDomain,
    returnPathSpfPasses: returnPathSpf.status === 'pass',
  });
  if (bounceDomain !== null && bounceDomain !== domain) {
    spfPart.detail +=
      ` Receivers check SPF for the return path (bounces+…@${bounceDomain}), whose record ` +
      (returnPathSpf.status === 'pass' ? 'allows the relay too.' : `does not pass: ${returnPathSpf.detail}`);
  }
  return {
    domain,
    ok: [spfPart, dkimPart, dmarcPart].every((part) => part.status === 'pass'),
    spf: spfPart,
    dkim: dkimPart,
    dmarc: dmarcPart,
  };
}

// ---- DNS ----

function isAbsent(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

function describeError(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : String(message);
}

/** The TXT records at the name, each record's strings joined; [] when the name has none. */
async function txtRecords(resolve: DnsResolver, name: string): Promise<string[]> {
  try {
    const answers = await resolve(name, 'TXT');
    return answers.map((answer) => (Array.isArray(answer) ? answer.join('') : answer));
  } catch (error) {
    if (isAbsent(error)) return [];
    throw error;
  }
}

/** The relay's addresses: the host itself when it is one, else its A and AAAA records. */
async function addressesOf(resolve: DnsResolver, host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  const answers = await Promise.allSettled([resolve(host, 'A'), resolve(host, 'AAAA')]);
  return answers.flatMap((answer) => (answer.status === 'fulfilled' ? answer.value.flat() : []));
}

// ---- SPF ----

async function checkSpf(
  resolve: DnsResolver,
  domain: string,
  relayHost: string | null,
  relayIps: string[] | null,
): Promise<Part> {
  let records: string[];
  try {
    records = (await txtRecords(resolve, domain)).filter((text) => /^v=spf1(\s|$)/i.test(text.trim()));
  } catch (error) {
    return {
      status: 'fail',
      record: null,
      detail: `The TXT lookup for ${domain} failed (${describeError(error)}).`,
    };
  }
  if (records.length === 0) {
    return {
      status: 'missing',
      record: null,
      detail: `${domain} publishes no SPF record: add a TXT record "v=spf1 … -all" that includes the relay.`,
    };
  }
  const record = records.join(' | ');
  if (records.length > 1) {
    return {
      status: 'fail',
      record,
      detail: `${domain} publishes ${records.length} SPF records; it must have one.`,
    };
  }
  if (relayHost === null || relayIps === null) {
    return {
      status: 'fail',
      record,
      detail: 'MAILROOM_RELAY_URL is not set, so there is no relay to check the record against.',
    };
  }
  if (relayIps.length === 0) {
    return { status: 'fail', record, detail: `The relay host ${relayHost} has no A or AAAA record.` };
  }
  const verdicts = await Promise.all(
    relayIps.map(async (ip) => {
      const result = await spf({
        sender: `postmaster@${domain}`,
        ip,
        helo: relayHost,
        mta: 'mailroom',
        resolver: resolve,
      });
      return { ip, result: result.status.result };
    }),
  );
  const failing = verdicts.filter((verdict) => verdict.result !== 'pass');
  if (failing.length === 0) {
    return { status: 'pass', record, detail: `The record allows the relay (${relayIps.join(', ')}).` };
  }
  const results = failing.map((verdict) => `${verdict.ip}: ${verdict.result}`).join(', ');
  return {
    status: 'fail',
    record,
    detail: `The record does not allow the relay ${relayHost} (${results}): add its address to the record.`,
  };
}

// ---- DKIM ----

/** The `p=` tag of a DKIM record, whitespace removed (it may be folded); null when absent. */
function publicKeyOf(record: string): string | null {
  const tag = record
    .split(';')
    .map((part) => part.trim())
    .find((part) => /^p\s*=/i.test(part));
  return tag === undefined ? null : tag.replace(/^p\s*=/i, '').replace(/\s+/g, '');
}

async function checkDkim(
  resolve: DnsResolver,
  domain: string,
  expected: DkimDnsRecord | null,
): Promise<Part> {
  if (expected === null) {
    return {
      status: 'missing',
      record: null,
      detail: `No DKIM key was made for ${domain} yet: run \`mailroom dkim generate --domain ${domain}\` and publish the record it prints.`,
    };
  }
  const publish = `publish TXT ${expected.name} "${expected.value}"`;
  let records: string[];
  try {
    records = (await txtRecords(resolve, expected.name)).filter((text) => publicKeyOf(text) !== null);
  } catch (error) {
    return {
      status: 'fail',
      record: null,
      detail: `The TXT lookup for ${expected.name} failed (${describeError(error)}).`,
    };
  }
  if (records.length === 0) {
    return { status: 'missing', record: null, detail: `${expected.name} has no DKIM record: ${publish}.` };
  }
  const wanted = publicKeyOf(expected.value);
  const match = records.find((text) => publicKeyOf(text) === wanted);
  if (match !== undefined) {
    return {
      status: 'pass',
      record: match,
      detail: `${expected.name} publishes the key Mailroom signs with.`,
    };
  }
  return {
    status: 'fail',
    record: records.join(' | '),
    detail:
      `${expected.name} publishes a different key than the one Mailroom signs with ` +
      `(an older one, or another sender's); ${publish}.`,
  };
}

// ---- DMARC ----

/** The organisational domain (RFC 7489 3.2, by the public suffix list); the domain itself when unknown. */
export function organisationalDomain(domain: string): string {
  return getDomain(domain, { allowPrivateDomains: true }) ?? domain;
}

function parseDmarc(record: string, inherited: boolean): DmarcPolicy {
  const tags = new Map<string, string>();
  for (const part of record.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) tags.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  const mode = (value: string | undefined) => (value?.toLowerCase() === 's' ? 's' : 'r');
  const pct = Number.parseInt(tags.get('pct') ?? '100', 10);
  return {
    p: tags.get('p')?.toLowerCase() ?? null,
    sp: tags.get('sp')?.toLowerCase() ?? null,
    pct: Number.isNaN(pct) ? 100 : Math.min(100, Math.max(0, pct)),
    adkim: mode(tags.get('adkim')),
    aspf: mode(tags.get('aspf')),
    inherited,
  };
}

/** Whether two domains align: the same name (strict), or the same organisational domain (relaxed). */
function aligned(fromDomain: string, otherDomain: string, mode: 'r' | 's'): boolean {
  return mode === 's'
    ? fromDomain === otherDomain
    : organisationalDomain(fromDomain) === organisationalDomain(otherDomain);
}

interface AlignmentFacts {
  /** The published DKIM key is Mailroom's; its signatures carry d= the From domain. */
  dkimPasses: boolean;
  returnPathDomain: string;
  /** SPF for the return path's domain allows the relay. */
  returnPathSpfPasses: boolean;
}

async function checkDmarc(
  resolve: DnsResolver,
  domain: string,
  facts: AlignmentFacts,
): Promise<DomainCheckReport['dmarc']> {
  const orgDomain = organisationalDomain(domain);
  let found: { record: string; inherited: boolean } | null = null;
  try {
    for (const name of orgDomain === domain ? [domain] : [domain, orgDomain]) {
      const records = (await txtRecords(resolve, `_dmarc.${name}`)).filter((text) =>
        /^v=DMARC1\s*(;|$)/i.test(text.trim()),
      );
      if (records.length === 1) {
        found = { record: records[0]!, inherited: name !== domain };
        break;
      }
    }
  } catch (error) {
    return {
      status: 'fail',
      record: null,
      detail: `The TXT lookup for _dmarc.${domain} failed (${describeError(error)}).`,
      policy: null,
    };
  }
  if (found === null) {
    return {
      status: 'missing',
      record: null,
      detail: `Neither _dmarc.${domain}${orgDomain === domain ? '' : ` nor _dmarc.${orgDomain}`} publishes one DMARC record: add "v=DMARC1; p=none; …" at least.`,
      policy: null,
    };
  }
  const policy = parseDmarc(found.record, found.inherited);
  const applied = found.inherited ? (policy.sp ?? policy.p) : policy.p;
  if (applied === null || !['none', 'quarantine', 'reject'].includes(applied)) {
    return {
      status: 'fail',
      record: found.record,
      detail: 'The record has no valid p= tag (none, quarantine or reject), so receivers ignore it.',
      policy,
    };
  }
  const modeName = (mode: 'r' | 's') => (mode === 's' ? 'strict' : 'relaxed');
  const dkim = facts.dkimPasses
    ? `DKIM aligns (${modeName(policy.adkim)}): signatures carry d=${domain}, the From domain.`
    : 'DKIM does not align until the DKIM key is published.';
  const spfAligned = aligned(domain, facts.returnPathDomain, policy.aspf);
  const returnPath =
    facts.returnPathDomain === domain
      ? `the return path is the account's own address`
      : `the return path is bounces+…@${facts.returnPathDomain} (MAILROOM_BOUNCE_DOMAIN)`;
  const spf = !spfAligned
    ? `SPF does not align (${modeName(policy.aspf)}): ${returnPath}, ${policy.aspf === 's' ? 'not the From domain' : `not under ${organisationalDomain(domain)}`}, so DMARC rests on DKIM alone.`
    : facts.returnPathSpfPasses
      ? `SPF aligns (${modeName(policy.aspf)}): ${returnPath}, and its SPF allows the relay.`
      : `SPF would align (${modeName(policy.aspf)}): ${returnPath}, but its SPF does not allow the relay.`;
  const spfPasses = spfAligned && facts.returnPathSpfPasses;
  const where = found.inherited ? ` (from _dmarc.${orgDomain}, so sp= applies)` : '';
  const summary = `Policy ${applied}${where}, pct=${policy.pct}.`;
  if (facts.dkimPasses || spfPasses) {
    return { status: 'pass', record: found.record, detail: `${summary} ${dkim} ${spf}`, policy };
  }
  return {
    status: 'fail',
    record: found.record,
    detail: `${summary} Mail from this account would fail DMARC: ${dkim} ${spf}`,
    policy,
  };
}
