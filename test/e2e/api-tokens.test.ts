/**
 * The API tokens screen in a browser: a member reaches it from the account menu, makes a token of
 * scope `send` (the form offers `read` first), sees its secret once and copies it; the test then
 * calls the API with that secret, which works within its scope and is refused beyond it. After a
 * reload the secret is nowhere on the page but the token is listed; revoked in the UI, the secret
 * gets 401. Screenshots land in test/e2e/screenshots/.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  buildWebUi,
  launchChromium,
  logIn,
  screenshot,
  screenshotOpenPages,
  settled,
  startApp,
  type RunningApp,
} from './support.ts';

const ORG = 'Tokenworks';
const member = { name: 'Tara Token', email: 'tara@tokenworks.test', password: 'token password 1' };

/** What the page keeps where it would outlive the page: its address and both web storages. */
interface Kept {
  url: string;
  storage: string;
}

describe('the API tokens screen in a browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let secret = '';

  beforeAll(async () => {
    const [webRoot, launched] = await Promise.all([buildWebUi(), launchChromium()]);
    browser = launched;
    running = await startApp(webRoot);
    await running.container.services.users.createUserInOrganisation({
      organisationName: ORG,
      ...member,
      role: 'member',
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: running.baseUrl });
    page = await context.newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshotOpenPages(browser, 'failed-api-tokens');
  });

  /** A call to the API as a script would make it: no cookie, only the token. */
  const asToken = (method: string, path: string, body?: unknown) =>
    fetch(`${running.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${secret}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const kept = (p: Page) =>
    p.evaluate((): Kept => {
      const web = globalThis as unknown as {
        location: { href: string };
        localStorage: Record<string, string>;
        sessionStorage: Record<string, string>;
      };
      return {
        url: web.location.href,
        storage: JSON.stringify({ ...web.localStorage }) + JSON.stringify({ ...web.sessionStorage }),
      };
    });

  it('creates a send token from the account menu and shows its secret once, ready to copy', async () => {
    await logIn(page, running.baseUrl, member);
    await page.getByRole('button', { name: `Account menu for ${member.name}` }).click();
    await page.getByRole('menuitem', { name: 'API tokens' }).click();
    await page.waitForURL('**/settings/tokens');
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'No API tokens yet' }).waitFor();
    expect(await page.title()).toBe('API tokens · Mailroom');
    await screenshot(page, 'tokens-01-empty');

    await page.getByRole('button', { name: 'Create token' }).click();
    const form = page.getByRole('dialog', { name: 'Create an API token' });
    // The least privilege that is useful comes chosen; a name is asked for before anything is sent.
    expect(await form.getByRole('radio', { name: 'Read' }).isChecked()).toBe(true);
    await form.getByRole('button', { name: 'Create token' }).click();
    await form.getByRole('textbox', { name: 'Name' }).and(page.locator('[aria-invalid=true]')).waitFor();
    await form.getByRole('textbox', { name: 'Name' }).fill('CRM sync');
    await form.getByRole('radio', { name: 'Send' }).check();
    await settled(page);
    await screenshot(page, 'tokens-02-create');
    await form.getByRole('button', { name: 'Create token' }).click();
    await form.waitFor({ state: 'detached' });

    const box = page.getByTestId('new-token');
    secret = ((await box.getByTestId('token-secret').textContent()) ?? '').trim();
    expect(secret).toMatch(/^mr_\S{20,}$/);
    expect(await box.textContent()).toContain('It will not be shown again');
    // Focus lands on the secret, not back on the button that opened the form.
    expect(
      await box.evaluate(
        (element) =>
          element ===
          (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement,
      ),
    ).toBe(true);
    await box.getByRole('button', { name: 'Copy', exact: true }).click();
    await box.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    expect(
      await page.evaluate(() =>
        (
          globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
        ).navigator.clipboard.readText(),
      ),
    ).toBe(secret);
    await settled(page);
    await screenshot(page, 'tokens-03-secret-once');
    const { url, storage } = await kept(page);
    expect(url).not.toContain(secret);
    expect(storage).not.toContain(secret);
  }, 90_000);

  it('lets the secret call the API within its scope, and no further', async () => {
    expect((await asToken('GET', '/api/accounts')).status).toBe(200);
    const refused = await asToken('POST', '/api/accounts', {
      name: 'Sneaky',
      email: 'sneaky@tokenworks.test',
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'TOKEN_SCOPE_INSUFFICIENT',
    );
    // Queuing mail is what `send` is for: the request passes the scope and is judged on its body.
    const send = await asToken('POST', '/api/messages', {});
    expect(send.status).toBe(400);
    expect(((await send.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
  });

  it('after a reload lists the token with its scope and last use, and its secret nowhere', async () => {
    await page.getByRole('button', { name: 'I have copied it' }).click();
    expect(await page.getByTestId('new-token').count()).toBe(0);
    await page.reload();
    const row = page.getByTestId('api-token');
    await row.getByText('CRM sync').waitFor();
    expect(await row.getByTestId('token-scope').textContent()).toBe('send');
    const text = (await row.textContent()) ?? '';
    expect(text).toContain(secret.slice(0, 9));
    expect(text).not.toContain('Never used');
    expect(await page.getByTestId('token-secret').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    const { url, storage } = await kept(page);
    expect(url).not.toContain(secret);
    expect(storage).not.toContain(secret);
    await screenshot(page, 'tokens-04-list');

    const narrow = await (
      await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-GB' })
    ).newPage();
    await logIn(narrow, running.baseUrl, member);
    await narrow.goto(`${running.baseUrl}/settings/tokens`);
    await narrow.getByTestId('api-token').getByText('CRM sync').waitFor();
    await screenshot(narrow, 'tokens-05-list-390');
    await narrow.context().close();
  }, 60_000);

  it('revokes the token after asking, removes its row, and the secret is refused from then on', async () => {
    await page.getByRole('button', { name: 'Revoke CRM sync' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke this token?' });
    expect(await confirm.textContent()).toContain('CRM sync');
    await settled(page);
    await screenshot(page, 'tokens-06-revoke-confirm');
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('heading', { name: 'No API tokens yet' }).waitFor();
    expect(await page.getByTestId('api-token').count()).toBe(0);

    const refused = await asToken('GET', '/api/accounts');
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
  }, 60_000);
});
