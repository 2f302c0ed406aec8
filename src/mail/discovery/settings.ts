/**
 * The chosen servers as account settings in the shape POST /api/accounts takes: an own, personal
 * account named after its address, with every server field filled and the password left for the
 * caller to add (passwords are write-only: no answer carries one back).
 */
import type { Address } from './autoconfig.ts';
import type { CandidateEvidence, DiscoveredAccount, DiscoveredIncoming } from './types.ts';

export function toAccountSettings(
  address: Address,
  /** The address as the person wrote it: the account's name and address. */
  written: string,
  outgoing: CandidateEvidence | undefined,
  incoming: CandidateEvidence | undefined,
): DiscoveredAccount | null {
  if (!outgoing) return null;
  const login = (c: CandidateEvidence) => c.username ?? address.email;
  const requiresAuth = outgoing.requiresAuth;
  let incomingSettings: DiscoveredIncoming = { protocol: 'none' };
  if (incoming?.protocol === 'jmap') {
    incomingSettings = {
      protocol: 'jmap',
      host: null,
      port: null,
      url: incoming.url,
      security: 'tls',
      username: login(incoming),
    };
  } else if (incoming && (incoming.protocol === 'imap' || incoming.protocol === 'pop3')) {
    incomingSettings = {
      protocol: incoming.protocol,
      host: incoming.host,
      port: incoming.port,
      url: null,
      security: incoming.security,
      username: login(incoming),
      spa: incoming.spa,
    };
  }
  return {
    type: 'own',
    scope: 'personal',
    name: written,
    email: written,
    smtp: {
      host: outgoing.host,
      port: outgoing.port,
      security: outgoing.security,
      requiresAuth,
      useIncomingCredentials: false,
      username: requiresAuth ? login(outgoing) : null,
      spa: requiresAuth && outgoing.spa,
    },
    incoming: incomingSettings,
  };
}
