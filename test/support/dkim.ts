import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { txtStrings, type DkimDnsRecord } from '../../src/mail/dkim.ts';

/** DNS as a receiver would see it, the record's strings as published: no real lookups. */
export function resolverFor(records: DkimDnsRecord[]) {
  return async (name: string, rrtype: string): Promise<string[][]> => {
    const found = records.filter((record) => rrtype === 'TXT' && record.name === name);
    if (found.length === 0) throw Object.assign(new Error(`no ${rrtype} for ${name}`), { code: 'ENOTFOUND' });
    return found.map((record) => txtStrings(record.value));
  };
}

/** What a receiver's DKIM check says of the message, against these published records. */
export async function verifyDkim(message: Buffer, records: DkimDnsRecord[]) {
  const { results } = await dkimVerify(message, { resolver: resolverFor(records) });
  return results;
}
