import type { ConnectionProbes, DirectionTest } from './domains/accounts/connection-test.service.ts';
import { probeIncoming } from './mail/incoming-probe.ts';
import { openJmapReader } from './mail/jmap-reader.ts';
import { ReaderError } from './mail/reader.ts';
import { probeSmtp } from './mail/smtp-probe.ts';
import type { HostPolicy } from './net/address-policy.ts';
import {
  incomingHealthFor,
  outgoingHealthFor,
  readerConfigFor,
  smtpConfigFor,
  type ServerSettings,
} from './server-configs.ts';

const noPassword = (step: string): DirectionTest => ({
  ok: false,
  steps: [{ step, ok: false, ms: 0, reply: 'No password is at hand for this server; supply it first.' }],
  health: 'password_required',
  lastError: 'No password is at hand for this server.',
});

/**
 * JMAP's test: discover the session and log in, with the reader itself (nothing is read). One
 * step, since the session request is the connection, the TLS handshake and the login at once.
 */
async function probeJmap(server: ServerSettings, hostPolicy: HostPolicy): Promise<DirectionTest> {
  const config = readerConfigFor(server, hostPolicy);
  if ('missingPassword' in config) return noPassword('login');
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const reader = await openJmapReader(config);
    await reader.close();
    return {
      ok: true,
      steps: [{ step: 'login', ok: true, ms: ms(), reply: 'The JMAP session answered and took the login.' }],
      health: 'ok',
      lastError: null,
    };
  } catch (error) {
    if (!(error instanceof ReaderError)) throw error;
    const reply = error.reply ?? error.message;
    return {
      ok: false,
      steps: [{ step: 'login', ok: false, ms: ms(), reply }],
      health: incomingHealthFor(error.code),
      lastError: reply,
    };
  }
}

/**
 * The connection tests, wired to the protocol adapters, connecting only where `hostPolicy` allows
 * (a refused address fails the connect step with HOST_NOT_ALLOWED, like any connect error).
 */
export const createConnectionProbes = (hostPolicy: HostPolicy): ConnectionProbes => ({
  async outgoing(server, address) {
    const config = smtpConfigFor(server, hostPolicy);
    if ('missingPassword' in config) return noPassword('auth');
    const result = await probeSmtp(config, address, address);
    const failed = result.steps.find((step) => !step.ok);
    return {
      ok: result.ok,
      steps: result.steps,
      health: result.ok || !result.error ? 'ok' : (outgoingHealthFor(result.error.code) ?? 'ok'),
      lastError: result.ok ? null : (result.error?.reply?.text ?? failed?.reply ?? null),
    };
  },

  async incoming({ settings, passwords }) {
    const incoming = settings.incoming;
    if (incoming.protocol === 'none') {
      return {
        ok: false,
        steps: [{ step: 'connect', ok: false, ms: 0, reply: 'The account reads no incoming mail.' }],
        health: 'unknown',
        lastError: null,
      };
    }
    if (incoming.protocol === 'jmap') return probeJmap({ settings, passwords }, hostPolicy);
    if (!passwords.incoming || !incoming.username) return noPassword('login');
    const result = await probeIncoming({
      protocol: incoming.protocol,
      host: incoming.host!,
      port: incoming.port!,
      security: incoming.security,
      user: incoming.username,
      pass: passwords.incoming,
      spa: incoming.spa,
      timeoutMs: incoming.timeoutMs,
      proxy: null,
      hostPolicy,
    });
    // A person testing IMAP settings wants to see the folders the server lists, beside its words.
    const steps = result.steps.map((step) =>
      step.step === 'list' && result.folders
        ? { ...step, reply: `${step.reply ?? ''}\nfolders: ${result.folders.join(', ')}` }
        : step,
    );
    return {
      ok: result.ok,
      steps,
      health: result.ok || !result.error ? 'ok' : incomingHealthFor(result.error.code),
      lastError: result.ok ? null : (result.error?.reply ?? null),
    };
  },
});
