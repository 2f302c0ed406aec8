/**
 * Sessions and requests in a real browser (Debian's Chromium): the UI renders under the strict
 * Content-Security-Policy with no violation on any main view, its writes carry the CSRF token, the
 * session cookie is out of the page's reach, and a form posted from another site (here another port
 * of the same host, so the browser even sends the SameSite=Lax cookie) is refused for want of the token.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/domains/users/users.ts';
import {
  buildWebUi,
  launchChromium,
  logIn,
  screenshot,
  screenshotOpenPages,
  startApp,
  type RunningApp,
} from './support.ts';

const admin = { name: 'Sec Admin', email: 'sec@guarded.test', password: 'guarded password 1' };

/** A page of "another site" that posts a form to the app as soon as it loads. */
function startAttacker(target: string) {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      `<!doctype html><form id="f" method="post" action="${target}" enctype="text/plain">` +
        `<input name='{"name":"Evil team","x":"' value='"}'></form>` +
        `<script>document.getElementById('f').submit()</script>`,
    );
  });
  return new Promise<{ url: string; close: () => Promise<void> }>((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    );
  });
}

describe('sessions and requests in a browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let page: Page;
  let actor: Actor;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    const [webRoot, launched] = await Promise.all([buildWebUi(), launchChromium()]);
    browser = launched;
    running = await startApp(webRoot);
    const { users, accounts } = running.container.services;
    const { user, organisation } = await users.createUserInOrganisation({
      organisationName: 'Guarded',
      ...admin,
      role: 'admin',
    });
    actor = { userId: user.id, orgId: organisation.id, role: 'admin' };
    const smtp = { host: '127.0.0.1', port: 2525, security: 'none' as const, requiresAuth: false };
    await accounts.create(actor, { type: 'own', name: 'First desk', email: 'first@guarded.test', smtp });
    await accounts.create(actor, { type: 'own', name: 'Second desk', email: 'second@guarded.test', smtp });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    // Runs before the page's own scripts, outside its policy: records every violation the page reports.
    // (Strings, as this project's tests compile without the DOM's types.)
    await context.addInitScript({
      content:
        'window.cspViolations = [];' +
        "document.addEventListener('securitypolicyviolation', (event) => " +
        "window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI));",
    });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshotOpenPages(browser, 'failed-security');
  });

  const violations = () => page.evaluate<string[]>('window.cspViolations ?? []');

  it('renders every main view under the Content-Security-Policy with no violation', async () => {
    const response = await page.goto(`${running.baseUrl}/login`);
    const policy = response!.headers()['content-security-policy'] ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    await logIn(page, running.baseUrl, admin);
    for (const [path, heading] of [
      ['/accounts', 'Accounts'],
      ['/accounts/new', 'Add an email account'],
      ['/admin', 'Approval queue'],
      ['/admin/audit', 'Audit log'],
      ['/mailbox', 'Mailbox'],
      ['/contacts', 'Contacts'],
      ['/automation', 'Automation'],
    ] as const) {
      await page.goto(`${running.baseUrl}${path}`);
      await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
      expect(await violations(), path).toEqual([]);
    }
    // Mantine's styles (its <style> elements included) apply: the header bar is laid out, not bare HTML.
    const styled = await page.evaluate<{ styleElements: number; bodyMargin: string }>(
      "({ styleElements: document.querySelectorAll('style').length, " +
        'bodyMargin: getComputedStyle(document.body).margin })',
    );
    expect(styled.styleElements).toBeGreaterThan(0);
    expect(styled.bodyMargin).toBe('0px');
    expect(consoleErrors.filter((text) => /Content.Security.Policy/i.test(text))).toEqual([]);
    await screenshot(page, 'security-01-csp-contacts');
  }, 120_000);

  it('keeps the session cookie out of the page’s reach, and sends the CSRF token with each change', async () => {
    const cookies = await page.evaluate<string>('document.cookie');
    expect(cookies).toContain('mailroom_csrf=');
    expect(cookies).not.toContain('mailroom_session');

    await page.goto(`${running.baseUrl}/accounts`);
    await page.getByRole('button', { name: 'Actions for Second desk' }).click();
    await page.getByRole('menuitem', { name: 'Make my default' }).click();
    await expect
      .poll(async () => {
        const row = await running.container.db
          .selectFrom('default_accounts')
          .innerJoin('accounts', 'accounts.id', 'default_accounts.account_id')
          .select('accounts.name')
          .where('default_accounts.user_id', '=', actor.userId)
          .executeTakeFirst();
        return row?.name;
      })
      .toBe('Second desk');
    expect(await violations()).toEqual([]);
  }, 60_000);

  it('refuses a form posted from another site with the session cookie but no token (403)', async () => {
    const attacker = await startAttacker(`${running.baseUrl}/api/teams`);
    try {
      await page.goto(attacker.url);
      await page.waitForURL(`${running.baseUrl}/api/teams`);
      const answer = JSON.parse((await page.locator('body').textContent()) ?? '{}') as {
        error?: { code?: string };
      };
      // 403, not 401: the browser did send the session cookie, and the missing token alone stopped it.
      expect(answer.error?.code).toBe('CSRF_TOKEN_INVALID');
      const teams = await running.container.db.selectFrom('teams').select('name').execute();
      expect(teams.map((team) => team.name)).not.toContain('Evil team');
    } finally {
      await attacker.close();
    }
  }, 60_000);

  it('logs out through the UI (a POST with the token), after which the old session is refused', async () => {
    await page.goto(`${running.baseUrl}/accounts`);
    await page.getByRole('button', { name: `Account menu for ${admin.name}` }).click();
    await page.getByRole('menuitem', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to Mailroom' }).waitFor();
    expect(await running.container.db.selectFrom('sessions').select('id').execute()).toEqual([]);
    expect((await page.request.get(`${running.baseUrl}/api/me`)).status()).toBe(401);
    expect(await violations()).toEqual([]);
  }, 60_000);
});
