/**
 * The admin pages beside the approval queue, in a browser: every account of the organisation with
 * whose default each one is, and the audit log with who did what. Screenshots land in
 * test/e2e/screenshots/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { foldForSearch } from '../../src/domains/accounts/accounts.ts';
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

const ORG = 'Overseers';
const admin = { name: 'Ada Admin', email: 'ada@overseers.test', password: 'admin password 1' };
const member = { name: 'Max Member', email: 'max@overseers.test', password: 'member password 1' };

describe('the admin pages in a browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const [webRoot, launched] = await Promise.all([buildWebUi(), launchChromium()]);
    browser = launched;
    running = await startApp(webRoot);
    const { users, accounts } = running.container.services;
    await users.createUserInOrganisation({ organisationName: ORG, ...admin, role: 'admin' });
    const { user, organisation } = await users.createUserInOrganisation({
      organisationName: ORG,
      ...member,
      role: 'member',
    });
    const maxActor: Actor = { userId: user.id, orgId: organisation.id, role: 'member' };
    const smtp = { host: '127.0.0.1', port: 2525, security: 'none' as const, requiresAuth: false };
    // Max's own personal account and a team account.
    await accounts.create(maxActor, { type: 'own', name: 'Max personal', email: 'max@overseers.test', smtp });
    await accounts.create(maxActor, {
      type: 'own',
      scope: 'team',
      name: 'Support desk',
      email: 'support@overseers.test',
      smtp,
    });
    page = await (
      await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' })
    ).newPage();
    await logIn(page, running.baseUrl, admin);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshotOpenPages(browser, 'failed-admin');
  });

  it('lists every account, personal ones too, with whose default each one is, and searches them', async () => {
    await page.goto(`${running.baseUrl}/admin`);
    await page.getByRole('tab', { name: 'All accounts' }).click();
    await page.waitForURL('**/admin/accounts');
    const rows = page.getByTestId('admin-account-row');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    const personal = rows.filter({ hasText: 'Max personal' });
    expect(await personal.textContent()).toContain('Max Member');
    // A new account becomes the default of whoever may use it and has none yet: Max's personal one
    // is his, and the team account, added after it, is Ada's.
    expect(await personal.locator('td').nth(3).textContent()).toBe('Max Member');
    expect(await rows.filter({ hasText: 'Support desk' }).locator('td').nth(3).textContent()).toBe(
      'Ada Admin',
    );
    await screenshot(page, '40-admin-all-accounts');

    await page.getByRole('searchbox', { name: 'Search' }).fill('support@');
    await rows.filter({ hasText: 'Max personal' }).waitFor({ state: 'detached' });
    expect(await rows.count()).toBe(1);
  }, 60_000);

  it('pages through 10,000 accounts from the server, and finds one of them by its address', async () => {
    const { db } = running.container;
    const template = await db
      .selectFrom('accounts')
      .selectAll()
      .where('email', '=', 'support@overseers.test')
      .executeTakeFirstOrThrow();
    for (let start = 0; start < 10_000; start += 500) {
      await db
        .insertInto('accounts')
        .values(
          Array.from({ length: 500 }, (_, offset) => {
            const number = String(start + offset).padStart(5, '0');
            const [name, email] = [`Desk ${number}`, `desk-${number}@overseers.test`];
            return {
              ...template,
              id: `00000000-0000-7000-8000-0000000${number}`,
              name,
              email,
              search_folded: `${foldForSearch(name)}\n${foldForSearch(email)}`,
            };
          }),
        )
        .execute();
    }
    // Ada's own list: the team's accounts (Max's personal one is his alone).
    await page.goto(`${running.baseUrl}/accounts`);
    await page.getByText('1–25 of 10,001 accounts').waitFor();
    await page.getByRole('button', { name: 'Page 401' }).click();
    await page.getByText('10,001–10,001 of 10,001 accounts').waitFor();
    await screenshot(page, '42-accounts-10000');
    await page.getByRole('searchbox', { name: 'Search' }).fill('desk-09999@');
    await page.getByText('1–1 of 1 accounts').waitFor();
    expect(await page.getByTestId('account-row').count()).toBe(1);
  }, 90_000);

  it('shows the audit log: who did what, on what, with the fields but never their values', async () => {
    await page.goto(`${running.baseUrl}/admin`);
    await page.getByRole('tab', { name: 'Audit log' }).click();
    await page.waitForURL('**/admin/audit');
    const rows = page.getByTestId('audit-row');
    await rows.first().waitFor();
    const created = rows.filter({ hasText: 'account.created' });
    expect(await created.count()).toBe(2);
    expect(await created.first().textContent()).toContain('Max Member');
    expect(await page.locator('main').textContent()).not.toContain('password 1');
    await screenshot(page, '41-admin-audit');

    await page.goto(`${running.baseUrl}/admin/nowhere`);
    await page.getByRole('heading', { name: 'There is no page here' }).waitFor();
  }, 60_000);
});
