/**
 * Thunderbird's autoconfig format (config-v1.1.xml), from the domain's own servers:
 * https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=… and
 * https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml. The ISP database (ispdb.ts)
 * serves the same format. Parsed with fast-xml-parser, DTDs refused and entities left alone, so a
 * hostile document cannot expand itself.
 */
import { domainToASCII } from 'node:url';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Security } from '../smtp-types.ts';
import type { FetchedText } from './fetch.ts';
import type { Candidate, DiscoverySource, ServerProtocol, SourceReport } from './types.ts';

export interface Address {
  email: string;
  localPart: string;
  domain: string;
}

/** The local part as written; the domain in lower case, and in ASCII (IDNA) for DNS and URLs. */
export function splitAddress(email: string): Address {
  const at = email.lastIndexOf('@');
  const localPart = email.slice(0, at);
  const written = email.slice(at + 1).toLowerCase();
  const domain = domainToASCII(written) || written;
  return { email: `${localPart}@${domain}`, localPart, domain };
}

/** A document whose servers cannot be read: not XML, or not a clientConfig. */
export class AutoconfigFormatError extends Error {}

/** At most this many servers are taken from one document, so none can make us probe a crowd. */
const MAX_SERVERS_PER_DOCUMENT = 8;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => ['emailProvider', 'incomingServer', 'outgoingServer', 'authentication'].includes(name),
});

type Node = Record<string, unknown>;

const textOf = (value: unknown): string | null => {
  if (typeof value === 'string') return value.trim() || null;
  if (value && typeof value === 'object' && typeof (value as Node)['#text'] === 'string') {
    return ((value as Node)['#text'] as string).trim() || null;
  }
  return null;
};

const socketTypes: Record<string, Security> = { SSL: 'tls', TLS: 'tls', STARTTLS: 'starttls', plain: 'none' };

/** %EMAILADDRESS%, %EMAILLOCALPART% and %EMAILDOMAIN%, as Thunderbird fills them. */
function fill(template: string, address: Address): string {
  return template
    .replace(/%EMAILADDRESS%/g, address.email)
    .replace(/%EMAILLOCALPART%/g, address.localPart)
    .replace(/%EMAILDOMAIN%/g, address.domain);
}

const HOST = /^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:.]+\]?$/;

function serverOf(
  node: Node,
  kind: 'incoming' | 'outgoing',
  address: Address,
  source: DiscoverySource,
  via: string,
): Candidate | null {
  const type = String(node['@_type'] ?? '').toLowerCase();
  const protocol: ServerProtocol | null =
    kind === 'outgoing'
      ? type === 'smtp'
        ? 'smtp'
        : null
      : type === 'imap' || type === 'pop3' || type === 'jmap'
        ? type
        : null;
  if (!protocol) return null;
  const rawHost = textOf(node.hostname);
  const url = protocol === 'jmap' ? textOf(node.url) : null;
  const host = rawHost ? fill(rawHost, address).toLowerCase() : url ? safeHostOf(url) : null;
  if (!host || !HOST.test(host)) return null;
  const security = socketTypes[textOf(node.socketType) ?? ''] ?? (protocol === 'jmap' ? 'tls' : null);
  if (!security) return null;
  const port = Number(textOf(node.port) ?? (protocol === 'jmap' ? 443 : NaN));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  const methods = ((node.authentication as unknown[] | undefined) ?? []).map((m) => textOf(m) ?? '');
  const plain = methods.some((m) => ['password-cleartext', 'plain'].includes(m));
  const encrypted = methods.some((m) => ['password-encrypted', 'secure'].includes(m));
  const requiresAuth = !(
    methods.length > 0 && methods.every((m) => m === 'none' || m === 'client-IP-address')
  );
  const usable = methods.length === 0 || plain || encrypted || !requiresAuth;
  const username = textOf(node.username);
  const jmapUrl =
    protocol === 'jmap'
      ? url && /^https:\/\//i.test(url)
        ? fill(url, address)
        : `https://${host}${port === 443 ? '' : `:${port}`}/.well-known/jmap`
      : null;
  return {
    protocol,
    host,
    port,
    security: protocol === 'jmap' ? 'tls' : security,
    url: jmapUrl,
    username: username ? fill(username, address) : null,
    spa: !plain && encrypted,
    requiresAuth,
    source,
    via,
    ...(usable
      ? {}
      : { note: `the source offers only ${methods.join(', ')} logins, which Mailroom does not use` }),
  };
}

