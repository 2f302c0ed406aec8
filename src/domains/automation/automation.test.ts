/**
 * Automation end to end: events written with the changes they describe, rules run by the worker
 * ("when an email is received from a contact, add 10 to the score and alert the contact's owner",
 * from a real message that Postfix delivers into Dovecot), run logs, loop prevention, and runs made
 * once however many workers read the events.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { runAutomationOnce } from '../../../test/support/automation.ts';
import { sendDueMessages } from '../../../test/support/outbox.ts';
import { runWebhooksOnce } from '../../../test/support/webhooks.ts';
import { testDialects } from '../../../test/support/dialects.ts';
import { imapAccountInput, runMailboxSyncOnce } from '../../../test/support/mailboxes.ts';
import { createMailbox, mailPeers, waitForMessage } from '../../../test/support/mail-peers.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe.each(testDialects)('automation on %s', (dialect) => {
  // The webhook receiver below listens on 127.0.0.1 over plain HTTP.
  const testApp = useTestApp(dialect, {
    MAILROOM_ALLOW_INSECURE_WEBHOOKS: 'true',
    MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
  });
  let admin: SignedIn;
  let owner: SignedIn;

  const api = <Result = Body>(method: string, path: string, body?: unknown, as: SignedIn = admin) =>
    request<Result>(testApp.current.baseUrl, method, path, {
      token: as.token,
      ...(body !== undefined && { body }),
    });

  async function createRule(body: Body): Promise<string> {
    const created = await api('POST', '/api/rules', body);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  async function contact(email: string, extra: Body = {}): Promise<string> {
    const created = await api('POST', '/api/contacts', { email, ...extra });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  const eventsOf = async (contactId: string) =>
    ((await api('GET', `/api/events?contactId=${contactId}`)).body.items as Body[]).map(
      (event) => event.type,
    );

  beforeAll(async () => {
    const org = `Automators ${dialect}`;
    admin = await signUp(testApp.current.container, { org, role: 'admin' });
    owner = await signUp(testApp.current.container, { org, role: 'member' });
  });

  it('adds 10 to the score and alerts the contact’s owner when a real email arrives from the contact', async () => {
    const mailbox = await createMailbox();
    const account = await api('POST', '/api/accounts', imapAccountInput(mailbox));
    expect(account.status, JSON.stringify(account.body)).toBe(201);
    const address = `lead-${Date.now()}@customer.test`;
    const contactId = await contact(address, { name: 'Lea Lead', ownerId: owner.userId });
    const ruleId = await createRule({
      name: 'Hot lead',
      trigger: 'email.received',
      actions: [
        { type: 'add_score', amount: 10 },
        { type: 'alert', to: 'contact_owner' },
      ],
    });

    const smtp = nodemailer.createTransport({
      host: '127.0.0.1',
      port: mailPeers.ports.smtp,
      secure: false,
      ignoreTLS: true,
    });
    try {
      await smtp.sendMail({
        from: address,
        to: mailbox.address,
        subject: 'Interested in your offer',
        text: 'Call me.',
      });
    } finally {
      smtp.close();
    }
    await waitForMessage(
      mailbox.user,
      mailbox.password,
      (m) => m.mail.subject === 'Interested in your offer',
    );
    await runMailboxSyncOnce(testApp.current.container);
    await runAutomationOnce(testApp.current.container);

    expect((await api('GET', `/api/contacts/${contactId}`)).body.score).toBe(10);
    const alerts = await api('GET', '/api/notifications?unread=true', undefined, owner);
    expect(alerts.body.items).toEqual([
      expect.objectContaining({
        title: 'Hot lead',
        body: `Email from Lea Lead <${address}>: Interested in your offer`,
        ruleId,
        contactId,
        readAt: null,
      }),
    ]);
    expect((await api('GET', '/api/notifications', undefined, admin)).body.items).toEqual([]);
    const read = await api('POST', `/api/notifications/${alerts.body.items[0].id}/read`, undefined, owner);
    expect(read.body.readAt).toEqual(expect.any(String));
    expect((await api('GET', '/api/notifications?unread=true', undefined, owner)).body.total).toBe(0);

    const runs = await api('GET', `/api/rules/${ruleId}/runs`);
    expect(runs.body.items).toEqual([
      expect.objectContaining({
        status: 'done',
        attempts: 1,
        actions: [
          expect.objectContaining({ type: 'add_score', status: 'done', detail: 'score 0 → 10' }),
          expect.objectContaining({ type: 'alert', status: 'done', detail: 'alerted 1 user' }),
        ],
      }),
    ]);
    const timeline = (await api('GET', `/api/events?contactId=${contactId}`, undefined, owner)).body
      .items as Body[];
    expect(timeline.map((event) => event.type)).toEqual(['email.received', 'contact.score_changed']);
    expect(timeline[1]).toMatchObject({ causedByRuleId: ruleId, data: { from: 0, to: 10, delta: 10 } });

    // A restart and a second pass change nothing: the event was handled once.
    await runMailboxSyncOnce(testApp.current.container);
    await runAutomationOnce(testApp.current.container);
    expect((await api('GET', `/api/contacts/${contactId}`)).body.score).toBe(10);
    expect((await api('GET', `/api/rules/${ruleId}/runs`)).body.total).toBe(1);
    await api('PATCH', `/api/rules/${ruleId}`, { enabled: false });
  });

  it('never lets a rule trigger itself, and stops a chain of rules after three steps', async () => {
    const selfId = await createRule({
      name: 'Bump on change',
      trigger: 'contact.score_changed',
      conditions: { contactHasTag: 'loop-self' },
      actions: [{ type: 'add_score', amount: 1 }],
    });
    const id = await contact(`loop-${dialect}@customer.test`, { tags: ['loop-self'] });
    expect((await api('PATCH', `/api/contacts/${id}`, { score: 5 })).status).toBe(200);
    await runAutomationOnce(testApp.current.container);
    expect((await api('GET', `/api/contacts/${id}`)).body.score).toBe(6);
    expect((await api('GET', `/api/rules/${selfId}/runs`)).body.items).toEqual([
      expect.objectContaining({ status: 'done' }),
    ]);

    // Two rules feeding each other: each runs on the other's events, until the chain is three deep.
    const otherId = await createRule({
      name: 'Bump back',
      trigger: 'contact.score_changed',
      conditions: { contactHasTag: 'loop-pair' },
      actions: [{ type: 'add_score', amount: 1 }],
    });
    await api('PATCH', `/api/rules/${selfId}`, { conditions: { contactHasTag: 'loop-pair' } });
    const pair = await contact(`pair-${dialect}@customer.test`, { tags: ['loop-pair'] });
    expect((await api('PATCH', `/api/contacts/${pair}`, { score: 5 })).status).toBe(200);
    await runAutomationOnce(testApp.current.container);
    // The person's change (depth 0) runs both rules, and so do depths 1 and 2: six points in all.
    expect((await api('GET', `/api/contacts/${pair}`)).body.score).toBe(11);
    await runAutomationOnce(testApp.current.container);
    expect((await api('GET', `/api/contacts/${pair}`)).body.score).toBe(11);
    for (const ruleId of [selfId, otherId]) await api('DELETE', `/api/rules/${ruleId}`);
  });

  it('runs only where every condition holds, and logs the others as skipped', async () => {
    const vip = await contact(`vip-${dialect}@big.customer.test`, { tags: ['vip'], score: 50 });
    const plain = await contact(`plain-${dialect}@customer.test`, { score: 50 });
    const low = await contact(`low-${dialect}@big.customer.test`, { tags: ['vip'], score: 5 });
    const ruleId = await createRule({
      name: 'VIP went quiet',
      trigger: 'contact.tags_changed',
      conditions: { contactHasTag: 'vip', scoreAbove: 10, scoreBelow: 100 },
      actions: [{ type: 'add_tag', tag: 'call-back' }],
    });
    for (const id of [vip, plain, low]) {
      expect((await api('PATCH', `/api/contacts/${id}`, { tags: ['vip', 'newsletter'] })).status).toBe(200);
    }
    await runAutomationOnce(testApp.current.container);
    expect((await api('GET', `/api/contacts/${vip}`)).body.tags).toEqual(['call-back', 'newsletter', 'vip']);
    // "plain" has vip now too, and a score of 50: the rule holds for it as well.
    expect((await api('GET', `/api/contacts/${plain}`)).body.tags).toEqual([
      'call-back',
      'newsletter',
      'vip',
    ]);
    expect((await api('GET', `/api/contacts/${low}`)).body.tags).toEqual(['newsletter', 'vip']);
    const runs = (await api('GET', `/api/rules/${ruleId}/runs`)).body.items as Body[];
    // One run per person's change; the rule's own tagging does not run it again.
    expect(runs.map((run) => run.status).sort()).toEqual(['done', 'done', 'skipped']);
    expect(await eventsOf(vip)).toEqual(['contact.tags_changed', 'contact.tags_changed']);
    await api('DELETE', `/api/rules/${ruleId}`);
  });

  it('makes each run once when several workers read the events at the same time', async () => {
    const id = await contact(`race-${dialect}@customer.test`, { tags: ['race'] });
    const ruleId = await createRule({
      name: 'Count once',
      trigger: 'contact.tags_changed',
      conditions: { contactHasTag: 'raced' },
      actions: [{ type: 'add_score', amount: 7 }],
    });
    expect((await api('PATCH', `/api/contacts/${id}`, { tags: ['race', 'raced'] })).status).toBe(200);
    await Promise.all([1, 2, 3].map(() => runAutomationOnce(testApp.current.container)));
    expect((await api('GET', `/api/contacts/${id}`)).body.score).toBe(7);
    expect((await api('GET', `/api/rules/${ruleId}/runs`)).body.total).toBe(1);
    await api('DELETE', `/api/rules/${ruleId}`);
  });

  it('writes account events with who did it, and keeps the event log to admins (members read a contact’s timeline)', async () => {
    const created = await api('POST', '/api/accounts', {
      type: 'marketing',
      name: 'Promotions',
      email: `promo-${dialect}@shop.test`,
    });
    expect(created.status).toBe(201);
    expect((await api('POST', `/api/accounts/${created.body.id}/reject`, { reason: 'Not now' })).status).toBe(
      200,
    );
    const log = await api('GET', '/api/events?type=account.rejected');
    expect(log.body.items).toEqual([
      expect.objectContaining({
        type: 'account.rejected',
        actorId: admin.userId,
        accountId: created.body.id,
        data: expect.objectContaining({ status: 'rejected', rejectionReason: 'Not now' }),
      }),
    ]);
    const refused = await api('GET', '/api/events', undefined, owner);
    expect(refused.status).toBe(403);
  });

  it('refuses rules from members, and rules that name what is not in the organisation', async () => {
    const rule = {
      name: 'Alert',
      trigger: 'email.received',
      actions: [{ type: 'alert', to: 'contact_owner' }],
    };
    expect((await api('POST', '/api/rules', rule, owner)).status).toBe(403);
    const stranger = await signUp(testApp.current.container, { org: `Elsewhere ${dialect}`, role: 'admin' });
    const wrong = await api('POST', '/api/rules', {
      ...rule,
      actions: [{ type: 'alert', to: { userId: stranger.userId } }],
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.fields).toEqual({ 'actions.0.to.userId': expect.stringContaining('no user') });
    const notDomain = await api('POST', '/api/rules', {
      ...rule,
      conditions: { senderDomain: 'not a domain' },
    });
    expect(notDomain.body.error.fields).toEqual({
      'conditions.senderDomain': 'must be a domain name such as example.com',
    });
    const bad = await api('POST', '/api/rules', { ...rule, trigger: 'email.opened', actions: [] });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.error.fields ?? {})).toEqual(expect.arrayContaining(['trigger', 'actions']));
  });
  async function sinkAccount(
    name: string,
    port: number,
    scope: 'personal' | 'team' = 'team',
  ): Promise<string> {
    const created = await api('POST', '/api/accounts', {
      type: 'own',
      scope,
      name,
      email: `${name.toLowerCase().replaceAll(' ', '-')}-${dialect}@shop.test`,
      smtp: { host: '127.0.0.1', port, security: 'none', requiresAuth: false },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  it('announces sent and refused mail on each contact’s timeline, and rules act on it', async () => {
    const sales = await sinkAccount('Sales desk', mailPeers.ports.sink);
    const refusing = await sinkAccount('Refused desk', mailPeers.ports.deadSink);
    const first = await contact(`first-${dialect}@customer.test`);
    const second = await contact(`second-${dialect}@customer.test`);
    const gone = await contact(`gone-${dialect}@customer.test`);
    const ruleId = await createRule({
      name: 'Mark as contacted',
      trigger: 'email.sent',
      actions: [{ type: 'add_tag', tag: 'contacted' }],
    });
    const stranger = `stranger-${dialect}@elsewhere.test`;
    const sent = await api('POST', '/api/messages', {
      accountId: sales,
      to: [`first-${dialect}@customer.test`, `second-${dialect}@customer.test`, stranger],
      subject: 'Our offer',
      text: 'Here it is.',
    });
    const refused = await api('POST', '/api/messages', {
      accountId: refusing,
      to: [`gone-${dialect}@customer.test`],
      subject: 'Are you there?',
      text: 'Hello.',
    });
    expect([sent.status, refused.status]).toEqual([202, 202]);
    await sendDueMessages(testApp.current.container);
    await runAutomationOnce(testApp.current.container);

    for (const id of [first, second]) {
      expect(await eventsOf(id)).toEqual(['email.sent', 'contact.tags_changed']);
      expect((await api('GET', `/api/contacts/${id}`)).body.tags).toEqual(['contacted']);
    }
    const announced = (await api('GET', '/api/events?type=email.sent')).body.items as Body[];
    const ofMessage = announced.filter((event) => event.messageId === sent.body.id);
    expect(ofMessage.map((event) => [event.contactId, event.data.recipients])).toEqual([
      [first, [`first-${dialect}@customer.test`]],
      [second, [`second-${dialect}@customer.test`]],
      [null, [stranger]],
    ]);
    expect(ofMessage[0]).toMatchObject({
      accountId: sales,
      data: { subject: 'Our offer', reply: { code: 250 }, errorCode: null },
    });
    // The rule ran for both contacts and for the stranger, whom it could not tag.
    const runs = (await api('GET', `/api/rules/${ruleId}/runs`)).body.items as Body[];
    expect(runs.map((run) => run.actions[0].status).sort()).toEqual(['done', 'done', 'skipped']);

    expect(await eventsOf(gone)).toEqual(['email.bounced', 'contact.faulty', 'email.failed']);
    const [failed] = (await api('GET', `/api/events?type=email.failed&contactId=${gone}`)).body
      .items as Body[];
    expect(failed).toMatchObject({
      messageId: refused.body.id,
      data: { errorCode: 'SMTP_ALL_RECIPIENTS_REJECTED', reply: { code: 550, enhanced: '5.1.1' } },
    });
    await api('DELETE', `/api/rules/${ruleId}`);
  });

  it('emails alerts from the organisation’s notification account, once an admin has chosen one', async () => {
    const personal = await sinkAccount('My own', mailPeers.ports.sink, 'personal');
    const refused = await api('PATCH', '/api/organisation/settings', { notificationAccountId: personal });
    expect(refused.status).toBe(400);
    expect(refused.body.error.fields).toEqual({ notificationAccountId: expect.stringContaining('team') });
    const byMember = await api('PATCH', '/api/organisation/settings', { notificationAccountId: null }, owner);
    expect(byMember.status).toBe(403);

    const alerts = await sinkAccount('Alerts', mailPeers.ports.sink);
    const chosen = await api('PATCH', '/api/organisation/settings', { notificationAccountId: alerts });
    expect(chosen.status, JSON.stringify(chosen.body)).toBe(200);
    expect(chosen.body.notificationAccountId).toBe(alerts);

    const id = await contact(`warm-${dialect}@customer.test`, { ownerId: owner.userId, tags: ['warm'] });
    const ruleId = await createRule({
      name: 'Warm lead scored',
      trigger: 'contact.score_changed',
      conditions: { contactHasTag: 'warm' },
      actions: [{ type: 'alert', to: 'contact_owner', message: 'Your warm lead moved.' }],
    });
    expect((await api('PATCH', `/api/contacts/${id}`, { score: 30 })).status).toBe(200);
    await runAutomationOnce(testApp.current.container);

    const [run] = (await api('GET', `/api/rules/${ruleId}/runs`)).body.items as Body[];
    expect(run!.actions[0]).toMatchObject({ status: 'done', detail: 'alerted 1 user; emailed 1' });
    const queued = (await api('GET', `/api/messages?direction=out&accountId=${alerts}`)).body.items as Body[];
    expect(queued).toEqual([
      expect.objectContaining({
        subject: 'Warm lead scored',
        text: expect.stringContaining('Your warm lead moved.'),
        recipients: [expect.objectContaining({ address: owner.email })],
      }),
    ]);
    await sendDueMessages(testApp.current.container);
    expect((await api('GET', `/api/messages/${queued[0]!.id}`)).body.status).toBe('sent');
    expect((await api('GET', '/api/notifications?unread=true', undefined, owner)).body.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ body: 'Your warm lead moved.', contactId: id })]),
    );

    // An account that cannot send does not hold the alert back; the run says why no email went.
    expect((await api('POST', `/api/accounts/${alerts}/disable`)).status).toBe(200);
    expect((await api('PATCH', `/api/contacts/${id}`, { score: 40 })).status).toBe(200);
    await runAutomationOnce(testApp.current.container);
    const latest = ((await api('GET', `/api/rules/${ruleId}/runs`)).body.items as Body[]).find(
      (candidate) => candidate.id !== run!.id,
    );
    expect(latest!.actions[0]).toMatchObject({
      status: 'done',
      detail: expect.stringMatching(/^alerted 1 user; no email: /),
    });
    await api('PATCH', '/api/organisation/settings', { notificationAccountId: null });
    await api('DELETE', `/api/rules/${ruleId}`);
  });
  it('retries a failing action with backoff, without doing the done ones again or holding back other rules', async () => {
    const eventIds: string[] = [];
    const receiver = http.createServer((req, res) => {
      eventIds.push(String(req.headers['mailroom-event-id']));
      req.resume().on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = await api('POST', '/api/webhooks', {
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        eventTypes: ['account.rejected'],
      });
      expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
      const endpointId = endpoint.body.id as string;
      expect((await api('PATCH', `/api/webhooks/${endpointId}`, { enabled: false })).status).toBe(200);
      const failing = await createRule({
        name: 'Score and tell the CRM',
        trigger: 'contact.tags_changed',
        conditions: { contactHasTag: 'retry-me' },
        actions: [
          { type: 'add_score', amount: 5 },
          { type: 'webhook', endpointId },
        ],
      });
      const other = await createRule({
        name: 'Tell the admin',
        trigger: 'contact.tags_changed',
        conditions: { contactHasTag: 'retry-me' },
        actions: [{ type: 'alert', to: { userId: admin.userId }, message: 'Retry me was tagged.' }],
      });
      const id = await contact(`retry-${dialect}@customer.test`);
      expect((await api('PATCH', `/api/contacts/${id}`, { tags: ['retry-me'] })).status).toBe(200);
      await runAutomationOnce(testApp.current.container);

      const [run] = (await api('GET', `/api/rules/${failing}/runs`)).body.items as Body[];
      expect(run).toMatchObject({
        status: 'pending',
        attempts: 1,
        actions: [
          { type: 'add_score', status: 'done', detail: 'score 0 → 5' },
          { type: 'webhook', status: 'failed', detail: `webhook endpoint ${endpointId} is turned off` },
        ],
      });
      const wait = Date.parse(run!.nextAttemptAt) - testApp.current.clock.now().getTime();
      expect(wait).toBeGreaterThanOrEqual(15_000);
      expect(wait).toBeLessThanOrEqual(30_000);
      expect((await api('GET', `/api/rules/${other}/runs`)).body.items).toEqual([
        expect.objectContaining({ status: 'done' }),
      ]);
      expect((await api('GET', `/api/contacts/${id}`)).body.score).toBe(5);
      expect((await api('GET', '/api/notifications?unread=true')).body.items).toEqual(
        expect.arrayContaining([expect.objectContaining({ body: 'Retry me was tagged.', contactId: id })]),
      );

      // Not due yet: nothing is tried again.
      await runAutomationOnce(testApp.current.container);
      expect((await api('GET', `/api/rules/${failing}/runs`)).body.items[0].attempts).toBe(1);

      expect((await api('PATCH', `/api/webhooks/${endpointId}`, { enabled: true })).status).toBe(200);
      testApp.current.clock.advance(wait);
      await runAutomationOnce(testApp.current.container);
      expect((await api('GET', `/api/rules/${failing}/runs`)).body.items[0]).toMatchObject({
        status: 'done',
        attempts: 2,
        actions: [
          { status: 'done', detail: 'score 0 → 5' },
          { status: 'done', detail: `queued for webhook ${endpointId}` },
        ],
      });
      expect((await api('GET', `/api/contacts/${id}`)).body.score).toBe(5);
      await runWebhooksOnce(testApp.current.container);
      const [tagged] = (await api('GET', `/api/events?type=contact.tags_changed&contactId=${id}`)).body
        .items as Body[];
      expect(eventIds).toEqual([tagged!.id]);
      for (const ruleId of [failing, other]) await api('DELETE', `/api/rules/${ruleId}`);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});
