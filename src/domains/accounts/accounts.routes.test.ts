import { beforeAll, describe, expect, it } from 'vitest';
import { createContainer } from '../../container.ts';
import { loadConfig } from '../../config.ts';
import { createLogger } from '../../logger.ts';
import {
  request,
  signUp,
  useTestApp,
  type RequestOptions,
  type SignedIn,
} from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SMTP_PASSWORD = 'smtp-Pa55word-never-shown';
const IMAP_PASSWORD = 'imap-Pa55word-never-shown';
const PROXY_PASSWORD = 'proxy-Pa55word-never-shown';
const secrets = [SMTP_PASSWORD, IMAP_PASSWORD, PROXY_PASSWORD];

function ownAccount(overrides: Body = {}): Body {
  return {
    type: 'own',
    name: 'Sales desk',
    email: 'sales@acme.test',
    displayName: 'Acme Sales',
    smtp: { host: 'smtp.acme.test', security: 'starttls', username: 'sales', password: SMTP_PASSWORD },
    incoming: { protocol: 'imap', host: 'imap.acme.test', username: 'sales', password: IMAP_PASSWORD },
    ...overrides,
  };
}

function marketingAccount(overrides: Body = {}): Body {
  return {
    type: 'marketing',
    name: 'Newsletter',
    email: 'news@acme.test',
    displayName: 'Acme News',
    ...overrides,
  };
}

