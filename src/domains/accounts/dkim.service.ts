import { createPrivateKey } from 'node:crypto';
import { domainToASCII } from 'node:url';
import type { Clock } from '../../clock.ts';
import type { Db } from '../../db/database.ts';
import { AppError, type FieldErrors } from '../../errors.ts';
import { dnsTxtRecord, generateDkimKey, type DkimDnsRecord, type DkimSigningKey } from '../../mail/dkim.ts';
import { decryptSecret, encryptSecret } from '../../secrets/cipher.ts';
import type { Keyring } from '../../secrets/keyring.ts';
import type { SecretStore } from '../../secrets/rotate.ts';
import * as repo from './dkim.repository.ts';

export const DEFAULT_DKIM_SELECTOR = 'mailroom';

export interface DkimServiceDeps {
  db: Db;
  keyring: Keyring;
  now: Clock;
}

export interface GeneratedDkimKey {
  /** The domain as stored and signed for: lower case, internationalised names in their xn-- form. */
  domain: string;
  selector: string;
  /** UTC ISO-8601. */
  createdAt: string;
  /** What to publish in the domain's DNS for receivers to verify the signatures. */
  record: DkimDnsRecord;
  /** The key this one replaced, if the domain had one. */
  replaced: { selector: string; createdAt: string } | null;
}

const label = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
/** Two labels at least; the last is not all digits, which rules out IPv4 addresses. */
const domainPattern = new RegExp(`^(?:${label}\\.)+(?=[a-z0-9-]*[a-z])${label}$`);
const selectorPattern = new RegExp(`^${label}(?:\\.${label})*$`);
const MAX_NAME_OCTETS = 253;

/**
 * The domain in the form DKIM signs and DNS stores it (lower case, A-labels), or null when it is not
 * a domain name. A trailing dot (the fully qualified form) is accepted and dropped.
 */
export function normalizeDkimDomain(domain: string): string | null {
  const trimmed = domain.trim().replace(/\.$/, '');
  if (trimmed === '' || /[\s/\\@:]/.test(trimmed)) return null;
  const ascii = domainToASCII(trimmed.toLowerCase());
  return ascii.length <= MAX_NAME_OCTETS && domainPattern.test(ascii) ? ascii : null;
}

function validate(domain: string, selector: string): { domain: string; selector: string } {
  const fields: FieldErrors = {};
  const normalizedDomain = normalizeDkimDomain(domain);
  const normalizedSelector = selector.trim().toLowerCase();
  if (normalizedDomain === null) {
    fields.domain = 'must be a domain name such as example.com';
  }
  if (!selectorPattern.test(normalizedSelector)) {
    fields.selector =
      'must be letters, digits and hyphens, in dot-separated labels, such as mailroom or s2025';
  } else if (
    normalizedDomain !== null &&
    `${normalizedSelector}._domainkey.${normalizedDomain}`.length > MAX_NAME_OCTETS
  ) {
    fields.selector = `is too long for this domain: the DNS name would exceed ${MAX_NAME_OCTETS} characters`;
  }
  if (normalizedDomain === null || Object.keys(fields).length > 0) {
    throw new AppError('VALIDATION_FAILED', 'The DKIM domain or selector is not valid.', { fields });
  }
  return { domain: normalizedDomain, selector: normalizedSelector };
}

/**
 * DKIM keys of the domains marketing mail is sent from: one per domain. The private key is stored
 * encrypted with the keyring, bound to its domain, and leaves this service only through
 * `signerFor`, for the dispatcher.
 */
export function createDkimService({ db, keyring, now }: DkimServiceDeps) {
  return {
    /** Creates the domain's key, or replaces the one it had. Returns the record to publish, never the private key. */
    async generate(domain: string, selector: string = DEFAULT_DKIM_SELECTOR): Promise<GeneratedDkimKey> {
      const valid = validate(domain, selector);
      const pair = await generateDkimKey();
      const createdAt = now().toISOString();
      const previous = await db.transaction().execute(async (trx) => {
        const existing = await repo.findDkimKeyRow(trx, valid.domain);
        await repo.upsertDkimKeyRow(trx, {
          domain: valid.domain,
          selector: valid.selector,
          private_key: encryptSecret(keyring, pair.privateKey, valid.domain),
          public_key: pair.publicKey,
          created_at: createdAt,
        });
        return existing;
      });
      return {
        ...valid,
        createdAt,
        record: dnsTxtRecord(valid.selector, valid.domain, pair.publicKey),
        replaced: previous ? { selector: previous.selector, createdAt: previous.created_at } : null,
      };
    },

    /**
     * The key to sign mail from this domain with, decrypted; null when the domain has none (or is
     * not a domain name). For the dispatcher only: pass it to `signMessage`, never to a log. Throws
     * SECRET_UNREADABLE when the stored key cannot be decrypted with the keyring.
     */
    async signerFor(domain: string): Promise<DkimSigningKey | null> {
      const normalized = normalizeDkimDomain(domain);
      const row = normalized === null ? undefined : await repo.findDkimKeyRow(db, normalized);
      if (!row) return null;
      const pem = decryptSecret(keyring, row.private_key, row.domain);
      return { domain: row.domain, selector: row.selector, privateKey: createPrivateKey(pem) };
    },

    /** The TXT record the domain must publish for its current key; null when it has none. */
    async record(domain: string): Promise<DkimDnsRecord | null> {
      const normalized = normalizeDkimDomain(domain);
      const row = normalized === null ? undefined : await repo.findDkimKeyRow(db, normalized);
      return row ? dnsTxtRecord(row.selector, row.domain, row.public_key) : null;
    },

    /** The encrypted private keys, for `mailroom secrets rotate`: id and context are the domain. */
    secretStore(): SecretStore {
      return {
        async list(afterId, limit) {
          const rows = await repo.listDkimSecretRows(db, afterId, limit);
          return rows.map((row) => ({ id: row.domain, context: row.domain, ciphertext: row.private_key }));
        },
        replace: (id, expected, next) => repo.replaceDkimPrivateKey(db, id, expected, next),
      };
    },
  };
}

export type DkimService = ReturnType<typeof createDkimService>;
