/**
 * The shapes of server autodiscovery (docs/adr/017-autodiscovery-ranking-and-deadline.md): what a
 * source names (a candidate), what a probe found, and the evidence handed back with the settings.
 * No database, no HTTP routes: the accounts domain wraps this (discovery.service.ts).
 */
import type { Security } from '../smtp-types.ts';

/** Where a candidate came from, in the order a careful client asks. */
export const discoverySources = ['autoconfig', 'well-known', 'srv', 'ispdb', 'mx', 'guess'] as const;
export type DiscoverySource = (typeof discoverySources)[number];

export type ServerProtocol = 'smtp' | 'imap' | 'pop3' | 'jmap';
export type ServerDirection = 'outgoing' | 'incoming';

export const directionOf = (protocol: ServerProtocol): ServerDirection =>
  protocol === 'smtp' ? 'outgoing' : 'incoming';

/** A server a source named, before anyone connected to it. */
export interface Candidate {
  protocol: ServerProtocol;
  host: string;
  port: number;
  security: Security;
  /** JMAP: the session URL; null for the others. */
  url: string | null;
  /** The login name the source gave (placeholders filled in); null: the address, then its local part. */
  username: string | null;
  /** The source asks for a challenge-response login (autoconfig's `password-encrypted`). */
  spa: boolean;
  /** SMTP: false when the source says the server takes mail without a login. */
  requiresAuth: boolean;
  source: DiscoverySource;
  /** Where the source said so: the URL fetched or the DNS name asked. */
  via: string;
  /** SRV records only: lower is preferred. */
  priority?: number;
  /** SRV records only: among equal priorities, higher is preferred. */
  weight?: number;
  /** What the source said that a person should know (a login method we cannot use, say). */
  note?: string;
}

/**
 * What a probe found: `login_ok` (connected, TLS verified, the password taken), `reachable`
 * (connected and TLS verified, no login tried), `login_failed` (the server refused the login),
 * `tls_failed`, `unreachable`, `timeout`, `refused` (the address policy forbids the host: never
 * contacted) and `not_probed` (the deadline or the cap on candidates came first).
 */
export const probeVerdicts = [
  'login_ok',
  'reachable',
  'login_failed',
  'tls_failed',
  'unreachable',
  'timeout',
  'refused',
  'not_probed',
] as const;
export type ProbeVerdict = (typeof probeVerdicts)[number];

export interface ProbeStepRecord {
  step: string;
  ok: boolean;
  ms: number;
  /** The server's own words, or what went wrong; never a secret. */
  reply: string | null;
}

export interface ProbeOutcome {
  result: ProbeVerdict;
  /** The words that decided the verdict: the server's when it said something. */
  reply: string | null;
  steps: ProbeStepRecord[];
  ms: number;
  /** The login name that worked, or the last one tried; null when no login was tried. */
  username: string | null;
}

/** One server, with every source that named it and what the probe found. */
export interface CandidateEvidence {
  direction: ServerDirection;
  protocol: ServerProtocol;
  host: string;
  port: number;
  security: Security;
  url: string | null;
  username: string | null;
  /** Challenge-response login only (a source asked for it). */
  spa: boolean;
  /** SMTP: false when every source says the server takes mail without a login. */
  requiresAuth: boolean;
  sources: { source: DiscoverySource; via: string; note?: string }[];
  result: ProbeVerdict;
  reply: string | null;
  steps: ProbeStepRecord[];
  ms: number;
  /** 1 is the best of its direction. */
  rank: number;
  chosen: boolean;
}

export type SourceOutcome = 'found' | 'nothing' | 'failed' | 'timeout' | 'refused' | 'skipped';

/** What one source did: asked where, what came back, and how long it took. */
export interface SourceReport {
  source: DiscoverySource;
  via: string;
  outcome: SourceOutcome;
  /** In words: "2 servers", "HTTP 500 Internal Server Error", "not XML: …", "no such name". */
  detail: string;
  found: number;
  ms: number;
}

export type Confidence = 'high' | 'medium' | 'low' | 'none';

/** The outgoing server as POST /api/accounts takes it (no password: the caller adds it). */
export interface DiscoveredSmtp {
  host: string;
  port: number;
  security: Security;
  requiresAuth: boolean;
  useIncomingCredentials: false;
  username: string | null;
  spa: boolean;
}

export interface DiscoveredIncoming {
  protocol: 'none' | 'imap' | 'pop3' | 'jmap';
  host?: string | null;
  port?: number | null;
  url?: string | null;
  security?: Security;
  username?: string | null;
  spa?: boolean;
}

/** An own, personal account: the shape of POST /api/accounts, ready to save once a password is added. */
export interface DiscoveredAccount {
  type: 'own';
  scope: 'personal';
  name: string;
  email: string;
  smtp: DiscoveredSmtp;
  incoming: DiscoveredIncoming;
}

export interface DiscoveryResult {
  email: string;
  domain: string;
  /** Null when no outgoing server was found at all. */
  settings: DiscoveredAccount | null;
  confidence: Confidence;
  /** Why that confidence, in a person's words. */
  reasons: string[];
  /** Every server found, best first within each direction (outgoing first). */
  candidates: CandidateEvidence[];
  sources: SourceReport[];
  /** The overall deadline passed before everything answered: the result is what was known then. */
  timedOut: boolean;
  ms: number;
}

/** What discovery reports as it goes (tests wait on these; a UI could stream them). */
export type DiscoveryEvent =
  { type: 'source'; report: SourceReport } | { type: 'probed'; candidate: Candidate; outcome: ProbeOutcome };

/**
 * Time, injected so a test can move it by hand: `now` in milliseconds, and a timer that returns
 * its own cancel function. Every deadline and timeout of discovery runs on it.
 */
export interface DiscoveryTimer {
  now(): number;
  setTimeout(callback: () => void, ms: number): () => void;
}

export const systemTimer: DiscoveryTimer = {
  now: () => performance.now(),
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    return () => clearTimeout(handle);
  },
};
