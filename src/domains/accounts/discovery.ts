import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { discoverySources, probeVerdicts, type DiscoveryResult } from '../../mail/discovery/types.ts';
import { Nullable, StrictObject } from '../../schemas.ts';
import { CreateAccountBody, securities, type CreateAccountInput } from './accounts.ts';

const oneOf = <Values extends readonly string[]>(values: Values, description?: string) =>
  Type.Unsafe<Values[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });

/**
 * The request schema as plain JSON Schema without its formats: the response serializer knows
 * none of the custom ones (`mailbox`, `sender-template`…), which are checks on input anyway.
 */
function withoutFormats(schema: TSchema): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(schema, (key, value: unknown) => (key === 'format' ? undefined : value)),
  ) as Record<string, unknown>;
}

export const DiscoverBody = StrictObject(
  {
    email: Type.String({ minLength: 3, maxLength: 254, format: 'mailbox' }),
    password: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: 'write-only: used to try the login on each server found, never stored or returned',
      }),
    ),
  },
  { description: 'the address to find the servers of, and its password to try them with' },
);
export type DiscoverInput = Static<typeof DiscoverBody>;

const Source = oneOf(
  discoverySources,
  "autoconfig (autoconfig.<domain>), well-known (<domain>/.well-known/autoconfig), srv, ispdb, mx (the MX host's domain), guess (a common host name)",
);

const Step = StrictObject({
  step: Type.String(),
  ok: Type.Boolean(),
  ms: Type.Number(),
  reply: Nullable(Type.String({ description: "the server's own words; never a secret" })),
});

const CandidateSchema = StrictObject({
  direction: oneOf(['outgoing', 'incoming'] as const),
  protocol: oneOf(['smtp', 'imap', 'pop3', 'jmap'] as const),
  host: Type.String(),
  port: Type.Integer(),
  security: oneOf(securities),
  url: Nullable(Type.String({ description: 'JMAP: the session URL' })),
  username: Nullable(Type.String()),
  spa: Type.Boolean(),
  requiresAuth: Type.Boolean(),
  sources: Type.Array(
    StrictObject({ source: Source, via: Type.String(), note: Type.Optional(Type.String()) }),
    { description: 'every source that named this server (they may disagree with each other)' },
  ),
  result: oneOf(
    probeVerdicts,
    'login_ok, reachable (no login tried), login_failed, tls_failed, unreachable, timeout, refused (the address policy: never contacted), not_probed',
  ),
  reply: Nullable(
    Type.String({ description: "the server's words that decided the result, or what went wrong" }),
  ),
  steps: Type.Array(Step),
  ms: Type.Number(),
  rank: Type.Integer({ description: '1 is the best of its direction' }),
  chosen: Type.Boolean(),
});

const SourceReportSchema = StrictObject({
  source: Source,
  via: Type.String({ description: 'the URL fetched or the DNS names asked' }),
  outcome: oneOf(['found', 'nothing', 'failed', 'timeout', 'refused', 'skipped'] as const),
  detail: Type.String(),
  found: Type.Integer(),
  ms: Type.Number(),
});

export const DiscoverySchema = StrictObject({
  email: Type.String(),
  domain: Type.String(),
  settings: Type.Union([Type.Unsafe<CreateAccountInput>(withoutFormats(CreateAccountBody)), Type.Null()], {
    description:
      'an own account as POST /api/accounts takes it, every server setting filled; add the passwords ' +
      'before saving. Null when no outgoing server was found.',
  }),
  confidence: oneOf(
    ['high', 'medium', 'low', 'none'] as const,
    'high: the servers took the login (or, without a password, answered over verified TLS as the domain says); medium: found but not proven; low: nothing verified; none: nothing found',
  ),
  reasons: Type.Array(Type.String(), { description: 'why that confidence, in words' }),
  candidates: Type.Array(CandidateSchema, { description: 'every server found, best first, outgoing first' }),
  sources: Type.Array(SourceReportSchema),
  timedOut: Type.Boolean({ description: 'the deadline passed before every source and server answered' }),
  ms: Type.Number(),
});

/** A discovery whose settings are exactly what POST /api/accounts takes (the compiler checks it). */
export type AccountDiscovery = Omit<DiscoveryResult, 'settings'> & { settings: CreateAccountInput | null };
