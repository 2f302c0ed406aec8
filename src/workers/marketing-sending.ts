import type { Container } from '../container.ts';
import { signMessage } from '../mail/dkim.ts';
import { relayConfigFrom } from '../server-configs.ts';
import type { MarketingSending } from './outbox-dispatcher.ts';

/** How this process's dispatcher sends marketing mail, from the configuration and the keyring. */
export function marketingSendingFor(container: Container): MarketingSending {
  const { config, services } = container;
  const { relayUrl, bounceDomain, publicUrl, quotaHourly, quotaDaily } = config.marketing;
  return {
    relay: relayUrl ? relayConfigFrom(relayUrl) : null,
    bounceDomain,
    publicUrl,
    quotaHourly,
    quotaDaily,
    async sign(domain, raw) {
      const key = await services.dkim.signerFor(domain);
      return key ? signMessage(raw, key) : raw;
    },
  };
}
