/**
 * Server autodiscovery: from an address (and its password, if given) to account settings ready to
 * save, with the evidence for each server and how sure the answer is.
 *
 * Every source is asked at once: the domain's autoconfig (both URLs), its SRV records, the ISP
 * database (when MAILROOM_ISPDB_URL is set) and its MX records, whose host's domain is then asked
 * through the same sources. Each server a source names is probed as soon as it is named, a few at
 * a time, so a slow source holds nobody up; each source has a timeout of its own. When that finds
 * no server of a direction that answers, the common host names are probed with a short timeout.
 * An overall deadline (15 s by default) ends everything still running: the answer is what was
 * known by then. All time runs on an injected timer, so a test can move it by hand.
 */
import type { HostPolicy } from '../../net/address-policy.ts';
import {
  autoconfigUrls,
  readConfigDocument,
  splitAddress,
  type Address,
  type SourceAnswer,
} from './autoconfig.ts';
import { DeadlineError, raceAbort, timedSignal } from './deadline.ts';
import { fetchText } from './fetch.ts';
import { ispdbUrlFor } from './ispdb.ts';
import { findMailProvider, guessCandidates, standardPorts, type GuessPorts } from './mx.ts';
import { probeCandidate, type ProbeContext } from './probe.ts';
import { judge, rankCandidates } from './rank.ts';
import { createDiscoveryResolver, dnsWords, hostPolicyFor, type DiscoveryResolver } from './resolver.ts';
import { toAccountSettings } from './settings.ts';
import { fromSrv } from './srv.ts';
import {
  directionOf,
  systemTimer,
  type Candidate,
  type CandidateEvidence,
  type DiscoveryEvent,
  type DiscoveryResult,
  type DiscoverySource,
  type DiscoveryTimer,
  type ProbeOutcome,
  type SourceReport,
} from './types.ts';

export type * from './types.ts';
export { systemTimer } from './types.ts';
export { standardPorts, type GuessPorts } from './mx.ts';

export interface DiscoveryOptions {
  /** MAILROOM_DNS_SERVERS: where SRV, MX and host addresses are asked; the system's when unset. */
  dnsServers?: readonly string[];
  /** MAILROOM_ISPDB_URL: the ISP database; not asked when unset. */
  ispdbUrl?: string;
  /** MAILROOM_ALLOW_PRIVATE_HOSTS: loopback, private and link-local addresses as well. */
  allowPrivateHosts: boolean;
  /** The overall deadline (MAILROOM_DISCOVERY_TIMEOUT_MS). */
  deadlineMs?: number;
  /** How long one source (a document, the SRV names, the MX lookup) may take. */
  sourceTimeoutMs?: number;
  /** Each step of a probe of a server a source named. */
  probeTimeoutMs?: number;
  /** Each step of a probe of a guessed host name: short, as most guesses lead nowhere. */
  guessTimeoutMs?: number;
  /** Servers probed at most; the rest are kept as evidence, not probed. */
  maxCandidates?: number;
  /** Probes at once. */
  concurrency?: number;
  timer?: DiscoveryTimer;
  /** Extra CA certificates (PEM) to trust; tests pass theirs. */
  ca?: string;
  /** The port of the domain's own autoconfig URLs (443); tests move it. */
  httpsPort?: number;
  /** The ports guessed for common host names (the standard ones); tests move them. */
  guessPorts?: GuessPorts;
  /** Told of each source's answer and each probe's outcome as they come. */
  onEvent?: (event: DiscoveryEvent) => void;
  /** Replaces the resolver built from `dnsServers` (tests). */
  resolver?: DiscoveryResolver;
}

export interface DiscoveryInput {
  email: string;
  password?: string | null;
  /** Ends discovery early (the caller went away); the answer is what was known by then. */
  signal?: AbortSignal;
}

