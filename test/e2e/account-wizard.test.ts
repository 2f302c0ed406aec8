/**
 * The add-account wizard and account settings in a browser, against real Postfix and Dovecot: an own
 * account added page by page, "Test settings" run on the unsaved settings (first with a port the API
 * refuses, shown on its field, then for real), and the settings tabs of a saved account, where Reset
 * sending status and Clear error status change the queued messages they count. Screenshots of every
 * page land in test/e2e/screenshots/ (aw-*).
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/domains/users/users.ts';
import { createMailbox, mailPeers, type Mailbox } from '../support/mail-peers.ts';
import { sendDueMessages } from '../support/outbox.ts';
import {
  buildWebUi,
  launchChromium,
  screenshot,
  startApp,
  type RunningApp,
  screenshotOpenPages,
  logIn as logInAs,
  settled,
} from './support.ts';

const ORG = 'Wizardry Ltd';
const admin = { name: 'Olga Owner', email: 'olga@wizardry.test', password: 'admin password 1' };

describe('the add-account wizard and account settings in a browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let page: Page;
  let actor: Actor;
  let mailbox: Mailbox;

  beforeAll(async () => {
    const [webRoot, launched, created] = await Promise.all([buildWebUi(), launchChromium(), createMailbox()]);
    browser = launched;
    mailbox = created;
    running = await startApp(webRoot);
    const { user, organisation } = await running.container.services.users.createUserInOrganisation({
      organisationName: ORG,
      ...admin,
      role: 'admin',
    });
    actor = { userId: user.id, orgId: organisation.id, role: 'admin' };
    // A contact whose account manager is Olga: the sender preview fills "{{contact.owner.name}}".
    await running.container.services.contacts.create(actor, {
      email: 'carla@customer.test',
      name: 'Carla Customer',
      ownerId: user.id,
    });
    page = await (
      await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' })
    ).newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshotOpenPages(browser, `failed-aw`);
  });

  const url = (path: string) => `${running.baseUrl}${path}`;
  const logIn = (p: Page) => logInAs(p, running.baseUrl, admin);
  const pageTitle = (p: Page) => p.locator('#wizard-page-title');
  async function next(p: Page, title: string) {
    await p.getByRole('button', { name: 'Next' }).click();
    await pageTitle(p).filter({ hasText: title }).waitFor();
  }
  /** A Mantine Select: open it and pick the option. */
  async function choose(p: Page, input: Locator, option: string) {
    await input.click();
    await p.getByRole('option', { name: option, exact: true }).click();
  }
  /** A segmented control's option, by its visible label. */
  const segment = (p: Page, text: string) => p.locator('label', { hasText: new RegExp(`^${text}$`) });
  /** Nothing wider than the viewport: no sideways scrolling. */
  const noSideways = (p: Page) => p.locator('html').evaluate((html) => html.scrollWidth <= html.clientWidth);

  it('adds an own account page by page, tests it against Postfix and Dovecot, and shows a field error on its field', async () => {
    await logIn(page);
    await page.getByRole('link', { name: 'Add account' }).click();
    await page.waitForURL('**/accounts/new');
    // The first page finds the settings from the address (test/e2e/account-discovery.test.ts); this
    // test takes the manual path.
    await pageTitle(page).filter({ hasText: 'Your address' }).waitFor();
    await page.getByRole('button', { name: 'Set up manually' }).click();
    await pageTitle(page).filter({ hasText: 'Type and scope' }).waitFor();
    await page.getByRole('radio', { name: /^Own account/ }).check();
    await page.getByRole('radio', { name: /^Everyone in the organisation/ }).check();
    await screenshot(page, 'aw-01-type-1280');

    // General, with sender personalisation previewed for a chosen contact.
    await next(page, 'General');
    await page.getByLabel(/^Account name/).fill('Sales desk');
    await page.getByLabel(/^Email address/).fill(mailbox.address);
    await page.getByLabel('Display name', { exact: true }).fill('Wizardry Sales');
    await page.getByLabel('Organisation', { exact: true }).fill(ORG);
    await page.getByRole('switch', { name: "Take the sender's name from each contact's card" }).check();
    await page.getByLabel('Sender name template', { exact: true }).fill('{{contact.owner.name}} at Wizardry');
    await page.getByRole('combobox', { name: 'Preview for a contact' }).fill('Carla');
    await page.getByRole('option', { name: /Carla Customer/ }).waitFor();
    // Chosen with the keyboard, as a person without a mouse would.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.getByTestId('preview-from').filter({ hasText: 'Olga Owner at Wizardry' }).waitFor();
    expect(await page.getByTestId('preview-from').textContent()).toBe(
      `Olga Owner at Wizardry <${mailbox.address}>`,
    );
    // Reply-To falls back to the sending address and the display name.
    expect(await page.getByTestId('preview-reply-to').textContent()).toBe(
      `Wizardry Sales <${mailbox.address}>`,
    );
    await settled(page);
    await screenshot(page, 'aw-02-general-1280');

    await next(page, 'Outgoing server');
    await page.getByLabel(/^SMTP server/).fill('localhost');
    await page.getByLabel('User name', { exact: true }).fill(mailbox.user);
    await page.getByLabel('Password', { exact: true }).fill(mailbox.password);
    expect(await page.getByLabel('Password', { exact: true }).getAttribute('type')).toBe('password');
    await screenshot(page, 'aw-03-outgoing-1280');

    await next(page, 'Incoming server');
    await segment(page, 'IMAP').click();
    await page.getByLabel(/^IMAP server/).fill('localhost');
    await page.getByLabel('User name', { exact: true }).fill(mailbox.user);
    await page.getByLabel('Password', { exact: true }).fill(mailbox.password);
    await page.getByLabel('Read mail from', { exact: true }).fill('2026-01-01');
    await screenshot(page, 'aw-04-incoming-1280');

    // Advanced: a POP3 port for SMTP, which the API refuses.
    await next(page, 'Advanced');
    await page.getByLabel('Use the default SMTP port').uncheck();
    await page.getByLabel('SMTP port', { exact: true }).fill('995');
    await page.getByLabel('Use the default IMAP port').uncheck();
    await choose(page, page.getByRole('combobox', { name: 'IMAP security' }), 'STARTTLS');
    await page.getByLabel('IMAP port', { exact: true }).fill(String(mailPeers.ports.imap));
    await screenshot(page, 'aw-05-advanced-1280');

    await next(page, 'Delivery');
    await screenshot(page, 'aw-06-delivery-1280');
    await next(page, 'Other');
    await screenshot(page, 'aw-07-other-1280');

    // Test settings: the API's field error sends the wizard back to Advanced, on the port.
    await page.getByRole('button', { name: 'Test settings' }).click();
    await pageTitle(page).filter({ hasText: 'Advanced' }).waitFor();
    const smtpPort = page.getByLabel('SMTP port', { exact: true });
    await page.getByText('995 is a POP3 port').waitFor();
    expect(await smtpPort.getAttribute('aria-invalid')).toBe('true');
    // Focus went to the field.
    expect(await page.locator(':focus').getAttribute('aria-invalid')).toBe('true');
    await screenshot(page, 'aw-08-field-error-1280');

    // Fixed: every step passes against Postfix submission (STARTTLS, login) and Dovecot IMAP.
    await smtpPort.fill(String(mailPeers.ports.submission));
    expect(await smtpPort.getAttribute('aria-invalid')).not.toBe('true');
    await page.getByRole('button', { name: 'Test settings' }).click();
    const result = page.getByTestId('connection-test');
    await result.getByText('All steps passed').waitFor({ timeout: 30_000 });
    const outgoing = result.getByRole('list', { name: 'Outgoing server (SMTP)' });
    const incoming = result.getByRole('list', { name: 'Incoming server' });
    const names = (list: Locator) => list.getByTestId('test-step-name').allTextContents();
    const smtpNames = await names(outgoing);
    for (const name of [
      'Connect',
      'TLS',
      'Log in',
      'Sender (MAIL FROM)',
      'Recipient (RCPT TO)',
      'Message (DATA)',
    ]) {
      expect(smtpNames).toContain(name);
    }
    expect(await result.locator('[data-ok=false]').count()).toBe(0);
    // The servers' own words: Postfix's 354 for DATA (nothing was sent after it), Dovecot's greeting.
    const smtpText = (await outgoing.textContent()) ?? '';
    expect(smtpText).toMatch(/354/);
    expect(smtpText).toMatch(/235/);
    expect(await names(incoming)).toEqual(expect.arrayContaining(['Connect', 'TLS', 'Log in']));
    expect(await incoming.textContent()).toMatch(/Dovecot/);
    await settled(page);
    await screenshot(page, 'aw-09-test-passed-1280');

    // Save from the last page: the list shows the new account, stored as written.
    await page
      .getByRole('navigation', { name: 'Wizard pages' })
      .getByRole('button', { name: /Other/ })
      .click();
    await pageTitle(page).filter({ hasText: 'Other' }).waitFor();
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.waitForURL('**/accounts');
    await page.getByTestId('account-row').filter({ hasText: 'Sales desk' }).waitFor();
    const { items } = await running.container.services.accounts.list(actor, { q: 'Sales desk' });
    const saved = await running.container.services.accounts.get(actor, items[0]!.id);
    expect(saved).toMatchObject({
      type: 'own',
      scope: 'team',
      status: 'active',
      displayName: 'Wizardry Sales',
      organization: ORG,
      fromNameTemplate: '{{contact.owner.name}} at Wizardry',
      smtp: { host: 'localhost', port: mailPeers.ports.submission, security: 'starttls', hasPassword: true },
      incoming: { protocol: 'imap', port: mailPeers.ports.imap, security: 'starttls', hasPassword: true },
    });

    // Its settings never show a password: the field is for a new one.
    await page.goto(url(`/accounts/${saved.id}/outgoing`));
    const password = page.getByLabel('Change password', { exact: true });
    await password.waitFor();
    expect(await password.inputValue()).toBe('');
    expect(await password.getAttribute('type')).toBe('password');
    expect(await page.content()).not.toContain(mailbox.password);
    await screenshot(page, 'aw-11-settings-outgoing-1280');
  }, 120_000);

  it('shows a saved account in tabs, saves a change, and resets sending and clears errors on its queued messages', async () => {
    const services = running.container.services;
    // Its server refuses every recipient at RCPT with 550 5.1.1, so what it sends ends in Error.
    const refusing = await services.accounts.create(actor, {
      type: 'own',
      scope: 'team',
      name: 'Refused desk',
      email: 'refused@wizardry.test',
      smtp: { host: '127.0.0.1', port: mailPeers.ports.deadSink, security: 'none', requiresAuth: false },
    });
    const queue = (subject: string) =>
      services.messages.queue(
        actor,
        { accountId: refusing.id, to: ['nobody@customer.test'], subject, text: 'Hello.' },
        null,
      );
    await queue('First refused');
    await queue('Second refused');
    const stuck = await queue('Stuck while sending');
    // Sent before the last one was queued would be sent too: mark it as a dead worker leaves it.
    await running.container.db
      .updateTable('messages')
      .set({ status: 'sending' })
      .where('id', '=', stuck.id)
      .execute();
    await sendDueMessages(running.container);
    expect(await services.messages.outboxCounts(actor, refusing.id)).toMatchObject({ error: 2, sending: 1 });

    // From the list's row menu to the settings.
    await page.goto(url('/accounts?q=Refused'));
    await page.getByRole('button', { name: 'Actions for Refused desk' }).click();
    await page.getByRole('menuitem', { name: 'Edit settings' }).click();
    await page.waitForURL(`**/accounts/${refusing.id}`);
    await page.getByRole('heading', { name: 'Refused desk' }).waitFor();
    const tabs = await page.getByRole('tab').allTextContents();
    expect(tabs).toEqual(['General', 'Outgoing server', 'Incoming server', 'Advanced', 'Delivery', 'Other']);
    expect(await page.getByLabel('Display name', { exact: true }).inputValue()).toBe('');
    await screenshot(page, 'aw-10-settings-general-1280');

    for (const [tab, path] of [
      ['Outgoing server', 'outgoing'],
      ['Incoming server', 'incoming'],
      ['Advanced', 'advanced'],
      ['Delivery', 'delivery'],
    ] as const) {
      await page.getByRole('tab', { name: tab }).click();
      await page.waitForURL(`**/accounts/${refusing.id}/${path}`);
      await screenshot(page, `aw-12-settings-${path}-1280`);
    }

    // Test settings for the saved account: the refusal at RCPT TO, in the server's words.
    await page.getByRole('button', { name: 'Test settings' }).click();
    const result = page.getByTestId('connection-test');
    await result.getByText('A step failed').waitFor({ timeout: 30_000 });
    await result
      .getByText(/550 5\.1\.1/)
      .first()
      .waitFor();

    // A change saved; the password stays as it was.
    await page.getByRole('tab', { name: 'General' }).click();
    await page.getByLabel('Display name', { exact: true }).fill('Refused Desk');
    await page.getByText('You have unsaved changes.').waitFor();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('All changes saved.').waitFor();
    const saved = await services.accounts.get(actor, refusing.id);
    expect(saved.displayName).toBe('Refused Desk');

    // Other: the outbox buttons with the number of messages each affects.
    await page.getByRole('tab', { name: 'Other' }).click();
    await page.waitForURL(`**/accounts/${refusing.id}/other`);
    const clear = page.getByRole('button', { name: 'Clear error status (2)' });
    const reset = page.getByRole('button', { name: 'Reset sending status (1)' });
    await clear.waitFor();
    await reset.waitFor();
    expect(await page.getByTestId('clear-count').textContent()).toBe(
      '2 messages in Error will be tried again.',
    );
    await screenshot(page, 'aw-13-settings-other-1280');

    await clear.click();
    const confirmClear = page.getByRole('dialog', { name: 'Clear error status?' });
    await confirmClear.getByText('2 messages in Error go back to Ready to send').waitFor();
    await settled(page);
    await screenshot(page, 'aw-14-confirm-clear-1280');
    await confirmClear.getByRole('button', { name: 'Clear error status' }).click();
    await confirmClear.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Clear error status (0)' }).waitFor();
    expect(await page.getByRole('button', { name: 'Clear error status (0)' }).isDisabled()).toBe(true);
    expect(await services.messages.outboxCounts(actor, refusing.id)).toMatchObject({
      error: 0,
      sending: 1,
      ready: 2,
    });

    await reset.click();
    const confirmReset = page.getByRole('dialog', { name: 'Reset sending status?' });
    await confirmReset.getByRole('button', { name: 'Reset sending status' }).click();
    await confirmReset.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Reset sending status (0)' }).waitFor();
    expect(await services.messages.outboxCounts(actor, refusing.id)).toMatchObject({
      error: 0,
      sending: 0,
      ready: 3,
    });
    await settled(page);
    await screenshot(page, 'aw-15-settings-other-after-1280');

    // The messages retried go out again; the tab counts what they came to when it is opened anew.
    await sendDueMessages(running.container);
    const { error } = await services.messages.outboxCounts(actor, refusing.id);
    expect(error).toBeGreaterThan(0);
    await page.reload();
    await page.getByRole('button', { name: `Clear error status (${error})` }).waitFor();
  }, 120_000);

  it('works at 390px: a marketing account through the wizard, and the settings tabs', async () => {
    const phone = await (
      await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-GB', isMobile: true })
    ).newPage();
    await logIn(phone);
    await phone.getByRole('link', { name: 'Add account' }).click();
    await phone.getByRole('button', { name: 'Set up manually' }).click();
    await pageTitle(phone).filter({ hasText: 'Type and scope' }).waitFor();
    expect(await noSideways(phone)).toBe(true);
    await phone.getByRole('radio', { name: /^Marketing account/ }).check();
    await phone.getByText('Step 2 of 4').waitFor();
    await screenshot(phone, 'aw-20-type-390');

    await next(phone, 'General');
    // Marketing accounts send through the relay: no server pages, and no test.
    expect(await phone.getByRole('button', { name: 'Test settings' }).count()).toBe(0);
    await phone.getByLabel(/^Account name/).fill('Autumn newsletter');
    await phone.getByLabel(/^Email address/).fill('not an address');
    await next(phone, 'Other');
    await phone.getByRole('button', { name: 'Add account' }).click();
    // The API's word on the address sends the wizard back to General, onto the field.
    await pageTitle(phone).filter({ hasText: 'General' }).waitFor();
    const email = phone.getByLabel(/^Email address/);
    expect(await email.getAttribute('aria-invalid')).toBe('true');
    expect(await noSideways(phone)).toBe(true);
    await screenshot(phone, 'aw-21-general-error-390');
    await email.fill('autumn@wizardry.test');
    await next(phone, 'Other');
    await phone.getByRole('button', { name: 'Add account' }).click();
    await phone.waitForURL('**/accounts');
    const { items } = await running.container.services.accounts.list(actor, { q: 'Autumn' });
    expect(items[0]).toMatchObject({ type: 'marketing', status: 'pending_approval', scope: 'personal' });

    // An own account's wizard pages and settings tabs fit the phone too.
    await phone.goto(url('/accounts/new'));
    await phone.getByRole('button', { name: 'Set up manually' }).click();
    await next(phone, 'General');
    await screenshot(phone, 'aw-22-general-390');
    await next(phone, 'Outgoing server');
    await phone.getByRole('switch', { name: 'Connect through a proxy' }).check();
    await settled(phone);
    expect(await noSideways(phone)).toBe(true);
    await screenshot(phone, 'aw-23-outgoing-390');
    await next(phone, 'Incoming server');
    await segment(phone, 'POP3').click();
    await screenshot(phone, 'aw-24-incoming-390');
    await next(phone, 'Advanced');
    expect(await noSideways(phone)).toBe(true);
    await screenshot(phone, 'aw-25-advanced-390');
    await next(phone, 'Delivery');
    expect(await noSideways(phone)).toBe(true);
    await screenshot(phone, 'aw-26-delivery-390');

    const { items: refused } = await running.container.services.accounts.list(actor, { q: 'Refused' });
    await phone.goto(url(`/accounts/${refused[0]!.id}/other`));
    await phone.getByRole('button', { name: /Clear error status \(\d+\)/ }).waitFor();
    expect(await noSideways(phone)).toBe(true);
    await screenshot(phone, 'aw-27-settings-other-390');
    await phone.goto(url(`/accounts/${refused[0]!.id}`));
    await phone.getByRole('tab', { name: 'General' }).waitFor();
    expect(await noSideways(phone)).toBe(true);
    await screenshot(phone, 'aw-28-settings-general-390');
    await phone.context().close();
  }, 120_000);
});
