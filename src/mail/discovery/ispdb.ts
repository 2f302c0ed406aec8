/**
 * An ISP database in Thunderbird's format (Mozilla's ISPDB is the public one), queried by domain:
 * MAILROOM_ISPDB_URL, with `{domain}` replaced by the domain, or the domain appended to it
 * (`https://autoconfig.thunderbird.net/v1.1/` asks `…/v1.1/example.com`). Off when unset.
 */
import { readConfigDocument, type Address, type DocumentFetch, type SourceAnswer } from './autoconfig.ts';

export function ispdbUrlFor(base: string, domain: string): string {
  const name = encodeURIComponent(domain);
  if (base.includes('{domain}')) return base.replace(/\{domain\}/g, name);
  return `${base.endsWith('/') ? base : `${base}/`}${name}`;
}

export function fromIspdb(
  fetchDocument: DocumentFetch,
  address: Address,
  options: { base: string; lookupDomain: string; elapsed: () => number; source?: 'mx' },
): Promise<SourceAnswer> {
  const url = ispdbUrlFor(options.base, options.lookupDomain);
  return readConfigDocument(fetchDocument, url, address, options.source ?? 'ispdb', options.elapsed);
}
