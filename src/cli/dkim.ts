import { parseArgs } from 'node:util';
import { DEFAULT_DKIM_SELECTOR, type GeneratedDkimKey } from '../domains/accounts/dkim.service.ts';
import { zoneFileLine } from '../mail/dkim.ts';
import { UsageError, type CliIo } from './io.ts';
import { withContainer } from './with-container.ts';

/** `mailroom dkim generate --domain D [--selector S]`; `args` is what follows `dkim`. */
export async function dkimCommand(args: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'generate':
      return await generateCommand(rest, io);
    case undefined:
      throw new UsageError('missing dkim command: generate');
  }
  throw new UsageError(`unknown dkim command: ${subcommand}`);
}

async function generateCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { domain: { type: 'string' }, selector: { type: 'string' } },
  });
  if (values.domain === undefined) throw new UsageError('missing --domain');
  const domain = values.domain;
  const generated = await withContainer(io, ({ services }) =>
    services.dkim.generate(domain, values.selector ?? DEFAULT_DKIM_SELECTOR),
  );
  io.stdout.write(report(generated));
  return 0;
}

function report({ domain, selector, record, replaced }: GeneratedDkimKey): string {
  const lines = [
    replaced
      ? `replaced the DKIM key of ${domain} (selector ${replaced.selector}, made ${replaced.createdAt}) ` +
        `with a new key, selector ${selector}`
      : `created a DKIM key for ${domain}, selector ${selector}`,
    '',
    'Publish this TXT record in the DNS of the domain:',
    `  name:  ${record.name}`,
    `  value: ${record.value}`,
    '',
    'As a zone-file line:',
    `  ${zoneFileLine(record)}`,
    '',
    'Receivers cannot verify the signatures until the record is published.',
  ];
  if (replaced?.selector === selector) {
    lines.push(
      `The new record replaces the old one under the same name, so mail still in transit that was signed ` +
        `with the old key will fail DKIM; a new --selector lets both records stand during a change of keys.`,
    );
  } else if (replaced) {
    lines.push(
      `The old record (${replaced.selector}._domainkey.${domain}) can be removed once mail signed with it ` +
        'has been delivered.',
    );
  }
  return `${lines.join('\n')}\n`;
}
