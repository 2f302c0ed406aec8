import { ensureMailPeers, releaseMailPeers } from './mail-peers.ts';

/**
 * Vitest globalSetup: the real mail servers (test/mail-peers/mail-peers.sh) run for the whole test
 * run, shared by every test file and by any other run on the machine at the same time; installed
 * on first use. The last run to finish stops them.
 */
export default async function startMailPeers(): Promise<() => Promise<void>> {
  await ensureMailPeers();
  return releaseMailPeers;
}