export const DEFAULT_DEADLINE_MS = 15_000;
const DEFAULTS = {
  sourceTimeoutMs: 5_000,
  probeTimeoutMs: 5_000,
  guessTimeoutMs: 2_500,
  maxCandidates: 24,
  concurrency: 6,
};

interface Entry {
  candidate: Candidate;
  evidence: CandidateEvidence & { priority?: number; weight?: number };
  state: 'queued' | 'probing' | 'done';
  done: Promise<void>;
}

const keyOf = (c: Candidate) => `${c.protocol}|${c.host}|${c.port}|${c.security}|${c.url ?? ''}`;

function createLimiter(max: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await work();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Waits for every promise in a list that may grow while it waits. */
async function settleAll(list: Promise<unknown>[]): Promise<void> {
  let seen = -1;
  while (seen !== list.length) {
    seen = list.length;
    await Promise.all(list.slice());
  }
}

export type Discoverer = (input: DiscoveryInput) => Promise<DiscoveryResult>;

/** A discoverer with its resolver and address policy made once. */
export function createDiscoverer(options: DiscoveryOptions): Discoverer {
  const resolver = options.resolver ?? createDiscoveryResolver(options.dnsServers);
  const ownServers = options.resolver !== undefined || options.dnsServers !== undefined;
  const hostPolicy = hostPolicyFor(resolver, ownServers, options.allowPrivateHosts);
  return (input) => discover(input, options, resolver, hostPolicy);
}

async function discover(
  input: DiscoveryInput,
  options: DiscoveryOptions,
  resolver: DiscoveryResolver,
  hostPolicy: HostPolicy,
): Promise<DiscoveryResult> {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  const timer = options.timer ?? systemTimer;
  const started = timer.now();
  const since = (from: number) => Math.round(timer.now() - from);
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const deadline = timedSignal(timer, deadlineMs, input.signal, 'Discovery');
  const signal = deadline.signal;
  const written = input.email.trim();
  const address: Address = splitAddress(written);
  const password = input.password ? input.password : null;

  const reports: SourceReport[] = [];
  const entries = new Map<string, Entry>();
  const tasks: Promise<void>[] = [];
  const limit = createLimiter(settings.concurrency);
  const emit = (event: DiscoveryEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // a listener's failure is not discovery's
    }
  };
  const report = (entry: SourceReport) => {
    reports.push(entry);
    emit({ type: 'source', report: entry });
  };

  const probeContext = (timeoutMs: number, probeSignal: AbortSignal): ProbeContext => ({
    address,
    password,
    hostPolicy,
    ...(options.ca ? { ca: options.ca } : {}),
    timeoutMs,
    now: () => timer.now(),
    fetch: (url, headers) => fetchText(url, { hostPolicy, signal: probeSignal, headers, ca: options.ca }),
  });

  /** Takes candidates in: a server already known gains a source; a new one is queued for its probe. */
  function add(candidates: Candidate[], timeoutMs: number): void {
    for (const candidate of candidates) {
      const key = keyOf(candidate);
      const known = entries.get(key);
      const source = {
        source: candidate.source,
        via: candidate.via,
        ...(candidate.note ? { note: candidate.note } : {}),
      };
      if (known) {
        known.evidence.sources.push(source);
        known.evidence.username ??= candidate.username;
        known.evidence.spa ||= candidate.spa;
        known.evidence.requiresAuth ||= candidate.requiresAuth;
        continue;
      }
      const evidence: Entry['evidence'] = {
        direction: directionOf(candidate.protocol),
        protocol: candidate.protocol,
        host: candidate.host,
        port: candidate.port,
        security: candidate.security,
        url: candidate.url,
        username: candidate.username,
        spa: candidate.spa,
        requiresAuth: candidate.requiresAuth,
        sources: [source],
        result: 'not_probed',
        reply: null,
        steps: [],
        ms: 0,
        rank: 0,
        chosen: false,
        ...(candidate.priority !== undefined
          ? { priority: candidate.priority, weight: candidate.weight }
          : {}),
      };
      const entry: Entry = { candidate, evidence, state: 'queued', done: Promise.resolve() };
      entries.set(key, entry);
      if (entries.size > settings.maxCandidates) {
        evidence.reply = `not probed: more than ${settings.maxCandidates} servers were named`;
        entry.state = 'done';
        continue;
      }
      entry.done = limit(async () => {
        if (signal.aborted) return;
        entry.state = 'probing';
        const outcome: ProbeOutcome = await raceAbort(
          probeCandidate(candidate, probeContext(timeoutMs, signal)),
          signal,
        );
        Object.assign(evidence, {
          result: outcome.result,
          reply: outcome.reply,
          steps: outcome.steps,
          ms: outcome.ms,
          username: outcome.username ?? evidence.username,
        });
        entry.state = 'done';
        emit({ type: 'probed', candidate, outcome });
      }).catch(() => undefined);
    }
  }

  /**
   * Runs one source under its own timeout (and the deadline): its report whatever happens, its
   * candidates probed as soon as it answers.
   */
  function runSource(
    source: DiscoverySource,
    via: string,
    work: (sourceSignal: AbortSignal, elapsed: () => number) => Promise<SourceAnswer>,
  ): void {
    const sourceStarted = timer.now();
    const elapsed = () => since(sourceStarted);
    const timed = timedSignal(timer, settings.sourceTimeoutMs, signal, `${via}`);
    const task = raceAbort(work(timed.signal, elapsed), timed.signal)
      .then(
        (answer) => {
          report(answer.report);
          add(answer.candidates, settings.probeTimeoutMs);
        },
        (error: unknown) => {
          const timedOut = error instanceof DeadlineError;
          report({
            source,
            via,
            outcome: timedOut ? 'timeout' : 'failed',
            detail: timedOut
              ? `no answer within ${Math.min(settings.sourceTimeoutMs, deadlineMs)} ms`
              : (error as Error).message,
            found: 0,
            ms: elapsed(),
          });
        },
      )
      .finally(() => timed.dispose());
    tasks.push(task);
  }

  // The ISP database is the operator's choice, not the user's: it may sit on a private network.
  const operatorPolicy: HostPolicy = { ...hostPolicy, allowPrivate: true };
  const fetchDocument = (sourceSignal: AbortSignal, policy: HostPolicy) => (url: string) =>
    fetchText(url, { hostPolicy: policy, signal: sourceSignal, ca: options.ca });

  /** The domain's own autoconfig, its SRV records and the ISP database, for a domain. */
  function askDomain(lookupDomain: string, viaMx: boolean): void {
    const urls = autoconfigUrls(address, lookupDomain, options.httpsPort);
    const documents: [DiscoverySource, string, HostPolicy][] = [
      [viaMx ? 'mx' : 'autoconfig', urls.autoconfig, hostPolicy],
      [viaMx ? 'mx' : 'well-known', urls.wellKnown, hostPolicy],
    ];
    if (options.ispdbUrl) {
      documents.push([viaMx ? 'mx' : 'ispdb', ispdbUrlFor(options.ispdbUrl, lookupDomain), operatorPolicy]);
    }
    for (const [source, url, policy] of documents) {
      runSource(source, url, (sourceSignal, elapsed) =>
        readConfigDocument(fetchDocument(sourceSignal, policy), url, address, source, elapsed),
      );
    }
    runSource(viaMx ? 'mx' : 'srv', `SRV records of ${lookupDomain}`, (_sourceSignal, elapsed) =>
      fromSrv(resolver, lookupDomain, { elapsed, ...(viaMx ? { source: 'mx' as const } : {}) }),
    );
  }

  async function guess(domains: string[], guessKinds: ('smtp' | 'imap' | 'pop3')[]): Promise<void> {
    const guessStarted = timer.now();
    const candidates = guessCandidates(domains, guessKinds, options.guessPorts ?? standardPorts);
    const hosts = [...new Set(candidates.map((c) => c.host))];
    const timed = timedSignal(timer, settings.sourceTimeoutMs, signal, 'Resolving the common names');
    const resolved = new Map<string, string>();
    await raceAbort(
      Promise.all(
        hosts.map(async (host) => {
          try {
            await resolver.addresses(host);
            resolved.set(host, 'ok');
          } catch (error) {
            resolved.set(host, dnsWords(error));
          }
        }),
      ),
      timed.signal,
    ).catch(() => undefined);
    timed.dispose();
    const found = hosts.filter((host) => resolved.get(host) === 'ok');
    const missing = hosts.filter((host) => resolved.get(host) !== 'ok');
    const usable = candidates.filter((c) => found.includes(c.host));
    report({
      source: 'guess',
      via: `common host names of ${domains.join(' and ')}`,
      outcome: usable.length > 0 ? 'found' : 'nothing',
      detail: [
        found.length > 0 ? `probed: ${found.join(', ')}` : '',
        missing.length > 0 ? `no address: ${missing.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
      found: usable.length,
      ms: since(guessStarted),
    });
    add(usable, settings.guessTimeoutMs);
  }

  let providerDomain: string | null = null;
  askDomain(address.domain, false);
  runSource('mx', `MX records of ${address.domain}`, async (_sourceSignal, elapsed) => {
    const finding = await findMailProvider(resolver, address.domain, elapsed);
    providerDomain = finding.providerDomain;
    if (providerDomain && !signal.aborted) askDomain(providerDomain, true);
    return { report: finding.report, candidates: [] };
  });

  const probesSettled = () => settleAll([...entries.values()].map((entry) => entry.done));
  await settleAll(tasks);
  await probesSettled();

  // The last resort: common host names, for a direction no source found a server of that answers.
  const answered = (direction: 'outgoing' | 'incoming') =>
    [...entries.values()].some(
      (e) =>
        e.evidence.direction === direction &&
        ['login_ok', 'reachable', 'login_failed'].includes(e.evidence.result),
    );
  const kinds = [
    ...(answered('outgoing') ? [] : (['smtp'] as const)),
    ...(answered('incoming') ? [] : (['imap', 'pop3'] as const)),
  ];
  if (kinds.length > 0 && !signal.aborted) {
    const domains = [...new Set([address.domain, ...(providerDomain ? [providerDomain] : [])])];
    await guess(domains, kinds);
    await probesSettled();
  }

  const timedOut = signal.aborted;
  deadline.dispose();
  const evidence = [...entries.values()].map((entry) => {
    if (entry.state === 'queued' && entry.evidence.reply === null) {
      entry.evidence.reply = 'not probed: the deadline passed first';
    } else if (entry.state === 'probing') {
      entry.evidence.result = 'timeout';
      entry.evidence.reply = 'the deadline passed before the probe finished';
    }
    return entry.evidence;
  });
  const ranked = rankCandidates(evidence).map(({ priority: _p, weight: _w, ...candidate }) => candidate);
  const { confidence, reasons } = judge(ranked, password !== null, timedOut);
  const chosen = (direction: 'outgoing' | 'incoming') =>
    ranked.find((c) => c.direction === direction && c.chosen);
  const account = toAccountSettings(address, written, chosen('outgoing'), chosen('incoming'));
  return {
    email: written,
    domain: address.domain,
    settings: account,
    confidence: account ? confidence : 'none',
    reasons,
    candidates: ranked,
    sources: reports,
    timedOut,
    ms: since(started),
  };
}

function definedOnly(options: DiscoveryOptions): Partial<typeof DEFAULTS> {
  const picked: Partial<typeof DEFAULTS> = {};
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    if (options[key] !== undefined) picked[key] = options[key];
  }
  return picked;
}
