import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dns2 from 'dns2';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config.ts';
import { createContainer, type Container } from '../../src/container.ts';
import { buildServer, type App } from '../../src/http/server.ts';
import { createLogger } from '../../src/logger.ts';
import { txtStrings } from '../../src/mail/dkim.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const screenshotDir = path.join(repoRoot, 'test', 'e2e', 'screenshots');
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Builds the UI from the current sources into a directory of this run's own, so that neither a
 * stale web/dist nor another test run building at the same time can change what is tested.
 */
export async function buildWebUi(): Promise<string> {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-web-e2e-'));
  const { build } = await import('vite');
  await build({
    configFile: path.join(repoRoot, 'web', 'vite.config.ts'),
    build: { outDir, emptyOutDir: true },
    logLevel: 'error',
  });
  return outDir;
}

export interface RunningApp {
  container: Container;
  app: App;
  baseUrl: string;
  close(): Promise<void>;
}

/** The real server on a real socket, on a fresh SQLite database, serving the built UI. */
export async function startApp(webRoot: string, env: Record<string, string> = {}): Promise<RunningApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-e2e-'));
  // The test peers listen on loopback, which production refuses (src/net/address-policy.ts).
  const config = loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
    ...env,
  });
  const container = await createContainer(config, { logger: createLogger('warn') });
  const app = await buildServer(container, { webRoot });
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    container,
    app,
    baseUrl,
    async close() {
      await app.close();
      await container.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless, with nothing that reaches out to the network by itself. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run \`npm run services\` (as root), which installs Debian's chromium.`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** After a failed test: a screenshot of every page still open, to see where it stopped. */
export async function screenshotOpenPages(browser: Browser | undefined, prefix: string): Promise<void> {
  const pages = browser?.contexts().flatMap((context) => context.pages()) ?? [];
  for (const [index, open] of pages.entries()) await screenshot(open, `${prefix}-${index}`);
}

/** Logs in through the login page, as a person would, and waits for the accounts list. */
export async function logIn(page: Page, baseUrl: string, who: { email: string; password: string }) {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel(/^Password/).fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/accounts');
}

/** Lets a transition (a dialog fading in, a collapse opening) finish before a screenshot. */
export const settled = (page: Page) => page.waitForTimeout(400);

/** Saves a screenshot of the page under test/e2e/screenshots (git-ignored), to look at. */
export async function screenshot(page: Page, name: string, { fullPage = true } = {}): Promise<void> {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage });
}

/** A DNS server on 127.0.0.1 answering TXT queries from the given zone (anything else: NXDOMAIN). */
export async function startDns(zone: Map<string, string[]>) {
  const { Packet } = dns2;
  const server = dns2.createUDPServer((query, send) => {
    const response = Packet.createResponseFromRequest(query);
    for (const question of query.questions) {
      const values = zone.get(question.name.toLowerCase());
      if (values === undefined) response.header.rcode = 3;
      else if (question.type === Packet.TYPE.TXT) {
        for (const value of values) {
          response.answers.push({
            name: question.name,
            type: Packet.TYPE.TXT,
            class: Packet.CLASS.IN,
            ttl: 60,
            data: txtStrings(value),
          } as dns2.Packet.Resource);
        }
      }
    }
    void send(response);
  });
  await server.listen(0, '127.0.0.1');
  const port = (server.address() as AddressInfo).port;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
