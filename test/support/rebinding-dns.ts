import { Resolver } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import dns2 from 'dns2';
import type { HostLookup } from '../../src/net/address-policy.ts';

/**
 * A DNS server on 127.0.0.1 whose A records the test scripts per name, one answer per query in
 * turn (the last one repeats): `answer('rebind.test', ['8.8.8.8'], ['127.0.0.1'])` answers a public
 * address first and loopback from then on, as a DNS-rebinding attacker's server does. `lookup`
 * resolves through it only, for a HostPolicy; `queries(name)` counts the A queries it saw.
 */
export async function startScriptedDns() {
  const answers = new Map<string, string[][]>();
  const seen = new Map<string, number>();
  const { Packet } = dns2;
  const server = dns2.createUDPServer((query, send) => {
    const response = Packet.createResponseFromRequest(query);
    for (const question of query.questions) {
      const name = question.name.toLowerCase();
      const script = answers.get(name);
      if (!script) {
        response.header.rcode = 3; // NXDOMAIN
        continue;
      }
      if (question.type !== Packet.TYPE.A) continue;
      const count = seen.get(name) ?? 0;
      seen.set(name, count + 1);
      for (const address of script[Math.min(count, script.length - 1)]!) {
        response.answers.push({
          name: question.name,
          type: Packet.TYPE.A,
          class: Packet.CLASS.IN,
          ttl: 0,
          address,
        } as dns2.Packet.Resource);
      }
    }
    void send(response);
  });
  await server.listen(0, '127.0.0.1');
  const port = (server.address() as AddressInfo).port;
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const lookup: HostLookup = async (hostname) =>
    (await resolver.resolve4(hostname)).map((address) => ({ address, family: 4 }));
  return {
    port,
    lookup,
    /** The A answers for `name`, one list per query in turn; the last list repeats. */
    answer(name: string, ...script: string[][]) {
      answers.set(name.toLowerCase(), script);
      seen.set(name.toLowerCase(), 0);
    },
    queries: (name: string) => seen.get(name.toLowerCase()) ?? 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type ScriptedDns = Awaited<ReturnType<typeof startScriptedDns>>;
