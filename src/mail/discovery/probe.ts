/**
 * Probing a candidate with the "test settings" probes (smtp-probe.ts, incoming-probe.ts) and the
 * JMAP reader: connect, TLS (always verified), the capabilities, and a login with the password
 * when one was given. The host passes the address policy first (a refused one is never
 * contacted), and every connection applies it again. A password is never sent over a connection
 * without TLS: such a candidate is probed without a login.
 */
import type { HostPolicy } from '../../net/address-policy.ts';
import { probeIncoming, type IncomingProbeResult } from '../incoming-probe.ts';
import { openJmapReader } from '../jmap-reader.ts';
import { ReaderError } from '../reader.ts';
import { probeSmtp } from '../smtp-probe.ts';
import type { ProbeResult } from '../smtp-types.ts';
import type { Address } from './autoconfig.ts';
import type { FetchedText } from './fetch.ts';
import { checkHost } from './resolver.ts';
import type { Candidate, ProbeOutcome, ProbeStepRecord, ProbeVerdict } from './types.ts';

export interface ProbeContext {
  address: Address;
  password: string | null;
  hostPolicy: HostPolicy;
  /** Extra CA certificates (PEM) to trust besides the system's and NODE_EXTRA_CA_CERTS. */
  ca?: string;
  /** Each step's bound (connecting, the TLS handshake, each reply). */
  timeoutMs: number;
  /** An HTTPS GET under the same policy, for a JMAP session asked without a login. */
  fetch(url: string, headers: Record<string, string>): Promise<FetchedText>;
  now(): number;
}

const verdictOfCode: Record<string, ProbeVerdict> = {
  HOST_NOT_ALLOWED: 'refused',
  SMTP_AUTH_FAILED: 'login_failed',
  INCOMING_AUTH_FAILED: 'login_failed',
  SPA_UNAVAILABLE: 'login_failed',
  SMTP_TLS_FAILED: 'tls_failed',
  INCOMING_TLS_FAILED: 'tls_failed',
  SMTP_TIMEOUT: 'timeout',
  INCOMING_TIMEOUT: 'timeout',
};

const verdictOf = (code: string): ProbeVerdict => verdictOfCode[code] ?? 'unreachable';

/** The login names to try: the source's, else the address and then its local part. */
export function loginNames(candidate: Candidate, address: Address): string[] {
  if (candidate.username) return [candidate.username];
  return [...new Set([address.email, address.localPart])];
}

/** The greeting: the first step's words (after TLS on connect, the TLS step's). */
const greetingOf = (steps: ProbeStepRecord[]) =>
  steps.find((step) => step.ok && step.reply && (step.step === 'connect' || step.step === 'tls'))?.reply ??
  null;

function smtpOutcome(result: ProbeResult, user: string | null): Omit<ProbeOutcome, 'ms'> {
  const steps = result.steps.map(({ step, ok, ms, reply }) => ({ step, ok, ms, reply }));
  if (result.ok) {
    const auth = steps.find((step) => step.step === 'auth');
    return auth
      ? { result: 'login_ok', reply: auth.reply, steps, username: user }
      : { result: 'reachable', reply: greetingOf(steps), steps, username: null };
  }
  const failed = steps.find((step) => !step.ok);
  const reply = failed?.reply ?? result.error?.reply?.text ?? null;
  return { result: verdictOf(result.error?.code ?? ''), reply, steps, username: user };
}

function incomingOutcome(result: IncomingProbeResult, user: string | null): Omit<ProbeOutcome, 'ms'> {
  const steps = result.steps.map(({ step, ok, ms, reply }) => ({ step, ok, ms, reply }));
  if (result.ok) {
    const login = steps.find((step) => step.step === 'login');
    return login
      ? { result: 'login_ok', reply: login.reply, steps, username: user }
      : { result: 'reachable', reply: greetingOf(steps), steps, username: null };
  }
  return {
    result: verdictOf(result.error?.code ?? ''),
    reply: result.error?.reply ?? steps.find((step) => !step.ok)?.reply ?? null,
    steps,
    username: user,
  };
}

