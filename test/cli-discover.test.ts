/**
 * `mailroom account discover EMAIL` as an operator runs it: a child process, the password on
 * stdin, SRV records from a local DNS server leading to Dovecot and Postfix.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMailroom } from './support/cli.ts';
import { emptyZone, startTestDns } from './support/discovery.ts';
import { createMailbox, mailPeers, type Mailbox } from './support/mail-peers.ts';

const zone = emptyZone();
let dns: Awaited<ReturnType<typeof startTestDns>>;
let mailbox: Mailbox;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-cli-discover-'));
const domain = 'cli-discover.test';

beforeAll(async () => {
  [dns, mailbox] = await Promise.all([startTestDns(zone), createMailbox()]);
  zone.srv.set(`_imaps._tcp.${domain}`, [
    { priority: 0, weight: 0, port: mailPeers.ports.imaps, target: 'localhost' },
  ]);
  zone.srv.set(`_submission._tcp.${domain}`, [
    { priority: 0, weight: 0, port: mailPeers.ports.submission, target: 'localhost' },
  ]);
});
afterAll(async () => {
  await dns?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const env = () => ({
  DATA_DIR: dataDir,
  MAILROOM_DNS_SERVERS: `127.0.0.1:${dns.port}`,
  MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
});

describe('mailroom account discover', () => {
  it('prints the settings as JSON on stdout and the evidence on stderr', async () => {
    const email = `${mailbox.user}@${domain}`;
    const result = await runMailroom(
      ['account', 'discover', email, '--password-stdin'],
      env(),
      `${mailbox.password}\n`,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      type: 'own',
      scope: 'personal',
      name: email,
      email,
      smtp: {
        host: 'localhost',
        port: mailPeers.ports.submission,
        security: 'starttls',
        requiresAuth: true,
        useIncomingCredentials: false,
        username: email,
        spa: false,
      },
      incoming: {
        protocol: 'imap',
        host: 'localhost',
        port: mailPeers.ports.imaps,
        url: null,
        security: 'tls',
        username: email,
        spa: false,
      },
    });
    expect(result.stderr).toMatch(/^confidence: high after \d+ ms$/m);
    expect(result.stderr).toMatch(
      new RegExp(
        `^  \\* outgoing +SMTP localhost:${mailPeers.ports.submission} \\(STARTTLS\\) +login_ok .*srv +235 `,
        'm',
      ),
    );
    expect(result.stderr).toMatch(
      /^ {2}srv +found .*SRV records of cli-discover\.test: .*_imaps\._tcp: localhost:/m,
    );
    expect(result.stdout + result.stderr).not.toContain(mailbox.password);
  });

  it('prints everything as JSON with --json, and tries no login without a password', async () => {
    const result = await runMailroom(['account', 'discover', `someone@${domain}`, '--json'], env());
    expect(result.code, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as { confidence: string; candidates: { result: string }[] };
    expect(body.confidence).toBe('high');
    expect(body.candidates.map((c) => c.result)).toEqual(['reachable', 'reachable']);
  });

  it('fails when nothing is found, and on wrong usage', async () => {
    const nothing = await runMailroom(['account', 'discover', 'someone@nowhere-at-all.test'], env());
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('mailroom: no outgoing server was found for nowhere-at-all.test');
    const bad = await runMailroom(['account', 'discover', 'not-an-address'], env());
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('VALIDATION_FAILED');
    const usage = await runMailroom(['account', 'discover'], env());
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('account discover takes one address');
  });
});
