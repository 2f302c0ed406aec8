import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { createDiscoveryService } from '../domains/accounts/discovery.service.ts';
import type { AccountDiscovery } from '../domains/accounts/discovery.ts';
import { describeServer } from '../mail/discovery/rank.ts';
import { readAll, UsageError, type CliIo } from './io.ts';

/** `mailroom account discover EMAIL [--password-stdin] [--json]`; `args` is what follows `account`. */
export async function accountCommand(args: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'discover':
      return await discoverCommand(rest, io);
    case undefined:
      throw new UsageError('missing account command: discover');
  }
  throw new UsageError(`unknown account command: ${subcommand}`);
}

/**
 * Prints the settings found, as JSON that POST /api/accounts takes (add the passwords), on stdout,
 * and the evidence for people on stderr; with --json, the whole answer as JSON on stdout. Needs no
 * database: it reads the configuration (DNS servers, ISP database, private hosts) and asks.
 */
async function discoverCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { 'password-stdin': { type: 'boolean' }, json: { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError('account discover takes one address');
  const email = positionals[0]!;
  const password = values['password-stdin'] ? (await readAll(io.stdin)).replace(/\r?\n$/, '') : null;
  if (password === '') throw new UsageError('--password-stdin read an empty password');
  const config = loadConfig(io.env);
  const discovery = createDiscoveryService({
    dnsServers: config.dnsServers,
    ispdbUrl: config.discovery.ispdbUrl,
    deadlineMs: config.discovery.deadlineMs,
    allowPrivateHosts: config.allowPrivateHosts,
  });
  const result = await discovery.discover({ email, password });
  if (values.json) {
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    if (result.settings) io.stdout.write(`${JSON.stringify(result.settings, null, 2)}\n`);
    io.stderr.write(evidenceText(result));
  }
  if (!result.settings) {
    io.stderr.write(
      `mailroom: no outgoing server was found for ${result.domain}: set the account up by hand\n`,
    );
    return 1;
  }
  return 0;
}

const pad = (text: string, width: number) => (text.length >= width ? `${text} ` : text.padEnd(width));

/** The evidence in a few lines a person reads: how sure, why, every server and every source. */
export function evidenceText(result: AccountDiscovery): string {
  const lines = [
    `confidence: ${result.confidence}${result.timedOut ? ' (the deadline passed first)' : ''} after ${result.ms} ms`,
    ...result.reasons.map((reason) => `  ${reason}`),
    '',
    'servers, best first:',
    ...result.candidates.map(
      (c) =>
        `  ${c.chosen ? '*' : ' '} ${pad(c.direction, 9)}${pad(describeServer(c), 44)}${pad(c.result, 13)}` +
        `${pad(`${c.ms} ms`, 8)}${pad(c.sources.map((s) => s.source).join(','), 18)}` +
        `${(c.reply ?? '').split('\n')[0]}`,
    ),
    '',
    'sources:',
    ...result.sources.map(
      (s) => `  ${pad(s.source, 11)}${pad(s.outcome, 9)}${pad(`${s.ms} ms`, 8)}${s.via}: ${s.detail}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
