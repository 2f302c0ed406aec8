import { Resolver } from 'node:dns/promises';
import { AppError } from '../../errors.ts';
import { checkSendingDomain, type DnsResolver, type DomainCheckReport } from '../../mail/domain-check.ts';
import { relayConfigFrom } from '../../server-configs.ts';
import { requireAdmin } from '../users/policy.ts';
import type { Actor } from '../users/users.ts';
import type { createAccountsService } from './accounts.service.ts';
import { normalizeDkimDomain, type DkimService } from './dkim.service.ts';

/** A lookup gives up after this, so that the check answers even when a name server does not. */
const DNS_TIMEOUT_MS = 3_000;
const DNS_TRIES = 2;

/**
 * The one resolver every lookup of the domain check goes through: MAILROOM_DNS_SERVERS when set,
 * else the system's servers.
 */
export function createDnsResolver(servers: readonly string[] | undefined): DnsResolver {
  const resolver = new Resolver({ timeout: DNS_TIMEOUT_MS, tries: DNS_TRIES });
  if (servers !== undefined) resolver.setServers([...servers]);
  return (name, rrtype) => resolver.resolve(name, rrtype) as Promise<string[][] | string[]>;
}

export interface DomainCheckServiceDeps {
  accounts: Pick<ReturnType<typeof createAccountsService>, 'get'>;
  dkim: Pick<DkimService, 'record'>;
  resolve: DnsResolver;
  /** MAILROOM_RELAY_URL. */
  relayUrl: string | undefined;
  /** MAILROOM_BOUNCE_DOMAIN. */
  bounceDomain: string | undefined;
}

/** The sending-domain check an admin reads before approving a marketing account. */
export function createDomainCheckService(deps: DomainCheckServiceDeps) {
  const relayHost = deps.relayUrl === undefined ? null : relayConfigFrom(deps.relayUrl).host;
  return {
    /** Admins only, as approval is; 404 for an account the caller cannot see, as everywhere. */
    async check(actor: Actor, accountId: string): Promise<DomainCheckReport> {
      const account = await deps.accounts.get(actor, accountId);
      requireAdmin(actor, 'check the sending domain of accounts');
      if (account.type !== 'marketing') {
        throw new AppError(
          'NOT_A_MARKETING_ACCOUNT',
          'Only marketing accounts have their sending domain checked; this one is the user’s own.',
        );
      }
      const rawDomain = account.email.slice(account.email.lastIndexOf('@') + 1);
      const domain = normalizeDkimDomain(rawDomain) ?? rawDomain.toLowerCase();
      return checkSendingDomain(deps.resolve, {
        domain,
        relayHost,
        expectedDkim: await deps.dkim.record(domain),
        bounceDomain: deps.bounceDomain ?? null,
      });
    },
  };
}

export type DomainCheckService = ReturnType<typeof createDomainCheckService>;
