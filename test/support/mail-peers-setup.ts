import { ensureMailPeers, releaseMailPeers } from './mail-peers.ts';

/**
 * Vitest globalSetup: the real mail servers (test/mail-peers/mail-peers.sh) run for the whole test
 * run, shared by every test file and by any other run on the machine at the same time; installed
 * on first use. The last run to finish stops them.
 */
export default async function startMailPeers(): Promise<() => Promise<void>> {
  const peers = await ensureMailPeers();
  // Their certificate authority is a private one, trusted the way an operator would trust theirs;
  // the test processes vitest starts after this read it at start-up.
  process.env.NODE_EXTRA_CA_CERTS = peers.caPath;
  return releaseMailPeers;
}
