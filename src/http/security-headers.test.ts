/**
 * Security headers (@fastify/helmet) with a strict Content-Security-Policy on every response, and
 * CORS: off by default, on for the origins MAILROOM_CORS_ORIGINS names, never with credentials.
 */
import { describe, expect, it } from 'vitest';
import { request, signUp, useTestApp } from '../../test/support/app.ts';
import { testDialects } from '../../test/support/dialects.ts';
import { loadConfig } from '../config.ts';

function policyOf(headers: Headers): Map<string, string> {
  const policy = new Map<string, string>();
  for (const directive of (headers.get('content-security-policy') ?? '').split(';')) {
    const [name, ...values] = directive.trim().split(/\s+/);
    if (name) policy.set(name, values.join(' '));
  }
  return policy;
}

const allowed = 'https://crm.example.test';

describe.each(testDialects)('security headers on %s', (dialect) => {
  const testApp = useTestApp(dialect);

  it('sends helmet’s headers and a strict Content-Security-Policy on the API and the UI alike', async () => {
    const { baseUrl } = testApp.current;
    for (const path of ['/api/health', '/', '/accounts', '/api/nothing-here']) {
      // The UI's paths answer HTML (or, with no build, text): read the headers only.
      const { headers } = await fetch(`${baseUrl}${path}`);
      const policy = policyOf(headers);
      expect(policy.get('default-src'), path).toBe("'self'");
      expect(policy.get('script-src')).toBe("'self'");
      expect(policy.get('object-src')).toBe("'none'");
      expect(policy.get('frame-ancestors')).toBe("'none'");
      expect(policy.get('base-uri')).toBe("'self'");
      expect(policy.get('form-action')).toBe("'self'");
      expect(policy.get('connect-src')).toBe("'self'");
      // No inline or evaluated script anywhere in the policy.
      expect(headers.get('content-security-policy')).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline/);
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(headers.get('referrer-policy')).toBe('same-origin');
      expect(headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(headers.get('x-powered-by')).toBeNull();
    }
  });

  it('answers no CORS unless configured: no Access-Control-Allow-Origin, even for a preflight', async () => {
    const { baseUrl, container } = testApp.current;
    const user = await signUp(container, { org: 'Headers Org' });
    const get = await request(baseUrl, 'GET', '/api/me', { token: user.token, headers: { origin: allowed } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${baseUrl}/api/me`, {
      method: 'OPTIONS',
      headers: {
        origin: allowed,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
  });
});

describe.each(testDialects)('CORS when MAILROOM_CORS_ORIGINS is set, on %s', (dialect) => {
  const testApp = useTestApp(dialect, { MAILROOM_CORS_ORIGINS: `${allowed}, http://localhost:3000` });

  it('allows the configured origins, without credentials, and no other', async () => {
    const { baseUrl, container } = testApp.current;
    const user = await signUp(container, { org: 'Cors Org' });
    const preflight = await fetch(`${baseUrl}/api/messages`, {
      method: 'OPTIONS',
      headers: {
        origin: allowed,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();

    const get = await request(baseUrl, 'GET', '/api/me', { token: user.token, headers: { origin: allowed } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe(allowed);

    const local = await request(baseUrl, 'GET', '/api/health', {
      headers: { origin: 'http://localhost:3000' },
    });
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');

    const other = await request(baseUrl, 'GET', '/api/me', {
      token: user.token,
      headers: { origin: 'https://evil.example.test' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('MAILROOM_CORS_ORIGINS', () => {
  it('takes comma-separated origins, and refuses a path, a wildcard or another scheme', () => {
    expect(
      loadConfig({ MAILROOM_CORS_ORIGINS: 'https://A.example.test:8443/, http://localhost:3000' })
        .corsOrigins,
    ).toEqual(['https://a.example.test:8443', 'http://localhost:3000']);
    expect(loadConfig({}).corsOrigins).toBeUndefined();
    for (const bad of ['https://a.test/app', '*', 'ftp://a.test', 'a.test']) {
      expect(() => loadConfig({ MAILROOM_CORS_ORIGINS: bad }), bad).toThrow(/MAILROOM_CORS_ORIGINS/);
    }
  });
});
