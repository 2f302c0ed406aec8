/**
 * The web UI end to end: Debian's Chromium, driven by playwright-core, against the real server on a
 * real socket (SQLite), serving the UI built from the current sources. Screenshots of each main
 * view land in test/e2e/screenshots/ (git-ignored).
 */
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/domains/users/users.ts';
import {
  buildWebUi,
  launchChromium,
  screenshot,
  startApp,
  startDns,
  type RunningApp,
  screenshotOpenPages,
  logIn as logInAs,
} from './support.ts';

const ORG = 'Acme Trading';
const admin = { name: 'Ada Admin', email: 'ada@acme.test', password: 'correct horse battery' };
const member = { name: 'Max Member', email: 'max@acme.test', password: 'member password 1' };

/** What the sending-domain check finds for acme.test: SPF and DMARC published, no DKIM key yet. */
const zone = new Map<string, string[]>([
  ['acme.test', ['v=spf1 ip4:127.0.0.1 -all']],
  ['_dmarc.acme.test', ['v=DMARC1; p=quarantine; rua=mailto:dmarc@acme.test']],
]);

describe('the web UI in a browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let dns: Awaited<ReturnType<typeof startDns>>;
  let adminContext: BrowserContext;
  let page: Page;
  let adminActor: Actor;

  beforeAll(async () => {
    const [webRoot, launched, dnsServer] = await Promise.all([
      buildWebUi(),
      launchChromium(),
      startDns(zone),
    ]);
    browser = launched;
    dns = dnsServer;
    running = await startApp(webRoot, {
      MAILROOM_DNS_SERVERS: `127.0.0.1:${dns.port}`,
      MAILROOM_RELAY_URL: 'smtp://127.0.0.1:2525',
    });
    adminContext = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    page = await adminContext.newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await dns?.close();
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshotOpenPages(browser, `failed-${task.name.slice(0, 40)}`);
  });

  const url = (path: string) => `${running.baseUrl}${path}`;
  const rows = (p: Page) => p.getByTestId('account-row');
  /** The texts of a column of the accounts table, by its 0-based index. */
  const column = async (p: Page, index: number) =>
    rows(p).evaluateAll((trs, i) => trs.map((tr) => tr.children[i]?.textContent?.trim() ?? ''), index);
  const waitForRows = async (p: Page) => {
    await p.locator('[data-testid=account-row], [data-testid=empty-state]').first().waitFor();
    await p.getByTestId('skeleton-row').first().waitFor({ state: 'detached' });
  };
  /** Waits until the list shows the given count line (`1–25 of 61 accounts`). */
  const countLine = (p: Page, text: string | RegExp) => p.getByText(text).waitFor();
  async function search(p: Page, text: string) {
    await p.getByRole('searchbox', { name: 'Search' }).fill(text);
  }
  const logIn = (p: Page, who: { email: string; password: string }) => logInAs(p, running.baseUrl, who);
  const textOf = async (locator: Locator) => (await locator.textContent())?.trim();

  it('sets up the first organisation and admin on first run, then logs out and in again', async () => {
    await page.goto(url('/'));
    await page.waitForURL('**/login');
    await page.getByRole('heading', { name: 'Set up Mailroom' }).waitFor();

    // The API's words about a bad field show on that field.
    await page.getByLabel('Organisation').fill(ORG);
    await page.getByLabel('Your name').fill(admin.name);
    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel(/^Password/).fill('short');
    await page.getByRole('button', { name: 'Create organisation and log in' }).click();
    await page.getByText('must NOT have fewer than 8 characters').waitFor();
    await screenshot(page, '01-first-run');

    await page.getByLabel(/^Password/).fill(admin.password);
    await page.getByRole('button', { name: 'Create organisation and log in' }).click();
    await page.waitForURL('**/accounts');
    await page.getByRole('heading', { name: 'No accounts yet' }).waitFor();
    expect(await textOf(page.getByRole('banner'))).toContain(ORG);
    await screenshot(page, '02-accounts-empty');

    const [me] = await running.container.db.selectFrom('users').select(['id', 'org_id', 'role']).execute();
    expect(me).toMatchObject({ role: 'admin' });
    adminActor = { userId: me!.id, orgId: me!.org_id, role: 'admin' };

    // Log out; the first-run screen is gone for good, and a wrong password is said plainly.
    await page.getByRole('button', { name: `Account menu for ${admin.name}` }).click();
    await page.getByRole('menuitem', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to Mailroom' }).waitFor();
    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel(/^Password/).fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').getByText('The email address or password is wrong.').waitFor();
    await screenshot(page, '03-login-error');
    await logIn(page, admin);
  }, 60_000);

  it('lets a member add a marketing account that an admin checks and approves', async () => {
    await running.container.services.users.createUserInOrganisation({
      organisationName: ORG,
      email: member.email,
      password: member.password,
      name: member.name,
      role: 'member',
    });
    const memberContext = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'en-GB',
    });
    const memberPage = await memberContext.newPage();
    await logIn(memberPage, member);
    // Members do not see the admin section.
    await memberPage.getByRole('link', { name: 'Accounts' }).waitFor();
    expect(
      await memberPage.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents(),
    ).toEqual(['Accounts', 'Mailbox', 'Contacts', 'Automation']);

    await memberPage.getByRole('button', { name: 'Add marketing account' }).first().click();
    const dialog = memberPage.getByRole('dialog', { name: 'Add a marketing account' });
    await dialog.getByLabel('Account name').fill('Spring newsletter');
    await dialog.getByLabel('Email address').fill('news@acme.test');
    await dialog.getByLabel('Display name').fill('Acme News');
    await screenshot(memberPage, '04-add-marketing-account');
    await dialog.getByRole('button', { name: 'Add account' }).click();
    await dialog.waitFor({ state: 'detached' });
    await waitForRows(memberPage);
    expect(await column(memberPage, 0)).toEqual(['Spring newsletter']);
    expect(await column(memberPage, 6)).toEqual(['Pending approval']);

    // The admin's queue, with the sending-domain check from DNS.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await page.waitForURL('**/admin');
    const pending = page.getByTestId('pending-account');
    await pending.first().waitFor();
    expect(await pending.count()).toBe(1);
    expect(await textOf(pending)).toContain('news@acme.test');
    expect(await textOf(pending)).toContain(member.name);
    const checks = pending.getByRole('table', { name: 'DNS checks for acme.test' });
    await checks.waitFor();
    const checkRows = await checks.getByRole('row').allTextContents();
    expect(checkRows[0]).toMatch(/^SPF\s*Pass/);
    expect(checkRows[1]).toMatch(/^DKIM\s*(Missing|Fail)/);
    expect(checkRows[2]).toMatch(/^DMARC/);
    expect(await textOf(pending)).toContain('Needs attention');
    await screenshot(page, '05-admin-approval-queue');

    await pending.getByRole('button', { name: 'Approve Spring newsletter' }).click();
    await page.getByRole('heading', { name: 'Nothing waits for approval' }).waitFor();
    await screenshot(page, '06-admin-queue-empty');

    await memberPage.reload();
    await waitForRows(memberPage);
    expect(await column(memberPage, 6)).toEqual(['Active']);
    await memberContext.close();
  }, 60_000);

  it('rejects a marketing account with a reason, which the account then carries', async () => {
    const account = await running.container.services.accounts.create(adminActor, {
      type: 'marketing',
      scope: 'team',
      name: 'Cold outreach',
      email: 'outreach@acme.test',
    });
    await page.reload();
    const pending = page.getByTestId('pending-account');
    await pending.first().waitFor();
    await pending.getByRole('button', { name: 'Reject Cold outreach' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reject Cold outreach?' });
    expect(await dialog.getByRole('button', { name: 'Reject account' }).isDisabled()).toBe(true);
    await dialog.getByLabel('Reason').fill('No consent records for this list.');
    await dialog.getByRole('button', { name: 'Reject account' }).click();
    await page.getByRole('heading', { name: 'Nothing waits for approval' }).waitFor();
    const stored = await running.container.services.accounts.get(adminActor, account.id);
    expect(stored).toMatchObject({
      status: 'rejected',
      rejectionReason: 'No consent records for this list.',
    });
  }, 60_000);

  it('searches and filters the accounts list, paged by the server', async () => {
    // 60 more accounts: own ones of both scopes, and marketing ones waiting for approval.
    for (let n = 1; n <= 48; n += 1) {
      const id = String(n).padStart(2, '0');
      await running.container.services.accounts.create(adminActor, {
        type: 'own',
        scope: n % 2 === 0 ? 'team' : 'personal',
        name: `Desk ${id}`,
        email: `desk-${id}@acme.test`,
        smtp: { host: 'smtp.acme.test', security: 'starttls', username: `desk-${id}`, password: 'secret' },
      });
    }
    for (let n = 1; n <= 12; n += 1) {
      await running.container.services.accounts.create(adminActor, {
        type: 'marketing',
        scope: 'team',
        name: `Campaign ${n}`,
        email: `campaign-${n}@acme.test`,
      });
    }
    // One whose sending fails, with the server's words.
    await running.container.db
      .updateTable('accounts')
      .set({
        outgoing_state: 'auth_error',
        outgoing_last_error: '535 5.7.8 Authentication credentials invalid',
      })
      .where('email', '=', 'desk-03@acme.test')
      .execute();

    await page.goto(url('/accounts'));
    await waitForRows(page);
    await countLine(page, '1–25 of 62 accounts');
    expect(await rows(page).count()).toBe(25);
    await page.getByRole('button', { name: 'Page 2' }).click();
    await countLine(page, '26–50 of 62 accounts');
    expect(page.url()).toContain('page=2');
    await page.getByRole('button', { name: 'Page 1' }).click();
    await countLine(page, '1–25 of 62 accounts');

    // The health badge tells the server's last words on hover.
    await search(page, 'desk-03');
    await countLine(page, '1–1 of 1 accounts');
    const badge = rows(page)
      .first()
      .getByLabel(/^Sending: Login refused/);
    expect(await badge.getAttribute('aria-label')).toContain('535 5.7.8 Authentication credentials invalid');
    await badge.hover();
    await page
      .getByRole('tooltip')
      .getByText('Last error: 535 5.7.8 Authentication credentials invalid')
      .waitFor();
    await screenshot(page, '07-health-tooltip', { fullPage: false });

    // Search by address or name, case-insensitively.
    await search(page, 'DESK 1');
    await countLine(page, '1–10 of 10 accounts');
    expect(await column(page, 0)).toEqual([...Array(10)].map((_, i) => `Desk 1${i}`));

    await search(page, '');
    await page.getByRole('radiogroup', { name: 'Type' }).getByText('Marketing').click();
    await countLine(page, '1–14 of 14 accounts');
    expect(new Set(await column(page, 2))).toEqual(new Set(['Marketing']));
    await page.getByLabel('Status', { exact: true }).first().click();
    await page.getByRole('option', { name: 'Pending approval' }).click();
    await countLine(page, '1–12 of 12 accounts');
    expect(new Set(await column(page, 6))).toEqual(new Set(['Pending approval']));
    expect(page.url()).toMatch(/type=marketing/);
    expect(page.url()).toMatch(/status=pending_approval/);

    await page.getByRole('radiogroup', { name: 'Type' }).getByText('Own').click();
    await page.getByRole('heading', { name: 'No accounts match' }).waitFor();
    await screenshot(page, '08-accounts-no-match');
    await page.getByRole('button', { name: 'Clear search and filters' }).click();
    await countLine(page, '1–25 of 62 accounts');

    await page.getByRole('radiogroup', { name: 'Scope' }).getByText('Personal').click();
    await countLine(page, '1–24 of 24 accounts');
    expect(new Set(await column(page, 3))).toEqual(new Set(['Personal']));
    await page.getByRole('radiogroup', { name: 'Scope' }).getByText('Any').click();
    await countLine(page, '1–25 of 62 accounts');
    // Every column fits at 1280px, the row actions included.
    const tableOverflow = await page.evaluate<number>(
      "(() => { const t = document.querySelector('table'); return t.getBoundingClientRect().right - t.closest('.mantine-Card-root').getBoundingClientRect().right; })()",
    );
    expect(tableOverflow).toBeLessThanOrEqual(0);
    await screenshot(page, '09-accounts-1280');
  }, 90_000);

  it('sets a default account from the list', async () => {
    await page.goto(url('/accounts?q=desk-0'));
    await waitForRows(page);
    const defaultsBefore = await page.getByText('Default', { exact: true }).count();
    expect(defaultsBefore).toBe(0);
    const row = rows(page).filter({ hasText: 'desk-05@acme.test' });
    await row.getByRole('button', { name: 'Actions for Desk 05' }).click();
    await page.getByRole('menuitem', { name: 'Make my default' }).click();
    await row.getByLabel('your default account').waitFor();
    expect(await page.getByLabel('your default account').count()).toBe(1);
    const defaults = await running.container.db
      .selectFrom('default_accounts')
      .innerJoin('accounts', 'accounts.id', 'default_accounts.account_id')
      .select(['accounts.email', 'default_accounts.user_id'])
      .where('default_accounts.user_id', '=', adminActor.userId)
      .execute();
    expect(defaults).toEqual([{ email: 'desk-05@acme.test', user_id: adminActor.userId }]);
    // The menu now says so, and offers nothing to do.
    await row.getByRole('button', { name: 'Actions for Desk 05' }).click();
    expect(await page.getByRole('menuitem', { name: 'Your default account' }).isDisabled()).toBe(true);
    await page.keyboard.press('Escape');
    await screenshot(page, '10-default-set');
  }, 60_000);

  it('deletes an account only after confirmation', async () => {
    await page.goto(url('/accounts?q=desk-48'));
    await waitForRows(page);
    await rows(page).getByRole('button', { name: 'Actions for Desk 48' }).click();
    await page.getByRole('menuitem', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this account?' });
    await screenshot(page, '11-delete-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await rows(page).count()).toBe(1);
    await rows(page).getByRole('button', { name: 'Actions for Desk 48' }).click();
    await page.getByRole('menuitem', { name: 'Delete…' }).click();
    await dialog.getByRole('button', { name: 'Delete account' }).click();
    await page.getByRole('heading', { name: 'No accounts match' }).waitFor();
    const left = await running.container.db
      .selectFrom('accounts')
      .select('id')
      .where('email', '=', 'desk-48@acme.test')
      .execute();
    expect(left).toEqual([]);
  }, 60_000);

  it('works at 390px wide: cards instead of the table, the navigation behind a button', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-GB' });
    const phonePage = await phone.newPage();
    await logIn(phonePage, admin);
    await waitForRows(phonePage);
    expect(await phonePage.getByRole('table').count()).toBe(0);
    expect(await rows(phonePage).count()).toBe(25);
    // Evaluated in the page (this file is compiled without the DOM's types).
    const overflow = await phonePage.evaluate<number>(
      'document.documentElement.scrollWidth - window.innerWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(phonePage, '12-accounts-390', { fullPage: false });
    const nav = phonePage.getByRole('navigation', { name: 'Main' });
    expect(await nav.isVisible()).toBe(false);
    await phonePage.getByRole('button', { name: 'Open navigation' }).click();
    await nav.getByRole('link', { name: 'Admin' }).click();
    await phonePage.waitForURL('**/admin');
    await phonePage.getByRole('heading', { name: 'Approval queue', exact: true }).waitFor();
    await screenshot(phonePage, '13-admin-390', { fullPage: false });
    await phone.close();
  }, 60_000);

  it('can be used with the keyboard alone: skip link, menus and the focused tooltip', async () => {
    await page.goto(url('/accounts?q=desk-03'));
    await waitForRows(page);
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(page.url()).toContain('#main');
    await rows(page)
      .getByLabel(/^Sending: Login refused/)
      .focus();
    await page.getByRole('tooltip').waitFor();
    await page.getByRole('link', { name: 'Contacts' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL('**/contacts');
    await page.getByRole('heading', { name: 'Contacts', exact: true }).waitFor();
    await screenshot(page, '14-contacts-by-keyboard');
  }, 60_000);
});
