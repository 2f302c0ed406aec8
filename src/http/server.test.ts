import { describe, expect, it } from 'vitest';
import { request, signUp, useTestApp } from '../../test/support/app.ts';
import { testDialects } from '../../test/support/dialects.ts';

describe.each(testDialects)('the HTTP server on %s', (dialect) => {
  const testApp = useTestApp(dialect);

  it('serves the OpenAPI document publicly, describing every route and both ways to authenticate', async () => {
    const response = await request<{
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
      components: { securitySchemes: Record<string, unknown> };
    }>(testApp.current.baseUrl, 'GET', '/api/openapi.json');
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(Object.keys(response.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/auth/login',
        '/api/auth/logout',
        '/api/me',
        '/api/users',
        '/api/users/{id}',
        '/api/teams',
        '/api/teams/{id}',
        '/api/tokens',
        '/api/tokens/{id}',
        '/api/health',
      ]),
    );
    expect(response.body.paths['/api/openapi.json']).toBeUndefined();
    expect(Object.keys(response.body.components.securitySchemes).sort()).toEqual(['bearer', 'session']);
    expect(JSON.stringify(response.body.paths['/api/users']!.post!.requestBody)).toContain(
      '"additionalProperties":false',
    );
    const patch = response.body.paths['/api/accounts/{id}']!.patch!.requestBody as { content: object };
    expect(Object.keys(patch.content).sort()).toEqual(['application/json', 'application/merge-patch+json']);
  });

  it('reports health without credentials', async () => {
    const response = await request(testApp.current.baseUrl, 'GET', '/api/health');
    expect(response).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('answers unknown routes, bad JSON and other media types in the error shape', async () => {
    const { baseUrl, container } = testApp.current;
    const user = await signUp(container, { org: 'Server Org' });
    const missing = await request(baseUrl, 'GET', '/api/nothing-here?x=1', { token: user.token });
    expect(missing).toMatchObject({
      status: 404,
      body: { error: { code: 'ROUTE_NOT_FOUND', message: 'No route GET /api/nothing-here.' } },
    });

    const broken = await request(baseUrl, 'POST', '/api/teams', {
      token: user.token,
      rawBody: { contentType: 'application/json', text: '{"name": "Sales",' },
    });
    expect(broken).toMatchObject({ status: 400, body: { error: { code: 'INVALID_JSON' } } });

    const text = await request(baseUrl, 'POST', '/api/teams', {
      token: user.token,
      rawBody: { contentType: 'text/plain', text: 'name=Sales' },
    });
    expect(text).toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });

    const notAnObject = await request(baseUrl, 'POST', '/api/teams', { token: user.token, body: ['Sales'] });
    expect(notAnObject).toMatchObject({
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', fields: { body: 'must be object' } } },
    });
  });
});