describe.each(testDialects)('email accounts on %s', (dialect) => {
  const testApp = useTestApp(dialect);
  /** Every response body of the run, to prove no password ever comes back. */
  const responses: string[] = [];
  let admin: SignedIn;
  let alice: SignedIn;
  let bob: SignedIn;
  let outsider: SignedIn;

  async function call(
    method: string,
    path: string,
    as: SignedIn | null,
    body?: unknown,
    options: RequestOptions = {},
  ) {
    const response = await request<Body>(testApp.current.baseUrl, method, path, {
      ...(as && { token: as.token }),
      ...(body !== undefined && { body }),
      ...options,
    });
    responses.push(JSON.stringify(response.body));
    return response;
  }

  async function create(as: SignedIn, body: Body): Promise<Body> {
    const response = await call('POST', '/api/accounts', as, body);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body;
  }

  beforeAll(async () => {
    const { container } = testApp.current;
    admin = await signUp(container, { org: 'Acme' });
    alice = await signUp(container, { org: 'Acme' });
    bob = await signUp(container, { org: 'Acme' });
    outsider = await signUp(container, { org: 'Globex' });
  });

  describe('creating', () => {
    it('creates an own account, active, with the ports in effect and passwords write-only', async () => {
      const account = await create(alice, ownAccount());
      expect(account).toMatchObject({
        type: 'own',
        scope: 'personal',
        status: 'active',
        owner: { id: alice.userId },
        smtp: {
          host: 'smtp.acme.test',
          port: 587,
          security: 'starttls',
          requiresAuth: true,
          hasPassword: true,
        },
        incoming: {
          protocol: 'imap',
          port: 993,
          security: 'tls',
          hasPassword: true,
          rememberPassword: true,
          leaveOnServer: true,
          removeAfterDays: null,
          folders: ['INBOX'],
        },
        options: { markIncomingPrivate: false, markOutgoingPrivate: false },
        health: { outgoing: { state: 'unknown', lastError: null, lastOkAt: null } },
      });
      expect(account.smtp).not.toHaveProperty('password');
      expect(account.incoming).not.toHaveProperty('password');
    });

    it('gives each security its default port: SMTP 25/587/465, POP3 110/995, IMAP 143/993', async () => {
      const ports = async (smtpSecurity: string, protocol: string, incomingSecurity: string) => {
        const account = await create(
          alice,
          ownAccount({
            smtp: { host: 'smtp.acme.test', security: smtpSecurity, requiresAuth: false },
            incoming: { protocol, host: 'in.acme.test', username: 'u', security: incomingSecurity },
          }),
        );
        return [account.smtp.port, account.incoming.port];
      };
      expect(await ports('none', 'pop3', 'none')).toEqual([25, 110]);
      expect(await ports('tls', 'pop3', 'tls')).toEqual([465, 995]);
      expect(await ports('starttls', 'imap', 'starttls')).toEqual([587, 143]);
    });

    it('starts a marketing account pending approval, with no SMTP block allowed', async () => {
      const account = await create(alice, marketingAccount());
      expect(account).toMatchObject({
        type: 'marketing',
        status: 'pending_approval',
        smtp: null,
        isDefault: false,
      });

      const withSmtp = await call(
        'POST',
        '/api/accounts',
        alice,
        marketingAccount({ smtp: { host: 'smtp.acme.test' } }),
      );
      expect(withSmtp.status).toBe(400);
      expect(withSmtp.body.error.fields).toEqual({
        smtp: 'must be left out: a marketing account sends through the platform relay',
      });
    });

    it('treats an empty string in an optional field as not set', async () => {
      const account = await create(alice, ownAccount({ replyTo: '', replyToName: '', organization: '' }));
      expect(account).toMatchObject({ replyTo: null, replyToName: null, organization: null });
    });

    it('accepts internationalised addresses and ISO dates for syncSince', async () => {
      const account = await create(
        alice,
        ownAccount({
          email: 'jörg@bücher.example',
          replyTo: '用户@例子.广告',
          incoming: { protocol: 'imap', host: 'imap.acme.test', username: 'j', syncSince: '2026-01-31' },
        }),
      );
      expect(account).toMatchObject({ email: 'jörg@bücher.example', incoming: { syncSince: '2026-01-31' } });
    });
  });

  describe('refusing bad input', () => {
    it('names every bad field at once and stores nothing', async () => {
      const before = (await call('GET', '/api/accounts', alice)).body.total;
      const response = await call('POST', '/api/accounts', alice, {
        ...ownAccount(),
        email: 'Sales <sales@acme.test>',
        displayName: 'Acme\r\nBcc: everyone@acme.test',
        replyTo: 'not an address',
        fromNameTemplate: '{{contact.phone}} at Acme',
        smtp: { host: 'smtp.acme.test', port: 70000, security: 'ssl', timeoutMs: 10, username: 's' },
        incoming: { protocol: 'imap', host: 'imap.acme.test', username: 'u', syncSince: 'last tuesday' },
        colour: 'blue',
      });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      expect(response.body.error.fields).toEqual({
        email: 'must be an email address such as name@example.com, without a display name',
        displayName: 'must not contain line breaks or other control characters',
        replyTo: 'must be an email address such as name@example.com, without a display name',
        fromNameTemplate: expect.stringContaining('unknown or unclosed placeholder'),
        'smtp.port': 'must be <= 65535',
        'smtp.security': 'must be one of "none", "starttls", "tls"',
        'smtp.timeoutMs': 'must be >= 1000',
        'incoming.syncSince': expect.stringContaining('ISO-8601'),
        colour: 'is not an allowed field',
      });
      expect((await call('GET', '/api/accounts', alice)).body.total).toBe(before);
    });

    it.each([
      [
        'implicit TLS on a STARTTLS port',
        { smtp: { host: 'smtp.acme.test', port: 587, security: 'tls', username: 's' } },
        'smtp.port',
        'port 587 does not speak TLS on connect',
      ],
      [
        'STARTTLS on port 465',
        { smtp: { host: 'smtp.acme.test', port: 465, security: 'starttls', username: 's' } },
        'smtp.port',
        'port 465 expects TLS on connect',
      ],
      [
        'an IMAP port for SMTP',
        { smtp: { host: 'smtp.acme.test', port: 993, security: 'tls', username: 's' } },
        'smtp.port',
        '993 is a IMAP port',
      ],
      [
        'a POP3 port for IMAP',
        { incoming: { protocol: 'imap', host: 'in.acme.test', port: 995, username: 'u' } },
        'incoming.port',
        '995 is a POP3 port',
      ],
      [
        'JMAP without a url',
        { incoming: { protocol: 'jmap', username: 'u' } },
        'incoming.url',
        'is required for JMAP',
      ],
      [
        'JMAP over https with no security',
        {
          incoming: { protocol: 'jmap', url: 'https://jmap.acme.test/jmap', username: 'u', security: 'none' },
        },
        'incoming.security',
        'must match the url',
      ],
      [
        'JMAP with both a url and a host',
        {
          incoming: {
            protocol: 'jmap',
            url: 'https://jmap.acme.test/jmap',
            host: 'jmap.acme.test',
            username: 'u',
          },
        },
        'incoming.host',
        'a url or a host, not both',
      ],
      [
        'an access token for IMAP',
        { incoming: { protocol: 'imap', host: 'in.acme.test', username: 'u', authMethod: 'token' } },
        'incoming.authMethod',
        'an access token is for JMAP',
      ],
      [
        'folders on POP3',
        { incoming: { protocol: 'pop3', host: 'in.acme.test', username: 'u', folders: ['Sent'] } },
        'incoming.folders',
        'POP3 has only the inbox',
      ],
      [
        'not leaving IMAP mail on the server',
        { incoming: { protocol: 'imap', host: 'in.acme.test', username: 'u', leaveOnServer: false } },
        'incoming.leaveOnServer',
        'IMAP and JMAP always leave mail on the server',
      ],
      [
        'removing after days when no copy is left',
        {
          incoming: {
            protocol: 'pop3',
            host: 'in.acme.test',
            username: 'u',
            leaveOnServer: false,
            removeAfterDays: 7,
          },
        },
        'incoming.removeAfterDays',
        'only applies when a copy is left on the server',
      ],
      [
        'authentication without a user name',
        { smtp: { host: 'smtp.acme.test', requiresAuth: true } },
        'smtp.username',
        'is required when the outgoing server requires authentication',
      ],
      [
        'borrowing incoming credentials that do not exist',
        { smtp: { host: 'smtp.acme.test', useIncomingCredentials: true }, incoming: { protocol: 'none' } },
        'smtp.useIncomingCredentials',
        'needs an incoming server',
      ],
    ])('refuses %s', async (_name, change, field, message) => {
      const response = await call('POST', '/api/accounts', alice, ownAccount(change));
      expect(response.status).toBe(400);
      expect(response.body.error.fields[field]).toContain(message);
    });

    it('refuses a null where a value is required, never coercing it', async () => {
      const response = await call(
        'POST',
        '/api/accounts',
        alice,
        ownAccount({ name: null, smtp: { host: 'h', port: '587' } }),
      );
      expect(response.status).toBe(400);
      expect(response.body.error.fields).toMatchObject({
        name: 'must be string',
        'smtp.port': expect.stringMatching(/integer/),
      });
    });
  });

  describe('changing (JSON Merge Patch)', () => {
    it('merges nested objects, keeps passwords left out, and resets fields sent as null', async () => {
      const account = await create(alice, ownAccount({ replyTo: 'replies@acme.test' }));
      const patched = await call('PATCH', `/api/accounts/${account.id}`, alice, {
        smtp: { security: 'tls', timeoutMs: 60000 },
        replyTo: null,
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({
        replyTo: null,
        smtp: {
          host: 'smtp.acme.test',
          username: 'sales',
          security: 'tls',
          port: 465,
          timeoutMs: 60000,
          hasPassword: true,
        },
        incoming: { hasPassword: true },
      });

      const reset = await call(
        'PATCH',
        `/api/accounts/${account.id}`,
        alice,
        { smtp: { security: null, timeoutMs: null, password: null } },
        {
          rawBody: {
            contentType: 'application/merge-patch+json',
            text: JSON.stringify({ smtp: { security: null, timeoutMs: null, password: null } }),
          },
        },
      );
      expect(reset.status).toBe(200);
      expect(reset.body.smtp).toMatchObject({
        security: 'starttls',
        port: 587,
        timeoutMs: 30000,
        hasPassword: false,
      });
      expect(reset.body.health.outgoing.state).toBe('password_required');
    });

    it('refuses to change the type, and checks the merged result like a new account', async () => {
      const account = await create(alice, ownAccount());
      const retype = await call('PATCH', `/api/accounts/${account.id}`, alice, { type: 'marketing' });
      expect(retype.status).toBe(400);
      expect(retype.body.error.fields).toEqual({ type: 'is own and cannot change' });

      const broken = await call('PATCH', `/api/accounts/${account.id}`, alice, {
        smtp: { port: 465 },
        email: 'nope',
      });
      expect(broken.status).toBe(400);
      expect(Object.keys(broken.body.error.fields)).toEqual(['email']);
      const combo = await call('PATCH', `/api/accounts/${account.id}`, alice, { smtp: { port: 465 } });
      expect(combo.body.error.fields).toEqual({
        'smtp.port': expect.stringContaining('expects TLS on connect'),
      });
      expect((await call('GET', `/api/accounts/${account.id}`, alice)).body.smtp.port).toBe(587);

      const marketing = await create(alice, marketingAccount());
      const addSmtp = await call('PATCH', `/api/accounts/${marketing.id}`, alice, {
        smtp: { host: 'smtp.acme.test' },
      });
      expect(addSmtp.body.error.fields).toHaveProperty('smtp');
    });
  });

  describe('passwords held in memory only', () => {
    it('asks for them again after a restart, and takes them through PUT /password', async () => {
      const { database, container } = testApp.current;
      const account = await create(
        alice,
        ownAccount({
          incoming: {
            protocol: 'imap',
            host: 'imap.acme.test',
            username: 'sales',
            password: IMAP_PASSWORD,
            rememberPassword: false,
          },
        }),
      );
      expect(account.health.incoming.state).toBe('unknown');
      expect(account.incoming.hasPassword).toBe(true);
      const row = await database.db
        .selectFrom('accounts')
        .select(['secrets', 'secret_kinds'])
        .where('id', '=', account.id)
        .executeTakeFirstOrThrow();
      expect(row.secret_kinds).toBe('');
      expect(row.secrets).toBeNull();

      // A second process on the same database, as after a restart: it never saw the passwords.
      // (It keeps those given to it below; this process sees that another worker has them.)
      const restarted = await createContainer(loadConfig({ ...database.env, LOG_LEVEL: 'silent' }), {
        logger: createLogger('silent'),
      });
      try {
        // As it joins the workers, it finds the process that had the passwords gone.
        await restarted.services.fleet.turn();
        const actor = { userId: alice.userId, orgId: alice.orgId, role: 'member' as const };
        const seen = await restarted.services.accounts.get(actor, account.id);
        expect(seen.health).toMatchObject({
          outgoing: { state: 'password_required' },
          incoming: { state: 'password_required' },
        });
        const supplied = await restarted.services.accounts.supplyPasswords(actor, account.id, {
          smtp: SMTP_PASSWORD,
          incoming: IMAP_PASSWORD,
        });
        expect(supplied.health).toMatchObject({
          outgoing: { state: 'unknown' },
          incoming: { state: 'unknown' },
        });
      } finally {
        await restarted.close();
      }
      expect((await call('GET', `/api/accounts/${account.id}`, alice)).body.health.incoming.state).toBe(
        'unknown',
      );
      expect(container).toBeDefined();
    });

    it('stores remembered passwords encrypted, never as written', async () => {
      const account = await create(alice, ownAccount());
      const { secrets: stored } = await testApp.current.database.db
        .selectFrom('accounts')
        .select('secrets')
        .where('id', '=', account.id)
        .executeTakeFirstOrThrow();
      expect(stored).toMatch(/^v1\./);
      for (const secret of secrets) expect(stored).not.toContain(secret);
    });

    it('refuses a password for a server the account does not have', async () => {
      const account = await create(alice, ownAccount({ incoming: { protocol: 'none' } }));
      const response = await call('PUT', `/api/accounts/${account.id}/password`, alice, {
        incoming: 'x-password',
      });
      expect(response.status).toBe(400);
      expect(response.body.error.fields).toEqual({ incoming: 'this account reads no incoming mail' });
    });
  });

  describe('approval', () => {
    it('lets only an admin approve or reject a marketing account, with the reason shown', async () => {
      const account = await create(bob, marketingAccount({ email: 'promo@acme.test' }));
      expect((await call('POST', `/api/accounts/${account.id}/approve`, bob)).status).toBe(403);

      const rejected = await call('POST', `/api/accounts/${account.id}/reject`, admin, {
        reason: 'Use the brand domain',
      });
      expect(rejected.body).toMatchObject({ status: 'rejected', rejectionReason: 'Use the brand domain' });
      const blocked = await call('POST', `/api/accounts/${account.id}/default`, bob);
      expect(blocked.status).toBe(409);
      expect(blocked.body.error).toMatchObject({
        code: 'ACCOUNT_NOT_ACTIVE',
        message: expect.stringContaining('an admin rejected it: Use the brand domain'),
      });

      const approved = await call('POST', `/api/accounts/${account.id}/approve`, admin);
      expect(approved.body).toMatchObject({ status: 'active', rejectionReason: null });
      expect((await call('POST', `/api/accounts/${account.id}/approve`, admin)).body.error.code).toBe(
        'ACCOUNT_STATE_CONFLICT',
      );
      const own = await create(bob, ownAccount());
      expect((await call('POST', `/api/accounts/${own.id}/approve`, admin)).body.error.code).toBe(
        'NOT_A_MARKETING_ACCOUNT',
      );
    });

    it('says why a pending account cannot be used to send', async () => {
      const account = await create(bob, marketingAccount({ email: 'pending@acme.test' }));
      const response = await call('POST', `/api/accounts/${account.id}/default`, bob);
      expect(response.body.error.message).toContain('waiting for an admin to approve it');
    });

    it('disables and enables an account, back to where it was', async () => {
      const account = await create(bob, marketingAccount({ email: 'toggle@acme.test' }));
      expect((await call('POST', `/api/accounts/${account.id}/disable`, bob)).body.status).toBe('disabled');
      expect((await call('POST', `/api/accounts/${account.id}/enable`, bob)).body.status).toBe(
        'pending_approval',
      );
      await call('POST', `/api/accounts/${account.id}/approve`, admin);
      await call('POST', `/api/accounts/${account.id}/disable`, admin);
      expect((await call('POST', `/api/accounts/${account.id}/enable`, bob)).body.status).toBe('active');
    });
  });

  describe('the default account', () => {
    it('makes the first usable account the default, and promotes the most recently used on delete', async () => {
      const { container, database } = testApp.current;
      const carol = await signUp(container, { org: 'Acme' });
      const pending = await create(carol, marketingAccount({ email: 'carol-news@acme.test' }));
      expect(pending.isDefault).toBe(false);
      const first = await create(carol, ownAccount({ email: 'carol@acme.test' }));
      expect(first.isDefault).toBe(true);
      const second = await create(carol, ownAccount({ email: 'carol2@acme.test' }));
      const third = await create(carol, ownAccount({ email: 'carol3@acme.test' }));
      expect(second.isDefault).toBe(false);

      await database.db
        .updateTable('accounts')
        .set({ last_used_at: '2026-11-01T10:00:00.000Z' })
        .where('id', '=', second.id)
        .execute();
      await database.db
        .updateTable('accounts')
        .set({ last_used_at: '2026-11-20T10:00:00.000Z' })
        .where('id', '=', third.id)
        .execute();

      expect((await call('DELETE', `/api/accounts/${first.id}`, carol)).status).toBe(204);
      expect((await call('GET', `/api/accounts/${third.id}`, carol)).body.isDefault).toBe(true);

      expect((await call('POST', `/api/accounts/${second.id}/default`, carol)).body.isDefault).toBe(true);
      expect((await call('GET', `/api/accounts/${third.id}`, carol)).body.isDefault).toBe(false);
      await call('DELETE', `/api/accounts/${third.id}`, carol);
      await call('DELETE', `/api/accounts/${second.id}`, carol);
      const list = await call('GET', '/api/accounts', carol);
      expect(list.body.items.filter((item: Body) => item.isDefault)).toEqual([]);

      const approved = await call('POST', `/api/accounts/${pending.id}/approve`, admin);
      expect(approved.status).toBe(200);
      expect((await call('GET', `/api/accounts/${pending.id}`, carol)).body.isDefault).toBe(true);
      expect((await call('DELETE', `/api/accounts/${pending.id}/default`, carol)).status).toBe(204);
      expect((await call('GET', `/api/accounts/${pending.id}`, carol)).body.isDefault).toBe(false);
    });
  });

  describe('the access matrix', () => {
    type Who = 'owner' | 'member' | 'admin' | 'outsider' | 'anonymous';
    const everyone: Who[] = ['owner', 'member', 'admin', 'outsider', 'anonymous'];
    const as = (who: Who): SignedIn | null =>
      ({ owner: alice, member: bob, admin, outsider, anonymous: null })[who];

    const expectations: Record<'personal' | 'team', Record<string, Record<Who, number>>> = {
      personal: {
        read: { owner: 200, member: 404, admin: 200, outsider: 404, anonymous: 401 },
        update: { owner: 200, member: 404, admin: 200, outsider: 404, anonymous: 401 },
        delete: { owner: 204, member: 404, admin: 204, outsider: 404, anonymous: 401 },
        approve: { owner: 403, member: 404, admin: 200, outsider: 404, anonymous: 401 },
        setDefault: { owner: 200, member: 404, admin: 403, outsider: 404, anonymous: 401 },
      },
      team: {
        read: { owner: 200, member: 200, admin: 200, outsider: 404, anonymous: 401 },
        update: { owner: 200, member: 403, admin: 200, outsider: 404, anonymous: 401 },
        delete: { owner: 204, member: 403, admin: 204, outsider: 404, anonymous: 401 },
        approve: { owner: 403, member: 403, admin: 200, outsider: 404, anonymous: 401 },
        setDefault: { owner: 200, member: 200, admin: 200, outsider: 404, anonymous: 401 },
      },
    };

    for (const scope of ['personal', 'team'] as const) {
      for (const [action, statuses] of Object.entries(expectations[scope])) {
        it.each(everyone)(`${scope} account, ${action}, as %s`, async (who) => {
          const body = action === 'approve' ? marketingAccount({ scope }) : ownAccount({ scope });
          const account = await create(alice, body);
          const id = account.id as string;
          const requests: Record<string, [string, string, unknown?]> = {
            read: ['GET', `/api/accounts/${id}`],
            update: ['PATCH', `/api/accounts/${id}`, { displayName: 'Changed' }],
            delete: ['DELETE', `/api/accounts/${id}`],
            approve: ['POST', `/api/accounts/${id}/approve`],
            setDefault: ['POST', `/api/accounts/${id}/default`],
          };
          const [method, path, payload] = requests[action]!;
          const response = await call(method, path, as(who), payload);
          expect(response.status, JSON.stringify(response.body)).toBe(statuses[who]);
          const survives = await call('GET', `/api/accounts/${id}`, alice);
          expect(survives.status).toBe(action === 'delete' && statuses[who] === 204 ? 404 : 200);
        });
      }
    }
  });

  describe('the account list', () => {
    let dave: SignedIn;
    beforeAll(async () => {
      dave = await signUp(testApp.current.container, { org: 'Listing' });
      const names = ['Straße Team', 'ÖMER Sales', 'Support Desk', 'Billing 100%', 'Über_Alles'];
      for (const [index, name] of names.entries()) {
        await create(
          dave,
          ownAccount({ name, email: `box${index}@listing.test`, scope: index % 2 ? 'team' : 'personal' }),
        );
      }
      await create(dave, marketingAccount({ name: 'Newsletter', email: 'news@listing.test' }));
    });

    const names = (body: Body) => body.items.map((item: Body) => item.name);

    it('searches name and address, case-insensitively, as substrings, with Unicode case folding', async () => {
      expect(names((await call('GET', '/api/accounts?q=STRASSE', dave)).body)).toEqual(['Straße Team']);
      expect(names((await call('GET', '/api/accounts?q=ömer', dave)).body)).toEqual(['ÖMER Sales']);
      expect(names((await call('GET', '/api/accounts?q=esk', dave)).body)).toEqual(['Support Desk']);
      expect(names((await call('GET', '/api/accounts?q=BOX3%40LISTING', dave)).body)).toEqual([
        'Billing 100%',
      ]);
      expect(names((await call('GET', '/api/accounts?q=100%25', dave)).body)).toEqual(['Billing 100%']);
      expect(names((await call('GET', '/api/accounts?q=r_a', dave)).body)).toEqual(['Über_Alles']);
      expect((await call('GET', '/api/accounts?q=nothing-like-it', dave)).body).toEqual({
        items: [],
        total: 0,
      });
    });

    it('filters by type, scope and status, and pages up to 500 rows', async () => {
      expect(names((await call('GET', '/api/accounts?type=marketing', dave)).body)).toEqual(['Newsletter']);
      expect((await call('GET', '/api/accounts?type=own', dave)).body.total).toBe(5);
      expect((await call('GET', '/api/accounts?scope=team', dave)).body.total).toBe(2);
      expect((await call('GET', '/api/accounts?status=pending_approval', dave)).body.total).toBe(1);
      const page = await call('GET', '/api/accounts?pageSize=2&page=2', dave);
      expect(page.body).toMatchObject({ total: 6 });
      expect(page.body.items).toHaveLength(2);
      expect((await call('GET', '/api/accounts?pageSize=500', dave)).status).toBe(200);
      expect((await call('GET', '/api/accounts?pageSize=501&type=other', dave)).body.error.fields).toEqual({
        pageSize: 'must be <= 500',
        type: 'must be one of "all", "own", "marketing"',
      });
    });

    it('gives each row the list columns, without settings', async () => {
      const row = (await call('GET', '/api/accounts?q=support', dave)).body.items[0];
      expect(Object.keys(row).sort()).toEqual(
        [
          'createdAt',
          'email',
          'health',
          'id',
          'isDefault',
          'name',
          'owner',
          'scope',
          'status',
          'type',
        ].sort(),
      );
    });

    it('shows members their own and the team’s accounts, and admins everything with each user’s default', async () => {
      const memberView = await call('GET', '/api/accounts?pageSize=500', bob);
      for (const item of memberView.body.items)
        expect(item.scope === 'team' || item.owner.id === bob.userId).toBe(true);
      expect((await call('GET', '/api/admin/accounts', bob)).status).toBe(403);

      const adminView = await call('GET', '/api/admin/accounts?pageSize=500', admin);
      const aliceDefault = adminView.body.items.find((item: Body) =>
        item.defaultFor.some((user: Body) => user.id === alice.userId),
      );
      expect(aliceDefault).toBeDefined();
      expect(
        adminView.body.items.some(
          (item: Body) => item.scope === 'personal' && item.owner.id === alice.userId,
        ),
      ).toBe(true);
      expect(JSON.stringify(adminView.body)).not.toContain('listing.test');
    });
  });

  describe('the audit log', () => {
    it('records who changed which fields, never the values, for admins only', async () => {
      const account = await create(alice, ownAccount({ email: 'audited@acme.test' }));
      await call('PATCH', `/api/accounts/${account.id}`, alice, {
        displayName: 'Renamed',
        smtp: { password: SMTP_PASSWORD },
      });
      expect((await call('GET', '/api/audit', alice)).status).toBe(403);
      const log = await call('GET', `/api/audit?targetId=${account.id}`, admin);
      expect(log.body.items).toEqual([
        expect.objectContaining({
          action: 'account.updated',
          actorId: alice.userId,
          fields: ['displayName', 'smtp.password'],
        }),
        expect.objectContaining({
          action: 'account.created',
          fields: expect.arrayContaining(['email', 'smtp.host', 'smtp.password', 'incoming.password']),
        }),
      ]);
    });
  });

  it('never shows a password in any response or log line of the whole run', () => {
    const everything = [...responses, ...testApp.current.logs].join('\n');
    expect(responses.length).toBeGreaterThan(50);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});