async function probeJmapOnce(
  candidate: Candidate,
  ctx: ProbeContext,
  user: string | null,
): Promise<Omit<ProbeOutcome, 'ms'>> {
  const started = ctx.now();
  const step = (ok: boolean, reply: string): ProbeStepRecord[] => [
    { step: 'session', ok, ms: Math.round(ctx.now() - started), reply },
  ];
  const url = candidate.url ?? `https://${candidate.host}:${candidate.port}/.well-known/jmap`;
  if (user === null) {
    try {
      const answer = await ctx.fetch(url, { accept: 'application/json' });
      const status = `HTTP ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
      if (answer.status === 401) {
        const words = `${status}: the JMAP session asks for a login`;
        return { result: 'reachable', reply: words, steps: step(true, words), username: null };
      }
      if (answer.status === 200 && /"capabilities"/.test(answer.text)) {
        const words = `${status}: a JMAP session`;
        return { result: 'reachable', reply: words, steps: step(true, words), username: null };
      }
      return { result: 'unreachable', reply: status, steps: step(false, status), username: null };
    } catch (error) {
      const kind = (error as { kind?: string }).kind;
      const result: ProbeVerdict =
        kind === 'refused'
          ? 'refused'
          : kind === 'tls'
            ? 'tls_failed'
            : kind === 'timeout'
              ? 'timeout'
              : 'unreachable';
      const words = (error as Error).message;
      return { result, reply: words, steps: step(false, words), username: null };
    }
  }
  try {
    const reader = await openJmapReader({
      host: candidate.host,
      port: candidate.port,
      security: 'tls',
      user,
      pass: ctx.password ?? '',
      spa: false,
      timeoutMs: ctx.timeoutMs,
      folders: ['INBOX'],
      url,
      hostPolicy: ctx.hostPolicy,
      ...(ctx.ca ? { ca: ctx.ca } : {}),
    });
    await reader.close();
    const words = 'The JMAP session answered and took the login.';
    return { result: 'login_ok', reply: words, steps: step(true, words), username: user };
  } catch (error) {
    if (!(error instanceof ReaderError)) throw error;
    const words = error.reply ?? error.message;
    return { result: verdictOf(error.code), reply: words, steps: step(false, words), username: user };
  }
}

async function probeOnce(
  candidate: Candidate,
  ctx: ProbeContext,
  user: string | null,
): Promise<Omit<ProbeOutcome, 'ms'>> {
  const common = {
    host: candidate.host,
    port: candidate.port,
    security: candidate.security,
    proxy: null,
    timeoutMs: ctx.timeoutMs,
    hostPolicy: ctx.hostPolicy,
    ...(ctx.ca ? { ca: ctx.ca } : {}),
  };
  switch (candidate.protocol) {
    case 'smtp': {
      const auth = user !== null ? { user, pass: ctx.password ?? '', spa: candidate.spa } : null;
      const result = await probeSmtp({ ...common, auth }, ctx.address.email, ctx.address.email, {
        stopAfterAuth: true,
      });
      return smtpOutcome(result, user);
    }
    case 'imap':
    case 'pop3': {
      const result = await probeIncoming(
        {
          ...common,
          protocol: candidate.protocol,
          user: user ?? ctx.address.email,
          pass: user !== null ? (ctx.password ?? '') : '',
          spa: candidate.spa,
        },
        { stopAfter: user !== null ? 'login' : 'capabilities' },
      );
      return incomingOutcome(result, user);
    }
    case 'jmap':
      return probeJmapOnce(candidate, ctx, user);
  }
}

/**
 * Probes one candidate: the policy first, then the protocol, logging in with each login name in
 * turn until one is taken (the address, then its local part, unless the source named one).
 */
export async function probeCandidate(candidate: Candidate, ctx: ProbeContext): Promise<ProbeOutcome> {
  const started = ctx.now();
  const done = (outcome: Omit<ProbeOutcome, 'ms'>): ProbeOutcome => ({
    ...outcome,
    ms: Math.round(ctx.now() - started),
  });
  const check = await checkHost(candidate.host, ctx.hostPolicy);
  if (!check.allowed) {
    return done({
      result: check.refused ? 'refused' : 'unreachable',
      reply: check.reason,
      steps: [],
      username: null,
    });
  }
  const wantsLogin = candidate.protocol !== 'smtp' || candidate.requiresAuth;
  if (ctx.password === null || !wantsLogin) return done(await probeOnce(candidate, ctx, null));
  if (candidate.security === 'none') {
    const outcome = await probeOnce(candidate, ctx, null);
    const note = 'no login tried: the password is never sent without TLS';
    return done({ ...outcome, reply: outcome.reply ? `${outcome.reply} (${note})` : note });
  }
  let last: Omit<ProbeOutcome, 'ms'> | null = null;
  for (const user of loginNames(candidate, ctx.address)) {
    last = await probeOnce(candidate, ctx, user);
    if (last.result !== 'login_failed') break;
  }
  return done(last!);
}
