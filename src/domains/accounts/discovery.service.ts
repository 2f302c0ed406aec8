import { AppError } from '../../errors.ts';
import { createDiscoverer, type DiscoveryOptions } from '../../mail/discovery/index.ts';
import { isMailboxAddress } from './addresses.ts';
import type { AccountDiscovery } from './discovery.ts';

export interface DiscoveryRequest {
  email: string;
  password?: string | null;
  /** Ends the search early (the caller went away). */
  signal?: AbortSignal;
}

/**
 * "Add an account from just the address and password": finds the servers of an address
 * (src/mail/discovery/) and hands back settings that POST /api/accounts takes as they are, with
 * the evidence. Stores nothing; the password is only tried, never kept or returned.
 */
export function createDiscoveryService(options: DiscoveryOptions) {
  const discover = createDiscoverer(options);
  return {
    async discover(request: DiscoveryRequest): Promise<AccountDiscovery> {
      const email = request.email.trim();
      const domain = email.slice(email.lastIndexOf('@') + 1);
      if (!isMailboxAddress(email) || domain.startsWith('[')) {
        throw new AppError('VALIDATION_FAILED', 'The address is not one whose servers can be looked up.', {
          fields: { email: 'must be an email address with a domain name, such as name@example.com' },
        });
      }
      const result = await discover({
        email,
        password: request.password ?? null,
        ...(request.signal ? { signal: request.signal } : {}),
      });
      return result;
    },
  };
}

export type DiscoveryService = ReturnType<typeof createDiscoveryService>;
