import { spawnSync } from 'node:child_process';
import { ensureMailPeers, mailPeers, releaseMailPeers } from '../../test/support/mail-peers.ts';

/**
 * Starts the mail peers when they are not running. Mailroom trusts their private authority through
 * NODE_EXTRA_CA_CERTS, which Node reads at start only, and so do the workers a bench spawns: the
 * bench runs itself again with it set. Returns in that second run; the first waits for it, gives
 * the peers back and exits with its status.
 */
export async function rerunTrustingMailPeers(): Promise<void> {
  await ensureMailPeers();
  if (process.env.NODE_EXTRA_CA_CERTS === mailPeers.caPath) return;
  const { status } = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: mailPeers.caPath },
  });
  await releaseMailPeers();
  process.exit(status ?? 1);
}
