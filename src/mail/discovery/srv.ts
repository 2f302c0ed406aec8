/**
 * DNS SRV records for mail (RFC 6186, with RFC 8314's implicit TLS names first) and JMAP (RFC
 * 8620 §2.2). Records of one service are taken in order of priority (lower first), then weight
 * (higher first); a record whose target is "." says the service is not offered (RFC 2782).
 */
import type { Security } from '../smtp-types.ts';
import type { SourceAnswer } from './autoconfig.ts';
import { dnsWords, isNoRecord, type DiscoveryResolver, type SrvAnswer } from './resolver.ts';
import type { Candidate, DiscoverySource, ServerProtocol, SourceReport } from './types.ts';

export const srvServices: { label: string; protocol: ServerProtocol; security: Security }[] = [
  { label: '_submissions._tcp', protocol: 'smtp', security: 'tls' },
  { label: '_submission._tcp', protocol: 'smtp', security: 'starttls' },
  { label: '_imaps._tcp', protocol: 'imap', security: 'tls' },
  { label: '_imap._tcp', protocol: 'imap', security: 'starttls' },
  { label: '_pop3s._tcp', protocol: 'pop3', security: 'tls' },
  { label: '_pop3._tcp', protocol: 'pop3', security: 'starttls' },
  { label: '_jmap._tcp', protocol: 'jmap', security: 'tls' },
];

/** At most this many records of one service are taken. */
const MAX_RECORDS_PER_SERVICE = 3;

export function orderSrv(records: SrvAnswer[]): SrvAnswer[] {
  return [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight);
}

function candidateOf(
  record: SrvAnswer,
  service: (typeof srvServices)[number],
  name: string,
  source: DiscoverySource,
): Candidate {
  const host = record.name.replace(/\.$/, '').toLowerCase();
  return {
    protocol: service.protocol,
    host,
    port: record.port,
    security: service.security,
    url:
      service.protocol === 'jmap'
        ? `https://${host}${record.port === 443 ? '' : `:${record.port}`}/.well-known/jmap`
        : null,
    username: null,
    spa: false,
    requiresAuth: true,
    source,
    via: `SRV ${name}`,
    priority: record.priority,
    weight: record.weight,
  };
}

/**
 * Every mail SRV name of the domain, asked at once; one report for the lot, naming what each
 * answered ("_imaps._tcp: mail.example.com:993; _pop3._tcp: not offered; …").
 */
export async function fromSrv(
  resolver: DiscoveryResolver,
  lookupDomain: string,
  options: { elapsed: () => number; source?: 'mx' },
): Promise<SourceAnswer> {
  const source = options.source ?? 'srv';
  const answers = await Promise.all(
    srvServices.map(async (service) => {
      const name = `${service.label}.${lookupDomain}`;
      try {
        const records = orderSrv(await resolver.srv(name));
        // RFC 2782: a lone "." target means "decidedly not available at this domain".
        if (records.length === 1 && ['', '.'].includes(records[0]!.name)) {
          return { service, words: 'not offered ("." target)', candidates: [] as Candidate[], failed: false };
        }
        const candidates = records
          .filter((record) => record.name !== '' && record.name !== '.' && record.port > 0)
          .slice(0, MAX_RECORDS_PER_SERVICE)
          .map((record) => candidateOf(record, service, name, source));
        const words = candidates.map((c) => `${c.host}:${c.port}`).join(', ') || 'no usable record';
        return { service, words, candidates, failed: false };
      } catch (error) {
        return { service, words: dnsWords(error), candidates: [] as Candidate[], failed: !isNoRecord(error) };
      }
    }),
  );
  const candidates = answers.flatMap((answer) => answer.candidates);
  const detail = answers.map((answer) => `${answer.service.label}: ${answer.words}`).join('; ');
  const allFailed = answers.every((answer) => answer.failed);
  const report: SourceReport = {
    source,
    via: `SRV records of ${lookupDomain}`,
    outcome: candidates.length > 0 ? 'found' : allFailed ? 'failed' : 'nothing',
    detail,
    found: candidates.length,
    ms: options.elapsed(),
  };
  return { report, candidates };
}
