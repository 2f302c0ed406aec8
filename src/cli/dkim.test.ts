import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runMailroom } from '../../test/support/cli.ts';
import { testDialects, useTestDatabase } from '../../test/support/dialects.ts';
import { createDkimService } from '../domains/accounts/dkim.service.ts';
import { txtStrings } from '../mail/dkim.ts';
import { loadKeyring } from '../secrets/keyring.ts';

/** The name and value the command printed, as an operator would copy them into their DNS. */
function printedRecord(stdout: string): { name: string; value: string } {
  const name = /^ {2}name: {2}(\S+)$/m.exec(stdout)?.[1];
  const value = /^ {2}value: (v=DKIM1; .+)$/m.exec(stdout)?.[1];
  if (!name || !value) throw new Error(`no record in:\n${stdout}`);
  return { name, value };
}

describe.each(testDialects)('mailroom dkim generate on %s', (dialect) => {
  const database = useTestDatabase(dialect);
  const run = (line: string) => runMailroom(line.split(' '), database.current.env);
  /** The service over the same database and keys as the CLI, as the dispatcher will see them. */
  const service = async () => {
    const { env } = database.current;
    const keyring = await loadKeyring({
      secretKey: env.MAILROOM_SECRET_KEY,
      dataDir: env.DATA_DIR ?? '',
      dialect,
    });
    return createDkimService({ db: database.current.db, keyring, now: () => new Date() });
  };
  const rows = () =>
    database.current.db.selectFrom('dkim_keys').select(['domain', 'selector', 'private_key']).execute();

  it('stores an encrypted key and prints the TXT record of its public half', async () => {
    const result = await run('dkim generate --domain News.Example.test');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^created a DKIM key for news\.example\.test, selector mailroom\n/);
    const record = printedRecord(result.stdout);
    expect(record.name).toBe('mailroom._domainkey.news.example.test');
    const [first, second] = txtStrings(record.value);
    expect(result.stdout).toContain(
      `  mailroom._domainkey.news.example.test. IN TXT ( "${first}" "${second}" )\n`,
    );
    expect(result.stdout).not.toMatch(/PRIVATE KEY/);

    const [row] = await rows();
    expect(row).toMatchObject({ domain: 'news.example.test', selector: 'mailroom' });
    expect(row!.private_key).toMatch(/^v1\./);
    expect(result.stdout).not.toContain(row!.private_key);

    // What the dispatcher will sign with is the private half of the key the record publishes.
    const dkim = await service();
    expect(await dkim.record('news.example.test')).toEqual(record);
    const signer = await dkim.signerFor('news.example.test');
    const publicHalf = createPublicKey(signer!.privateKey).export({ type: 'spki', format: 'der' });
    expect(record.value).toBe(`v=DKIM1; k=rsa; p=${publicHalf.toString('base64')}`);
  });

  it('replaces the key when run again, and says so', async () => {
    const before = printedRecord((await run('dkim generate --domain news.example.test')).stdout);
    const sameSelector = await run('dkim generate --domain news.example.test');
    expect(sameSelector.code).toBe(0);
    expect(sameSelector.stdout).toMatch(
      /^replaced the DKIM key of news\.example\.test \(selector mailroom, made \d{4}-\d\d-\d\dT[\d:.]+Z\) with a new key, selector mailroom\n/,
    );
    expect(sameSelector.stdout).toContain('a new --selector lets both records stand');
    expect(printedRecord(sameSelector.stdout).value).not.toBe(before.value);

    const newSelector = await run('dkim generate --domain news.example.test --selector s2');
    expect(newSelector.stdout).toContain('with a new key, selector s2\n');
    expect(newSelector.stdout).toContain(
      'The old record (mailroom._domainkey.news.example.test) can be removed',
    );
    expect(printedRecord(newSelector.stdout).name).toBe('s2._domainkey.news.example.test');
    expect(await rows()).toMatchObject([{ domain: 'news.example.test', selector: 's2' }]);
  });

  it('refuses a bad domain or usage with a clear message and stores nothing', async () => {
    const before = await rows();
    const bad = await run('dkim generate --domain not_a_domain --selector bad_selector');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('VALIDATION_FAILED');
    expect(bad.stderr).toContain('domain: must be a domain name such as example.com');
    expect(bad.stderr).toContain('selector: must be letters, digits and hyphens');

    const missing = await run('dkim generate --selector s1');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing --domain');
    const unknown = await run('dkim rotate --domain example.com');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown dkim command: rotate');
    expect(await rows()).toEqual(before);
  });
});
