import type { DbOrTx } from '../../db/database.ts';
import type { Actor } from '../users/users.ts';
import type { AccountSender, AccountsService } from './accounts.service.ts';
import type { CreateAccountInput, Direction, HealthState } from './accounts.ts';

/** One step of a connection test, with the server's own words. */
export interface TestStep {
  direction: Direction;
  step: string;
  ok: boolean;
  ms: number;
  reply: string | null;
}

/** What a probe found, in the terms of the account: which health state it means. */
export interface DirectionTest {
  ok: boolean;
  steps: Omit<TestStep, 'direction'>[];
  health: HealthState;
  /** The server's last words when it failed, for the account's health. */
  lastError: string | null;
}

export type ServerUnderTest = Pick<AccountSender, 'settings' | 'passwords'>;

/** The protocol adapters, wired in by the container: the domain knows no SMTP or IMAP. */
export interface ConnectionProbes {
  outgoing(server: ServerUnderTest, address: string): Promise<DirectionTest>;
  incoming(server: ServerUnderTest): Promise<DirectionTest>;
}

export interface ConnectionTestResult {
  ok: boolean;
  steps: TestStep[];
}

export type ConnectionTestService = ReturnType<typeof createConnectionTestService>;

export function createConnectionTestService({
  accounts,
  probes,
}: {
  accounts: AccountsService;
  probes: ConnectionProbes;
}) {
  async function run(server: ServerUnderTest, address: string, type: AccountSender['type']) {
    const outgoing = type === 'own' && server.settings.smtp ? await probes.outgoing(server, address) : null;
    const incoming = server.settings.incoming.protocol !== 'none' ? await probes.incoming(server) : null;
    const steps: TestStep[] = [
      ...(outgoing?.steps.map((step) => ({ direction: 'outgoing' as const, ...step })) ?? []),
      ...(incoming?.steps.map((step) => ({ direction: 'incoming' as const, ...step })) ?? []),
    ];
    return { outgoing, incoming, result: { ok: (outgoing?.ok ?? true) && (incoming?.ok ?? true), steps } };
  }

  return {
    /**
     * Tests a saved account with its stored passwords: logs in, and for SMTP goes as far as the 354
     * after DATA, so nothing is sent. Each direction's health records what was found.
     */
    async testSaved(tx: DbOrTx, actor: Actor, id: string): Promise<ConnectionTestResult> {
      await accounts.requireManageable(tx, actor, id);
      const sender = (await accounts.sender(id))!;
      const { outgoing, incoming, result } = await run(sender, sender.email, sender.type);
      if (outgoing) await accounts.recordHealth(id, 'outgoing', outgoing.health, outgoing.lastError);
      if (incoming) await accounts.recordHealth(id, 'incoming', incoming.health, incoming.lastError);
      return result;
    },

    /** Tests settings not saved yet; nothing is stored. */
    async testUnsaved(input: CreateAccountInput): Promise<ConnectionTestResult> {
      const { email, server } = accounts.preview(input);
      return (await run(server, email, input.type)).result;
    },
  };
}
