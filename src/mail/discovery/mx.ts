/**
 * MX-based discovery: a domain whose mail is hosted elsewhere (its MX is mx.provider.net) is asked
 * about through the provider's domain with the same sources (autoconfig, SRV, the ISP database),
 * and, when all of that finds nothing that answers, the common host names (imap., mail., pop3.,
 * smtp.) of the address's domain and of the provider's are probed with a short timeout.
 */
import { getDomain } from 'tldts';
import type { Security } from '../smtp-types.ts';
import { dnsWords, isNoRecord, type DiscoveryResolver } from './resolver.ts';
import type { Candidate, ServerProtocol, SourceReport } from './types.ts';

export interface MxFinding {
  report: SourceReport;
  /** The registrable domain of the preferred MX host, when it differs from the address's. */
  providerDomain: string | null;
}

/** The preferred MX host's registrable domain (mx1.mail.provider.co.uk: provider.co.uk). */
export async function findMailProvider(
  resolver: DiscoveryResolver,
  domain: string,
  elapsed: () => number,
): Promise<MxFinding> {
  const via = `MX records of ${domain}`;
  const report = (outcome: SourceReport['outcome'], detail: string, found = 0): SourceReport => ({
    source: 'mx',
    via,
    outcome,
    detail,
    found,
    ms: elapsed(),
  });
  try {
    const records = [...(await resolver.mx(domain))].sort((a, b) => a.priority - b.priority);
    const best = records.find((record) => record.exchange !== '' && record.exchange !== '.');
    if (!best) {
      return {
        report: report(
          'nothing',
          records.length > 0 ? 'a null MX: the domain takes no mail' : 'no MX record',
        ),
        providerDomain: null,
      };
    }
    const host = best.exchange.replace(/\.$/, '').toLowerCase();
    const provider = getDomain(host, { allowPrivateDomains: true });
    if (!provider)
      return { report: report('nothing', `MX ${host}: no registrable domain`), providerDomain: null };
    if (provider === domain) {
      return { report: report('nothing', `MX ${host}: the domain's own`), providerDomain: null };
    }
    return { report: report('found', `MX ${host}: mail is hosted by ${provider}`), providerDomain: provider };
  } catch (error) {
    return {
      report: report(isNoRecord(error) ? 'nothing' : 'failed', dnsWords(error)),
      providerDomain: null,
    };
  }
}

export interface GuessPorts {
  imap: { tls: number; starttls: number };
  pop3: { tls: number; starttls: number };
  smtp: { tls: number; starttls: number };
}

export const standardPorts: GuessPorts = {
  imap: { tls: 993, starttls: 143 },
  pop3: { tls: 995, starttls: 110 },
  smtp: { tls: 465, starttls: 587 },
};

/** The host names a server of each kind commonly has. */
const commonNames: Record<'imap' | 'pop3' | 'smtp', string[]> = {
  imap: ['imap', 'mail'],
  pop3: ['pop3', 'mail'],
  smtp: ['smtp', 'mail'],
};

/**
 * The common names of each domain for the kinds still missing, TLS on connect before STARTTLS.
 * Plain text is never guessed.
 */
export function guessCandidates(
  domains: string[],
  kinds: ('imap' | 'pop3' | 'smtp')[],
  ports: GuessPorts,
): Candidate[] {
  const found: Candidate[] = [];
  for (const domain of domains) {
    for (const kind of kinds) {
      for (const prefix of commonNames[kind]) {
        for (const security of ['tls', 'starttls'] as Security[]) {
          const host = `${prefix}.${domain}`;
          found.push({
            protocol: kind as ServerProtocol,
            host,
            port: ports[kind][security === 'tls' ? 'tls' : 'starttls'],
            security,
            url: null,
            username: null,
            spa: false,
            requiresAuth: true,
            source: 'guess',
            via: `common name ${host}`,
          });
        }
      }
    }
  }
  return found;
}
