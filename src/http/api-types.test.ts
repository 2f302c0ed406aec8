import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiTypesFile, readOpenApiDocument, renderApiTypes } from '../../scripts/web-types.ts';

describe('the web UI’s API types', () => {
  it('are generated from the OpenAPI document as it is now (else: npm run web:types)', async () => {
    const expected = await renderApiTypes(await readOpenApiDocument());
    const committed = fs.readFileSync(apiTypesFile, 'utf8');
    expect(committed === expected, 'web/src/api-types.ts is stale: run `npm run web:types`').toBe(true);
  }, 30_000);
});
