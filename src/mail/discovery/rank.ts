/**
 * Ranking the probed candidates of one direction, and how sure the answer is
 * (docs/adr/017-autodiscovery-ranking-and-deadline.md). In order:
 *
 * 1. What the probe found: a login that worked, then a server that answered over verified TLS
 *    (login refused, or not tried), then a TLS failure, then nothing.
 * 2. Encryption at all: TLS on connect or STARTTLS over plain text.
 * 3. For incoming mail, the protocol: IMAP, then JMAP, then POP3.
 * 4. TLS on connect over STARTTLS (RFC 8314).
 * 5. The most trusted source that named it: the domain's own autoconfig, its SRV records, the ISP
 *    database, the MX host's domain, a guess; then SRV priority and weight; then how many sources
 *    agree.
 *
 * Every candidate keeps its sources and its probe, so a disagreement between sources stays visible.
 */
import type { Security } from '../smtp-types.ts';
import {
  discoverySources,
  type CandidateEvidence,
  type Confidence,
  type ProbeVerdict,
  type ServerDirection,
} from './types.ts';

const verdictScore: Record<ProbeVerdict, number> = {
  login_ok: 3,
  reachable: 2,
  login_failed: 2,
  tls_failed: 1,
  unreachable: 0,
  timeout: 0,
  not_probed: 0,
  // never contacted, and never to be: below everything
  refused: -1,
};

const securityScore: Record<Security, number> = { tls: 2, starttls: 1, none: 0 };
const protocolScore: Record<string, number> = { imap: 3, jmap: 2, pop3: 1, smtp: 0 };

const bestSource = (candidate: CandidateEvidence) =>
  Math.min(...candidate.sources.map((s) => discoverySources.indexOf(s.source)));

export interface RankKeys {
  priority?: number;
  weight?: number;
}

/** Negative when `a` is the better candidate. */
export function compareCandidates(a: CandidateEvidence & RankKeys, b: CandidateEvidence & RankKeys): number {
  const encrypted = (c: CandidateEvidence) => (c.security === 'none' ? 0 : 1);
  return (
    verdictScore[b.result] - verdictScore[a.result] ||
    encrypted(b) - encrypted(a) ||
    (protocolScore[b.protocol] ?? 0) - (protocolScore[a.protocol] ?? 0) ||
    securityScore[b.security] - securityScore[a.security] ||
    bestSource(a) - bestSource(b) ||
    (a.priority ?? 0) - (b.priority ?? 0) ||
    (b.weight ?? 0) - (a.weight ?? 0) ||
    b.sources.length - a.sources.length ||
    `${a.host}:${a.port}`.localeCompare(`${b.host}:${b.port}`)
  );
}

/** The candidates of each direction best first, ranked 1…n; the best one the policy allows is chosen. */
export function rankCandidates<T extends CandidateEvidence & RankKeys>(candidates: T[]): T[] {
  const ranked: T[] = [];
  for (const direction of ['outgoing', 'incoming'] as ServerDirection[]) {
    const mine = candidates.filter((c) => c.direction === direction).sort(compareCandidates);
    // A server the address policy refuses is never chosen: saving it would be refused too.
    const best = mine.find((candidate) => candidate.result !== 'refused');
    mine.forEach((candidate, index) => {
      candidate.rank = index + 1;
      candidate.chosen = candidate === best;
    });
    ranked.push(...mine);
  }
  return ranked;
}

const securityWords: Record<Security, string> = {
  tls: 'TLS',
  starttls: 'STARTTLS',
  none: 'no encryption',
};

const sourceWords: Record<string, string> = {
  autoconfig: "the domain's autoconfig",
  'well-known': "the domain's well-known autoconfig",
  srv: 'DNS SRV records',
  ispdb: 'the ISP database',
  mx: "the MX host's domain",
  guess: 'a guess at a common host name',
};

export const describeServer = (c: CandidateEvidence) =>
  `${c.protocol.toUpperCase()} ${c.url ?? `${c.host}:${c.port}`} (${securityWords[c.security]})`;

const levels: Confidence[] = ['none', 'low', 'medium', 'high'];
const lower = (a: Confidence, b: Confidence) => levels[Math.min(levels.indexOf(a), levels.indexOf(b))]!;

/** How sure one direction's choice is, and why. */
function judgeOne(
  label: string,
  chosen: CandidateEvidence | undefined,
  all: CandidateEvidence[],
  passwordGiven: boolean,
): { confidence: Confidence; reasons: string[] } {
  if (!chosen) return { confidence: 'none', reasons: [`${label}: no server found.`] };
  const named = [...new Set(chosen.sources.map((s) => sourceWords[s.source]))].join(' and ');
  const server = describeServer(chosen);
  const reasons: string[] = [];
  let confidence: Confidence;
  const guessedOnly = chosen.sources.every((s) => s.source === 'guess');
  switch (chosen.result) {
    case 'login_ok':
      confidence = chosen.security === 'none' ? 'medium' : 'high';
      reasons.push(`${label}: ${server}, named by ${named}, took the login.`);
      break;
    case 'reachable':
      confidence = guessedOnly || chosen.security === 'none' ? 'medium' : passwordGiven ? 'medium' : 'high';
      reasons.push(
        `${label}: ${server}, named by ${named}, answered${chosen.security === 'none' ? '' : ' over verified TLS'}; ` +
          (passwordGiven ? 'the login was not tried.' : 'no password was given, so the login was not tried.'),
      );
      break;
    case 'login_failed':
      confidence = 'medium';
      reasons.push(
        `${label}: ${server}, named by ${named}, answered but refused the login: check the password or the user name.`,
      );
      break;
    default:
      confidence = 'low';
      reasons.push(
        `${label}: ${server}, named by ${named}, could not be verified (${chosen.result.replace('_', ' ')}).`,
      );
  }
  if (guessedOnly && chosen.result !== 'login_ok') confidence = lower(confidence, 'medium');
  if (chosen.security === 'none') {
    reasons.push(`${label}: the server offers no encryption; the password would cross the network in clear.`);
  }
  // A runner-up named by a real source is a disagreement worth showing; guesses are not.
  const runnerUp = all
    .filter((c) => c !== chosen && c.direction === chosen.direction)
    .sort((a, b) => a.rank - b.rank)
    .find((c) => c.sources.some((s) => s.source !== 'guess'));
  if (runnerUp) {
    reasons.push(
      `${label}: also named: ${describeServer(runnerUp)} (${runnerUp.result.replace('_', ' ')}), ranked below.`,
    );
  }
  return { confidence, reasons };
}

/**
 * How sure the whole answer is: the lower of the two directions. Incoming mail is optional: with
 * none found, the answer is at most `medium`.
 */
export function judge(
  candidates: CandidateEvidence[],
  passwordGiven: boolean,
  timedOut: boolean,
): { confidence: Confidence; reasons: string[] } {
  const outgoing = candidates.find((c) => c.direction === 'outgoing' && c.chosen);
  const incoming = candidates.find((c) => c.direction === 'incoming' && c.chosen);
  const out = judgeOne('Outgoing', outgoing, candidates, passwordGiven);
  const inc = judgeOne('Incoming', incoming, candidates, passwordGiven);
  let confidence =
    out.confidence === 'none'
      ? 'none'
      : lower(out.confidence, inc.confidence === 'none' ? 'medium' : inc.confidence);
  const reasons = [...out.reasons, ...inc.reasons];
  if (timedOut) {
    reasons.push(
      'The deadline passed before every source and server answered: this is what was known by then.',
    );
    confidence = lower(confidence, 'medium');
  }
  return { confidence, reasons };
}