function safeHostOf(url: string): string | null {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
}

/**
 * The servers of a config-v1.1.xml document, in its order (the provider's preference). Throws
 * AutoconfigFormatError for a document that is not one.
 */
export function parseClientConfig(
  xml: string,
  address: Address,
  source: DiscoverySource,
  via: string,
): Candidate[] {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml))
    throw new AutoconfigFormatError('not accepted: the document has a DTD');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new AutoconfigFormatError(`not XML: ${valid.err.msg} (line ${valid.err.line})`);
  }
  const root = (parser.parse(xml) as Node).clientConfig as Node | undefined;
  if (!root || typeof root !== 'object') throw new AutoconfigFormatError('not a clientConfig document');
  const providers = (root.emailProvider as Node[] | undefined) ?? [];
  if (providers.length === 0) throw new AutoconfigFormatError('the clientConfig names no emailProvider');
  const found: Candidate[] = [];
  for (const provider of providers) {
    for (const [key, kind] of [
      ['outgoingServer', 'outgoing'],
      ['incomingServer', 'incoming'],
    ] as const) {
      for (const node of (provider[key] as Node[] | undefined) ?? []) {
        if (typeof node !== 'object' || node === null) continue;
        const candidate = serverOf(node, kind, address, source, via);
        if (candidate && found.length < MAX_SERVERS_PER_DOCUMENT) found.push(candidate);
      }
    }
  }
  return found;
}

export interface DocumentFetch {
  (url: string): Promise<FetchedText>;
}

export interface SourceAnswer {
  report: SourceReport;
  candidates: Candidate[];
}

/**
 * One config document: fetched, checked and parsed into candidates, with a report of what
 * happened whatever it was (a 404 is "nothing", a 500 or bad XML is "failed").
 */
export async function readConfigDocument(
  fetchDocument: DocumentFetch,
  url: string,
  address: Address,
  source: DiscoverySource,
  elapsed: () => number,
  via = url,
): Promise<SourceAnswer> {
  const report = (outcome: SourceReport['outcome'], detail: string, found = 0): SourceReport => ({
    source,
    via,
    outcome,
    detail,
    found,
    ms: elapsed(),
  });
  let answer: FetchedText;
  try {
    answer = await fetchDocument(url);
  } catch (error) {
    const kind = (error as { kind?: string }).kind;
    const outcome =
      kind === 'refused'
        ? 'refused'
        : kind === 'timeout'
          ? 'timeout'
          : kind === 'no_host'
            ? 'nothing'
            : 'failed';
    return { report: report(outcome, (error as Error).message), candidates: [] };
  }
  const status = `HTTP ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
  if (answer.status === 404 || answer.status === 410)
    return { report: report('nothing', status), candidates: [] };
  if (answer.status !== 200) return { report: report('failed', status), candidates: [] };
  try {
    const candidates = parseClientConfig(answer.text, address, source, via);
    if (candidates.length === 0)
      return { report: report('nothing', 'the document names no server we can use'), candidates };
    return {
      report: report(
        'found',
        `${candidates.length} server${candidates.length === 1 ? '' : 's'}`,
        candidates.length,
      ),
      candidates,
    };
  } catch (error) {
    if (!(error instanceof AutoconfigFormatError)) throw error;
    return { report: report('failed', error.message), candidates: [] };
  }
}

/** The two URLs a domain publishes its own autoconfig at; `port` moves them in tests. */
export function autoconfigUrls(address: Address, lookupDomain: string, port = 443) {
  const at = port === 443 ? '' : `:${port}`;
  return {
    autoconfig: `https://autoconfig.${lookupDomain}${at}/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(address.email)}`,
    wellKnown: `https://${lookupDomain}${at}/.well-known/autoconfig/mail/config-v1.1.xml`,
  };
}

/** Both of a domain's own autoconfig documents, asked at once. */
export function fromAutoconfig(
  fetchDocument: DocumentFetch,
  address: Address,
  options: { lookupDomain: string; port?: number; elapsed: () => number; source?: 'mx' },
): Promise<SourceAnswer>[] {
  const urls = autoconfigUrls(address, options.lookupDomain, options.port);
  return [
    readConfigDocument(
      fetchDocument,
      urls.autoconfig,
      address,
      options.source ?? 'autoconfig',
      options.elapsed,
    ),
    readConfigDocument(
      fetchDocument,
      urls.wellKnown,
      address,
      options.source ?? 'well-known',
      options.elapsed,
    ),
  ];
}
