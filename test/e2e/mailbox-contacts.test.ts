/**
 * The Mailbox and Contacts views in a browser, against real mail servers. An own account sends
 * through the mail peers' Postfix to an address at the dead domain; Postfix's next hop refuses it,
 * a real DSN lands in the account's Dovecot mailbox, the mailbox worker reads it, and the contact
 * turns faulty: the contact page shows the bounce with its raw notice, the notice's message view
 * shows the classifier's verdict, and Reactivate makes the contact active again. The outbox shows
 * each state as a chip, an Error with the server's own reply (smtp-sink refusing at RCPT), and the
 * per-message actions. Screenshots land in test/e2e/screenshots/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/domains/users/users.ts';
import { createMailbox, mailPeers, waitForMessage, type Mailbox } from '../support/mail-peers.ts';
import { imapAccountInput, runMailboxSyncOnce } from '../support/mailboxes.ts';
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

const ORG = 'Postroom Ltd';
const admin = { name: 'Paula Post', email: 'paula@postroom.test', password: 'admin password 1' };

describe('the Mailbox and Contacts views in a browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let page: Page;
  let actor: Actor;
  let mailbox: Mailbox;
  let ownAccountId: string;
  let goneAddress: string;
  let goneContactId: string;

  beforeAll(async () => {
    const [webRoot, launched] = await Promise.all([buildWebUi(), launchChromium()]);
    browser = launched;
    running = await startApp(webRoot);
    const { user, organisation } = await running.container.services.users.createUserInOrganisation({
      organisationName: ORG,
      ...admin,
      role: 'admin',
    });
    actor = { userId: user.id, orgId: organisation.id, role: 'admin' };
    page = await (
      await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' })
    ).newPage();
    await logIn(page);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshotOpenPages(browser, `failed-mailbox-contacts`);
  });

  const url = (path: string) => `${running.baseUrl}${path}`;
  const services = () => running.container.services;
  const logIn = (p: Page) => logInAs(p, running.baseUrl, admin);
  /** Waits until a list has loaded: rows or its empty state, and no skeleton left. */
  async function waitForList(p: Page, rowTestId: string) {
    await p.locator(`[data-testid=${rowTestId}], [data-testid=empty-state]`).first().waitFor();
    await p.getByTestId('skeleton-row').first().waitFor({ state: 'detached' });
  }
  const overflow = (p: Page) =>
    p.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');

  it('shows a contact turning faulty after a real bounce, with the verdict, and reactivates it', async () => {
    mailbox = await createMailbox();
    const account = await services().accounts.create(actor, {
      // Without STARTTLS: the shared mail peers may be restarted (with a new certificate) by another
      // test run after this process read its CA, which is no part of what this test is about.
      ...imapAccountInput(mailbox, { security: 'none' }),
      name: 'Sales desk',
      smtp: { host: '127.0.0.1', port: mailPeers.ports.smtp, security: 'none', requiresAuth: false },
    });
    ownAccountId = account.id;
    goneAddress = `gone-${Date.now()}@${mailPeers.deadDomain}`;
    const gone = await services().contacts.create(actor, {
      email: goneAddress,
      name: 'Gordon Gone',
      tags: ['lead'],
      score: 12,
    });
    goneContactId = gone.id;
    await services().messages.queue(
      actor,
      { accountId: account.id, to: [goneAddress], subject: 'Spring offer', text: 'Hello Gordon.' },
      null,
    );
    await sendDueMessages(running.container);
    // Postfix accepted it; its next hop refuses the address, so a real DSN comes back.
    await waitForMessage(
      mailbox.user,
      mailbox.password,
      (m) => /Undelivered Mail/i.test(m.mail.subject ?? ''),
      30_000,
    );
    await runMailboxSyncOnce(running.container);
    const synced = await services().accounts.get(actor, account.id);
    expect(
      (await services().contacts.get(actor, gone.id)).status,
      JSON.stringify(synced.health.incoming),
    ).toBe('faulty');

    // The contacts list, filtered to faulty contacts.
    await page.goto(url('/contacts'));
    await waitForList(page, 'contact-row');
    await page.getByRole('combobox', { name: 'Status' }).click();
    await page.getByRole('option', { name: 'Faulty' }).click();
    await page.getByText('1–1 of 1 contacts').waitFor();
    const row = page.getByTestId('contact-row');
    expect(await row.getByTestId('contact-status').textContent()).toBe('Faulty');
    expect(page.url()).toContain('status=faulty');
    await expect.poll(() => page.getByRole('combobox', { name: 'Status' }).inputValue()).toBe('Faulty');
    await screenshot(page, 'mc-01-contacts-faulty-1280');

    // The contact: faulty, the bounce in its history with the classifier's evidence.
    await row.getByRole('link', { name: 'Gordon Gone' }).click();
    await page.waitForURL(`**/contacts/${gone.id}`);
    await page.getByRole('heading', { name: 'Gordon Gone' }).waitFor();
    expect(await page.getByTestId('contact-status').first().textContent()).toBe('Faulty');
    const history = page.getByTestId('bounce-history');
    const verdict = history.getByTestId('bounce-verdict');
    await verdict.waitFor();
    expect(await verdict.count()).toBe(1);
    const verdictText = await verdict.textContent();
    expect(verdictText).toContain('Hard bounce');
    expect(verdictText).toContain('User unknown');
    expect(verdictText).toContain('5.1.1');
    expect(verdictText).toContain('the envelope ID the notice quoted (ENVID)');
    expect(verdictText).toContain(goneAddress);
    // The timeline: the email sent, the bounce and the faulty mark, newest first.
    const timeline = page.getByTestId('timeline-item');
    await timeline.first().waitFor();
    const lines = await timeline.allTextContents();
    expect(lines.some((line) => line.includes('Sent:Spring offer'))).toBe(true);
    expect(lines.findIndex((line) => line.includes('Marked faulty after a hard bounce'))).toBeLessThan(
      lines.findIndex((line) => line.includes('Spring offer')),
    );
    expect(lines.some((line) => line.startsWith('Bounced (hard): User unknown'))).toBe(true);
    await screenshot(page, 'mc-02-contact-faulty-1280');

    // The raw notice, as text.
    await verdict.getByRole('button', { name: /^View the raw notice/ }).click();
    const raw = page.getByRole('dialog', { name: 'The notice as received' });
    await raw.getByTestId('raw-notice').waitFor();
    expect(await raw.getByTestId('raw-notice').textContent()).toContain(goneAddress);
    expect(await raw.getByTestId('raw-notice').textContent()).toMatch(/Status: 5\.1\.1/);
    await settled(page);
    await screenshot(page, 'mc-03-raw-notice', { fullPage: false });
    await page.keyboard.press('Escape');
    await raw.waitFor({ state: 'detached' });

    // The notice in the inbox, and its message view with the verdict and the contact.
    await page.getByRole('link', { name: 'Mailbox' }).click();
    await page.waitForURL('**/mailbox');
    await waitForList(page, 'message-row');
    const notice = page.getByTestId('message-row').filter({ hasText: 'Bounce' });
    expect(await notice.count()).toBe(1);
    await screenshot(page, 'mc-04-inbox-1280');
    await notice.getByRole('link', { name: /Undelivered Mail/ }).click();
    await page.waitForURL('**/messages/**');
    const noticeVerdict = page.getByTestId('verdict').getByTestId('bounce-verdict');
    await noticeVerdict.waitFor();
    expect(await noticeVerdict.textContent()).toContain('User unknown');
    expect(await noticeVerdict.textContent()).toContain('Hard bounce');
    await page.getByTestId('message-contact').first().waitFor();
    expect(await page.getByTestId('message-contact').first().textContent()).toContain(goneAddress);
    // Shown as text: nothing of the notice is rendered as markup.
    expect(await page.getByTestId('message-text').textContent()).toContain(goneAddress);
    await screenshot(page, 'mc-05-bounce-notice-1280');
    // The verdict leads to the message that bounced.
    await noticeVerdict.getByRole('link', { name: 'Open the message that bounced' }).click();
    await page.getByRole('heading', { name: 'Spring offer' }).waitFor();
    await page.getByTestId('recipient-row').first().waitFor();
    expect(await page.getByTestId('recipient-row').first().textContent()).toContain('Bounced');

    // Back on the contact: tag it, then reactivate it, after confirming.
    await page.goto(url(`/contacts/${gone.id}`));
    await page.getByRole('heading', { name: 'Gordon Gone' }).waitFor();
    const tags = page.getByRole('combobox', { name: 'Tags' });
    await tags.fill('customer');
    await tags.press('Enter');
    await page.getByRole('button', { name: 'Save tags' }).click();
    await page.getByText('Tags saved').waitFor();
    expect((await services().contacts.get(actor, gone.id)).tags.sort()).toEqual(['customer', 'lead']);

    await page.getByRole('button', { name: 'Reactivate' }).click();
    const confirm = page.getByRole('dialog', { name: 'Reactivate this contact?' });
    await confirm.waitFor();
    await settled(page);
    await screenshot(page, 'mc-06-reactivate-confirm', { fullPage: false });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect((await services().contacts.get(actor, gone.id)).status).toBe('faulty');
    await page.getByRole('button', { name: 'Reactivate' }).click();
    await confirm.getByRole('button', { name: 'Reactivate contact' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByTestId('contact-status').filter({ hasText: 'Active' }).first().waitFor();
    expect(await page.getByRole('button', { name: 'Reactivate' }).count()).toBe(0);
    expect((await services().contacts.get(actor, gone.id)).status).toBe('active');
    await page.getByTestId('timeline-item').filter({ hasText: 'Reactivated' }).first().waitFor();
    await screenshot(page, 'mc-07-contact-reactivated-1280');
  }, 120_000);

  it('lists the outbox with status chips, an Error with the server’s reply, and acts on messages', async () => {
    // An account whose server refuses every recipient at RCPT with 550 5.1.1.
    const refusing = await services().accounts.create(actor, {
      type: 'own',
      scope: 'team',
      name: 'Refused desk',
      email: 'refused@postroom.test',
      smtp: { host: '127.0.0.1', port: mailPeers.ports.deadSink, security: 'none', requiresAuth: false },
    });
    const refused = await services().messages.queue(
      actor,
      { accountId: refusing.id, to: ['nobody@customer.test'], subject: 'Refused at RCPT', text: 'Hi.' },
      null,
    );
    await sendDueMessages(running.container);
    const later = new Date(Date.now() + 86_400_000).toISOString();
    const queue = (subject: string, sendAt?: string) =>
      services().messages.queue(
        actor,
        { accountId: ownAccountId, to: [mailbox.address], subject, text: 'Hi.', ...(sendAt && { sendAt }) },
        null,
      );
    const waiting = await queue('Waits until tomorrow', later);
    const stuck = await queue('Stuck while sending', later);
    const unsure = await queue('Worker died mid-send', later);
    const toCancel = await queue('Changed my mind', later);
    // The worker states a person sees only when something went wrong, set as a worker would leave them.
    await running.container.db
      .updateTable('messages')
      .set({ status: 'sending' })
      .where('id', '=', stuck.id)
      .execute();
    await running.container.db
      .updateTable('messages')
      .set({ status: 'uncertain' })
      .where('id', '=', unsure.id)
      .execute();
    expect((await services().messages.get(actor, refused.id)).status).toBe('error');

    await page.goto(url('/mailbox?direction=out'));
    await waitForList(page, 'message-row');
    await page.getByText(/^1–\d+ of \d+ messages$/).waitFor();
    const rows = page.getByTestId('message-row');
    const chipOf = (subject: string) =>
      rows.filter({ hasText: subject }).getByTestId('message-status').textContent();
    expect(await chipOf('Spring offer')).toBe('Sent');
    expect(await chipOf('Waits until tomorrow')).toBe('Ready to send');
    expect(await chipOf('Stuck while sending')).toBe('Sending');
    expect(await chipOf('Worker died mid-send')).toBe('Uncertain');
    expect(await chipOf('Refused at RCPT')).toBe('Error');
    const reply = await rows.filter({ hasText: 'Refused at RCPT' }).getByTestId('server-reply').textContent();
    expect(reply).toMatch(/^550 5\.1\.1 .+/);
    await screenshot(page, 'mc-08-outbox-1280');

    // Cancel, after confirming; reached from the keyboard.
    await rows
      .filter({ hasText: 'Changed my mind' })
      .getByRole('button', { name: 'Actions for “Changed my mind”' })
      .focus();
    await page.keyboard.press('Enter');
    await page.getByRole('menuitem', { name: 'Cancel sending…' }).click();
    const confirm = page.getByRole('dialog', { name: 'Cancel this message?' });
    await confirm.getByRole('button', { name: 'Cancel message' }).click();
    await confirm.waitFor({ state: 'detached' });
    await rows.filter({ hasText: 'Changed my mind' }).getByText('Cancelled').waitFor();
    expect((await services().messages.get(actor, toCancel.id)).status).toBe('cancelled');

    // Send again a message stuck in sending.
    await rows
      .filter({ hasText: 'Stuck while sending' })
      .getByRole('button', { name: /^Actions for/ })
      .click();
    await page.getByRole('menuitem', { name: 'Send again (reset sending)' }).click();
    await rows.filter({ hasText: 'Stuck while sending' }).getByText('Ready to send').waitFor();

    // Only errors, by the status filter.
    await page.getByRole('combobox', { name: 'Status' }).click();
    await page.getByRole('option', { name: 'Error' }).click();
    await page.getByText('1–1 of 1 messages').waitFor();
    expect(page.url()).toContain('status=error');

    // The failed message's view: the server's reply, per recipient too, and a retry.
    await rows.getByRole('link', { name: 'Refused at RCPT' }).click();
    await page.getByRole('heading', { name: 'Refused at RCPT' }).waitFor();
    const alert = page.getByRole('alert').filter({ hasText: 'Not sent' });
    expect(await alert.getByTestId('server-reply').textContent()).toMatch(/^550 5\.1\.1/);
    expect(await page.getByTestId('recipient-row').textContent()).toContain('Refused');
    await screenshot(page, 'mc-09-message-error-1280');
    await page.getByRole('button', { name: 'Retry (clear the error)' }).click();
    await page
      .getByRole('heading', { name: 'Refused at RCPT' })
      .locator('..')
      .getByText('Ready to send')
      .waitFor();
    expect((await services().messages.get(actor, refused.id)).status).toBe('ready');

    // Back to the filtered list: the empty state says so, with a way out.
    await page.getByRole('link', { name: 'Back to the mailbox' }).click();
    await page.getByRole('heading', { name: 'No messages match' }).waitFor();
    await screenshot(page, 'mc-10-outbox-no-match');
    await page.getByRole('button', { name: 'Clear search and filters' }).click();
    await page.getByText('1–6 of 6 messages').waitFor();
    // Searched by subject, kept in the address.
    await page.getByRole('searchbox', { name: 'Search' }).fill('refused at');
    await page.getByText('1–1 of 1 messages').waitFor();
    expect(page.url()).toContain('q=refused');
    expect(await page.getByTestId('message-row').first().textContent()).toContain('Refused at RCPT');
    await page.getByRole('searchbox', { name: 'Search' }).fill('');
    await page.getByText('1–6 of 6 messages').waitFor();
    // One account's outbox, picked by name.
    await page.getByRole('combobox', { name: 'Account' }).click();
    await page.getByRole('option', { name: /^Refused desk/ }).click();
    await page.getByText('1–1 of 1 messages').waitFor();
    expect(page.url()).toContain(`accountId=${refusing.id}`);
    expect(waiting.status).toBe('ready');
  }, 120_000);

  it('works at 390px wide: cards, no sideways scrolling', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-GB' });
    const p = await phone.newPage();
    await logIn(p);
    await p.goto(url('/mailbox?direction=out'));
    await waitForList(p, 'message-row');
    expect(await p.getByRole('table').count()).toBe(0);
    expect(await overflow(p)).toBeLessThanOrEqual(0);
    await screenshot(p, 'mc-11-outbox-390');

    await p.goto(url('/contacts'));
    await waitForList(p, 'contact-row');
    expect(await overflow(p)).toBeLessThanOrEqual(0);
    await screenshot(p, 'mc-12-contacts-390');

    await p.goto(url(`/contacts/${goneContactId}`));
    await p.getByTestId('bounce-verdict').first().waitFor();
    await p.getByTestId('timeline-item').first().waitFor();
    expect(await overflow(p)).toBeLessThanOrEqual(0);
    await screenshot(p, 'mc-13-contact-390');

    await p.goto(url('/mailbox'));
    await waitForList(p, 'message-row');
    await p.getByTestId('message-row').filter({ hasText: 'Bounce' }).getByRole('link').click();
    await p.getByTestId('verdict').getByTestId('bounce-verdict').waitFor();
    expect(await overflow(p)).toBeLessThanOrEqual(0);
    await screenshot(p, 'mc-14-bounce-notice-390');

    await p.goto(url('/contacts?q=nobody-here'));
    await p.getByRole('heading', { name: 'No contacts match' }).waitFor();
    await phone.close();
  }, 60_000);
});
