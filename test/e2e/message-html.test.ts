/**
 * A received HTML message in the browser: shown sanitised, in a sandboxed iframe, with remote
 * images blocked until "Show images". The message carries a <script>, an onerror handler, a
 * javascript: link, remote images (an <img>, a CSS background in a style sheet and in a style
 * attribute) and an inline cid: image. Every remote reference points at a local HTTP server that
 * counts what it is asked for: the script, the handler and the link would each ask it for a path of
 * their own, and the images for theirs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyMessage } from '../../src/bounces/classify/index.ts';
import { contentHash, parseMessage } from '../../src/mail/parse.ts';
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

const admin = { name: 'Hanna Html', email: 'hanna@html.test', password: 'admin password 1' };
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

/** The "remote" host: answers every request with a 1×1 PNG and counts requests by path. */
async function startRemote() {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' });
    res.end(PNG);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    hits,
    count: (path: string) => hits.get(path) ?? 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function hostileMessage(remote: string): Buffer {
  const html = `<!doctype html><html><head>
<style>body { background: #fff url(${remote}/css-background.png) } @import url(${remote}/import.css);</style>
</head><body>
<h1>Spring news</h1>
<script>document.title = 'pwned by script'; fetch('${remote}/script');</script>
<img src="${remote}/pixel.png" alt="tracking pixel" width="1" height="1">
<img src="missing.png" alt="broken" onerror="fetch('${remote}/onerror'); parent.document.title = 'pwned by onerror'">
<p><a href="javascript:fetch('${remote}/javascript-link');parent.document.title='pwned by link'">Claim your prize</a></p>
<div style="background-image: url('${remote}/style-attribute.png')">Styled block</div>
<img src="cid:logo@html.test" alt="inline logo">
<svg><image href="${remote}/svg-image.png"></image></svg>
<form action="${remote}/form"><input name="password"><button>Log in</button></form>
</body></html>`;
  return Buffer.from(
    [
      'From: Eve <eve@evil.test>',
      'To: sales@html.test',
      'Subject: Spring news',
      'Message-ID: <spring-news@evil.test>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/related; boundary="rel"',
      '',
      '--rel',
      'Content-Type: text/html; charset=utf-8',
      '',
      html,
      '--rel',
      'Content-Type: image/png',
      'Content-ID: <logo@html.test>',
      'Content-Disposition: inline',
      'Content-Transfer-Encoding: base64',
      '',
      PNG.toString('base64'),
      '--rel--',
      '',
    ].join('\r\n'),
  );
}

describe('a received HTML message in the browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let page: Page;
  let remote: Awaited<ReturnType<typeof startRemote>>;
  let messageId: string;

  beforeAll(async () => {
    const [webRoot, launched] = await Promise.all([buildWebUi(), launchChromium()]);
    browser = launched;
    running = await startApp(webRoot, { MAILROOM_ALLOW_PRIVATE_HOSTS: 'true' });
    remote = await startRemote();
    const { services } = running.container;
    const { user, organisation } = await services.users.createUserInOrganisation({
      organisationName: 'Html Ltd',
      ...admin,
      role: 'admin',
    });
    const actor = { userId: user.id, orgId: organisation.id, role: 'admin' as const };
    const account = await services.accounts.create(actor, {
      type: 'own',
      name: 'Sales',
      email: 'sales@html.test',
      smtp: { host: '127.0.0.1', port: 2525, security: 'none', requiresAuth: false },
    });
    const raw = hostileMessage(remote.origin);
    await services.incoming.store(
      { id: account.id, orgId: organisation.id, markIncomingPrivate: false },
      [
        {
          fetched: {
            folder: 'INBOX',
            serverId: 'uid-1',
            raw,
            size: raw.length,
            truncated: false,
            receivedAt: new Date(),
          },
          parsed: await parseMessage(raw),
          hash: contentHash(raw),
          verdict: classifyMessage(raw),
        },
      ],
      async () => {},
    );
    const [stored] = (await services.messages.list(actor, { direction: 'in', page: 1, pageSize: 50 })).items;
    messageId = stored!.id;
    page = await (
      await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' })
    ).newPage();
    await logIn(page, running.baseUrl, admin);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await remote?.close();
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshotOpenPages(browser, 'failed-message-html');
  });

  /** Nothing that only a script, a handler or a link could fetch was fetched. */
  function expectNoScriptRan() {
    for (const path of ['/script', '/onerror', '/javascript-link', '/form'])
      expect(remote.count(path), path).toBe(0);
  }

  const frame = (): FrameLocator => page.frameLocator('[data-testid=message-html]');

  it('shows the sanitised HTML in a sandbox, runs no script and loads no remote image until asked', async () => {
    await page.goto(`${running.baseUrl}/messages/${messageId}`);
    const iframe = page.getByTestId('message-html');
    await iframe.waitFor();
    await frame().getByRole('heading', { name: 'Spring news' }).waitFor();

    // The frame: sandboxed without scripts or our origin; its document without script, handler or javascript:.
    expect(await iframe.getAttribute('sandbox')).toBe('allow-popups allow-popups-to-escape-sandbox');
    const srcdoc = (await iframe.getAttribute('srcdoc')) ?? '';
    expect(srcdoc).not.toMatch(/<script|onerror|javascript:|<form|<input|<svg/i);
    expect(srcdoc).not.toContain(`${remote.origin}/pixel.png`);
    expect(srcdoc).not.toContain(`${remote.origin}/style-attribute.png`);
    expect(srcdoc).not.toContain(`${remote.origin}/css-background.png`);
    expect(srcdoc).toContain('img-src data:;');

    // The inline image came from the message itself.
    const inline = frame().getByRole('img', { name: 'inline logo' });
    await inline.waitFor();
    expect(await inline.getAttribute('src')).toMatch(/^data:image\/png;base64,/);

    // The javascript: link leads nowhere.
    const link = frame().getByText('Claim your prize');
    expect(await link.getAttribute('href')).toBeNull();
    await link.click();

    await page.waitForTimeout(1000);
    expect(await page.title()).toBe('Spring news · Mailroom');
    expectNoScriptRan();
    expect([...remote.hits.keys()]).toEqual([]);
    await page.getByTestId('remote-images-blocked').waitFor();
    await settled(page);
    await screenshot(page, 'message-html-01-images-blocked');
  });

  it('loads the remote images after "Show images", and still runs nothing', async () => {
    await page.getByRole('button', { name: 'Show images' }).click();
    await frame().getByRole('img', { name: 'tracking pixel' }).waitFor();
    await expect.poll(() => remote.count('/pixel.png'), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => remote.count('/style-attribute.png'), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => remote.count('/css-background.png'), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.waitForTimeout(500);
    expect(await page.title()).toBe('Spring news · Mailroom');
    expectNoScriptRan();
    // Style sheets from afar stay out even now; SVG never made it through the sanitiser.
    expect(remote.count('/import.css')).toBe(0);
    expect(remote.count('/svg-image.png')).toBe(0);
    expect(await page.getByTestId('remote-images-blocked').count()).toBe(0);
    await settled(page);
    await screenshot(page, 'message-html-02-images-shown');
  });

  it('offers the attachments as downloads', async () => {
    const link = page.getByRole('list', { name: 'Attachments' }).getByRole('link');
    expect(await link.getAttribute('href')).toBe(`/api/messages/${messageId}/attachments/0`);
    const response = await page.request.get(`${running.baseUrl}/api/messages/${messageId}/attachments/0`);
    expect(response.headers()['content-disposition']).toMatch(/^attachment;/);
    expect(response.headers()['x-content-type-options']).toBe('nosniff');
  });
});
