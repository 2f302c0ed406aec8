/**
 * The Automation views in a browser: an admin writes a rule (the API's words about a bad field on
 * that field), the worker runs it, and its log shows what it did; a webhook is added (its secret
 * shown once) and its delivery log fills from a real receiver; a member reads the rules and finds
 * the alert among their notifications. Screenshots land in test/e2e/screenshots/.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runAutomationOnce } from '../support/automation.ts';
import { runWebhooksOnce } from '../support/webhooks.ts';
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

const ORG = 'Rulemakers';
const admin = { name: 'Ana Admin', email: 'ana@rulemakers.test', password: 'admin password 1' };
const member = { name: 'Milo Member', email: 'milo@rulemakers.test', password: 'member password 1' };

describe('the Automation views in a browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let page: Page;
  let receiver: http.Server;
  let receiverUrl: string;
  const received: string[] = [];
  let memberId: string;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      received.push(String(req.headers['mailroom-event-id']));
      req.resume().on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/crm-hook`;
    const [webRoot, launched] = await Promise.all([buildWebUi(), launchChromium()]);
    browser = launched;
    running = await startApp(webRoot, {
      MAILROOM_ALLOW_INSECURE_WEBHOOKS: 'true',
      MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
    });
    const { users } = running.container.services;
    await users.createUserInOrganisation({ organisationName: ORG, ...admin, role: 'admin' });
    memberId = (await users.createUserInOrganisation({ organisationName: ORG, ...member, role: 'member' }))
      .user.id;
    page = await (
      await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' })
    ).newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshotOpenPages(browser, `failed-automation`);
  });

  const url = (path: string) => `${running.baseUrl}${path}`;
  const logIn = (p: Page, who: { email: string; password: string }) => logInAs(p, running.baseUrl, who);
  /** A call to the API with the browser's session, as the page itself would make it. */
  const apiAsPage = (p: Page, method: string, path: string, body?: unknown) =>
    p.evaluate(
      async ([method, path, body]) => {
        // As the UI does: a change made with the session cookie repeats its CSRF token.
        const { cookie } = (globalThis as unknown as { document: { cookie: string } }).document;
        const csrf = /(?:^|;\s*)mailroom_csrf=([^;]*)/.exec(cookie)?.[1];
        const response = await fetch(path, {
          method,
          headers: {
            ...(body !== undefined && { 'content-type': 'application/json' }),
            ...(csrf !== undefined && { 'x-csrf-token': decodeURIComponent(csrf) }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return (await response.json()) as Record<string, unknown>;
      },
      [method, path, body] as const,
    );

  it('writes a rule in the editor, shows a bad field on that field, and logs what the worker did', async () => {
    await logIn(page, admin);
    await page.goto(url('/automation'));
    await page.getByRole('heading', { name: 'No rules yet' }).waitFor();
    await screenshot(page, '30-automation-empty');

    await page.getByRole('button', { name: 'New rule' }).click();
    const editor = page.getByRole('dialog', { name: 'New rule' });
    await editor.getByRole('textbox', { name: 'Name' }).fill('Hot lead');
    await editor.getByLabel('When', { exact: true }).click();
    await page.getByRole('option', { name: 'Contact tags changed' }).click();
    await editor.getByRole('textbox', { name: 'Contact has tag' }).fill('hot');
    await editor.getByRole('textbox', { name: 'Sender’s domain' }).fill('not a domain');
    await editor.getByRole('button', { name: 'Add an action' }).click();
    await editor.getByRole('group', { name: 'Action 2' }).getByLabel('Do', { exact: true }).click();
    await page.getByRole('option', { name: 'Alert people' }).click();
    await editor.getByRole('button', { name: 'Save rule' }).click();
    // The server refuses the domain; its words show on the field, and nothing was saved.
    await editor
      .getByRole('textbox', { name: 'Sender’s domain' })
      .and(page.locator('[aria-invalid=true]'))
      .waitFor();
    await settled(page);
    await screenshot(page, '31-rule-editor-error');
    await editor.getByRole('textbox', { name: 'Sender’s domain' }).fill('');
    await editor.getByRole('button', { name: 'Save rule' }).click();
    await editor.waitFor({ state: 'detached' });
    const card = page.getByTestId('rule');
    await card.getByText('Add 10 to the score, then Alert the contact’s owner').waitFor();
    expect(await card.textContent()).toContain('When Contact tags changed, if contact tagged “hot”');
    await screenshot(page, '32-rules');

    const contact = await apiAsPage(page, 'POST', '/api/contacts', {
      email: 'lead@customer.test',
      name: 'Lee Lead',
      ownerId: memberId,
    });
    await apiAsPage(page, 'PATCH', `/api/contacts/${String(contact.id)}`, { tags: ['hot'] });
    await runAutomationOnce(running.container);

    await page.getByRole('button', { name: 'Runs of Hot lead' }).click();
    const log = page.getByRole('dialog', { name: 'Runs of “Hot lead”' });
    await log.getByText('score 0 → 10').waitFor();
    expect(await log.getByTestId('rule-run').textContent()).toContain('alerted 1 user');
    await settled(page);
    await screenshot(page, '33-rule-runs');
    await page.keyboard.press('Escape');
  }, 90_000);

  it('adds a webhook, shows its secret once, and fills its delivery log from a real receiver', async () => {
    await page.goto(url('/automation/webhooks'));
    await page.getByRole('heading', { name: 'No webhooks yet' }).waitFor();
    await page.getByRole('button', { name: 'Add webhook' }).first().click();
    const form = page.getByRole('dialog', { name: 'Add a webhook' });
    await form.getByRole('textbox', { name: 'URL' }).fill(receiverUrl);
    await form.getByLabel('Events', { exact: true }).click();
    await page.getByRole('option', { name: 'Contact tags changed' }).click();
    await form.getByRole('textbox', { name: 'URL' }).click();
    await form.getByRole('button', { name: 'Add webhook' }).click();
    const secret = page.getByTestId('webhook-secret');
    expect(await secret.textContent()).toMatch(/^whsec_/);
    await settled(page);
    await screenshot(page, '34-webhook-secret');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByTestId('webhook').getByText(receiverUrl).waitFor();
    // The secret is nowhere on the page once its dialog is closed.
    expect(await page.content()).not.toContain('whsec_');

    const contact = await apiAsPage(page, 'POST', '/api/contacts', { email: 'ping@customer.test' });
    await apiAsPage(page, 'PATCH', `/api/contacts/${String(contact.id)}`, { tags: ['pinged'] });
    await runAutomationOnce(running.container);
    await runWebhooksOnce(running.container);
    const timeline = await apiAsPage(page, 'GET', `/api/events?contactId=${String(contact.id)}`);
    expect(received).toEqual([(timeline.items as { id: string }[])[0]!.id]);
    await page.getByRole('button', { name: `Deliveries to ${receiverUrl}` }).click();
    const delivery = page.getByTestId('webhook-delivery');
    await delivery.getByText('delivered').waitFor();
    expect(await delivery.textContent()).toMatch(/Contact tags changed.*: 200 in \d+ ms/);
    await settled(page);
    await screenshot(page, '35-webhook-deliveries');
    await page.keyboard.press('Escape');
  }, 90_000);

  it('shows a member the rules to read, and the alert among their notifications', async () => {
    const memberPage = await (
      await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-GB' })
    ).newPage();
    await logIn(memberPage, member);
    await memberPage.goto(url('/automation'));
    await memberPage.getByTestId('rule').first().waitFor();
    expect(await memberPage.getByRole('button', { name: 'New rule' }).count()).toBe(0);
    await screenshot(memberPage, '36-rules-member-390');
    await memberPage.getByRole('tab', { name: 'Notifications' }).click();
    const alert = memberPage.getByTestId('notification');
    await alert.getByText('Hot lead').waitFor();
    expect(await alert.textContent()).toContain(
      'The tags of Lee Lead <lead@customer.test> changed: added hot.',
    );
    await screenshot(memberPage, '37-notifications-390');
    await memberPage.getByRole('button', { name: 'Mark “Hot lead” read' }).click();
    await memberPage.getByRole('heading', { name: 'No unread alerts' }).waitFor();
  }, 60_000);
});
