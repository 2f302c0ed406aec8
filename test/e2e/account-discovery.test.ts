/**
 * The add-account wizard's first page in a browser: an address and its password, "Continue", and
 * the servers found through SRV records of a local DNS server (Postfix and Dovecot) fill every
 * setting, with how sure and why; the settings stay editable, pass "Test settings" and save. An
 * address nothing is found for says so and offers the manual path. Screenshots: ad-*.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/domains/users/users.ts';
import { emptyZone, startTestDns } from '../support/discovery.ts';
import { createMailbox, mailPeers, type Mailbox } from '../support/mail-peers.ts';
import {
  buildWebUi,
  launchChromium,
  logIn as logInAs,
  screenshot,
  screenshotOpenPages,
  settled,
  startApp,
  type RunningApp,
} from './support.ts';

const admin = { name: 'Dora Discover', email: 'dora@discover.test', password: 'admin password 1' };
const domain = 'found-by-srv.test';

describe('the wizard finds the settings from the address and password', () => {
  const zone = emptyZone();
  let dns: Awaited<ReturnType<typeof startTestDns>>;
  let running: RunningApp;
  let browser: Browser;
  let page: Page;
  let actor: Actor;
  let mailbox: Mailbox;

  beforeAll(async () => {
    let webRoot: string;
    [webRoot, browser, mailbox, dns] = await Promise.all([
      buildWebUi(),
      launchChromium(),
      createMailbox(),
      startTestDns(zone),
    ]);
    zone.srv.set(`_submissions._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.submissions, target: 'localhost' },
    ]);
    zone.srv.set(`_submission._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.submission, target: 'localhost' },
    ]);
    zone.srv.set(`_imaps._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.imaps, target: 'localhost' },
    ]);
    running = await startApp(webRoot, {
      MAILROOM_DNS_SERVERS: `127.0.0.1:${dns.port}`,
      MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
    });
    const { user, organisation } = await running.container.services.users.createUserInOrganisation({
      organisationName: 'Discovery Ltd',
      ...admin,
      role: 'admin',
    });
    actor = { userId: user.id, orgId: organisation.id, role: 'admin' };
    page = await (
      await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' })
    ).newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await dns?.close();
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshotOpenPages(browser, 'failed-ad');
  });

  const pageTitle = (p: Page) => p.locator('#wizard-page-title');
  async function next(p: Page, title: string) {
    await p.getByRole('button', { name: 'Next' }).click();
    await pageTitle(p).filter({ hasText: title }).waitFor();
  }

  it('fills every setting from what it found, shows how sure it is, and the settings test and save', async () => {
    const email = `${mailbox.user}@${domain}`;
    await logInAs(page, running.baseUrl, admin);
    await page.getByRole('link', { name: 'Add account' }).click();
    await pageTitle(page).filter({ hasText: 'Your address' }).waitFor();
    await screenshot(page, 'ad-01-address-1280');

    await page.getByLabel(/^Email address/).fill(email);
    await page.getByLabel(/^Password/).fill(mailbox.password);
    await page.getByRole('button', { name: 'Continue' }).click();
    const findings = page.getByTestId('discovery-findings');
    await findings.waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('discovery-confidence').textContent()).toBe('Sure');
    expect(await findings.getByRole('heading').textContent()).toBe(`Settings found for ${domain}`);
    const chosen = findings.getByRole('list', { name: 'Chosen servers' });
    expect(await chosen.getByTestId('discovery-candidate').allTextContents()).toEqual([
      expect.stringMatching(
        new RegExp(
          `^SMTP localhost:${mailPeers.ports.submissions} \\(TLS\\)Login worked · from DNS SRV records`,
        ),
      ),
      expect.stringMatching(new RegExp(`^IMAP localhost:${mailPeers.ports.imaps} \\(TLS\\)Login worked`)),
    ]);
    expect(await findings.textContent()).toContain('took the login');
    await settled(page);
    await screenshot(page, 'ad-02-found-1280');

    // The rest of the evidence on request: the STARTTLS server ranked below, and every lookup.
    await page.getByRole('button', { name: /^Show everything tried/ }).click();
    const others = findings.getByRole('list', { name: 'Other servers' });
    await others.waitFor();
    expect(await others.textContent()).toContain(`SMTP localhost:${mailPeers.ports.submission} (STARTTLS)`);
    expect(await findings.getByRole('list', { name: 'Lookups' }).textContent()).toContain(
      `SRV records of ${domain}`,
    );
    await settled(page);
    await screenshot(page, 'ad-03-evidence-1280');

    // Every setting is filled, and editable.
    await next(page, 'Type and scope');
    expect(await page.getByRole('radio', { name: /^Own account/ }).isChecked()).toBe(true);
    await next(page, 'General');
    expect(await page.getByLabel(/^Account name/).inputValue()).toBe(email);
    await page.getByLabel(/^Account name/).fill('Found by SRV');
    await next(page, 'Outgoing server');
    expect(await page.getByLabel(/^SMTP server/).inputValue()).toBe('localhost');
    expect(await page.getByLabel('User name', { exact: true }).inputValue()).toBe(email);
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe(mailbox.password);
    await next(page, 'Incoming server');
    expect(await page.getByLabel(/^IMAP server/).inputValue()).toBe('localhost');
    await next(page, 'Advanced');
    expect(await page.getByLabel('SMTP port', { exact: true }).inputValue()).toBe(
      String(mailPeers.ports.submissions),
    );
    expect(await page.getByLabel('IMAP port', { exact: true }).inputValue()).toBe(
      String(mailPeers.ports.imaps),
    );
    await screenshot(page, 'ad-04-advanced-1280');

    await page.getByRole('button', { name: 'Test settings' }).click();
    await page.getByTestId('connection-test').getByText('All steps passed').waitFor({ timeout: 30_000 });

    await next(page, 'Delivery');
    await next(page, 'Other');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.waitForURL('**/accounts');
    const { items } = await running.container.services.accounts.list(actor, { q: 'Found by SRV' });
    const saved = await running.container.services.accounts.get(actor, items[0]!.id);
    expect(saved).toMatchObject({
      email,
      smtp: {
        host: 'localhost',
        port: mailPeers.ports.submissions,
        security: 'tls',
        username: email,
        hasPassword: true,
      },
      incoming: {
        protocol: 'imap',
        host: 'localhost',
        port: mailPeers.ports.imaps,
        security: 'tls',
        hasPassword: true,
      },
    });
  }, 120_000);

  it('says when nothing is found, keeps the manual path, and fits a phone', async () => {
    const phone = await (
      await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-GB', isMobile: true })
    ).newPage();
    await logInAs(phone, running.baseUrl, admin);
    await phone.goto(`${running.baseUrl}/accounts/new`);
    await phone.getByLabel(/^Email address/).fill('someone@nothing-here.test');
    await phone.getByRole('button', { name: 'Continue' }).click();
    await phone.getByTestId('discovery-findings').waitFor({ timeout: 20_000 });
    expect(await phone.getByTestId('discovery-confidence').textContent()).toBe('Nothing found');
    await phone.getByText('Nothing answered for this address').waitFor();
    expect(await phone.locator('html').evaluate((html) => html.scrollWidth <= html.clientWidth)).toBe(true);
    await settled(phone);
    await screenshot(phone, 'ad-10-nothing-390');
    await phone.getByRole('button', { name: 'set the account up manually' }).click();
    await pageTitle(phone).filter({ hasText: 'Type and scope' }).waitFor();
    // The address page counts as the first step: own accounts have eight, marketing ones four.
    await phone.getByText('Step 2 of 8').waitFor();
    await phone.getByRole('radio', { name: /^Marketing account/ }).check();
    await phone.getByText('Step 2 of 4').waitFor();
    await next(phone, 'General');
    expect(await phone.getByLabel(/^Email address/).inputValue()).toBe('someone@nothing-here.test');
    await phone.context().close();
  }, 120_000);
});
