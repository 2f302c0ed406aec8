import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';

/**
 * The Content-Security-Policy of every response, the UI's included. Scripts come only from this
 * origin (Vite's build has no inline script), nothing may frame the UI, and no plugin runs.
 * - `style-src 'unsafe-inline'`: Mantine writes its CSS variables into `<style>` elements at run time.
 *   A style cannot run script; `script-src` stays strict.
 * - `img-src … http: https:`: a received message's remote images, shown only when the person asks
 *   ("Show images"). They load in the message's sandboxed frame, which inherits this policy and
 *   narrows it with its own (web/src/mail-html.ts: `img-src data:` until then). The UI's own images
 *   are its files and `data:` URLs.
 */
export const contentSecurityPolicy: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:', 'blob:', 'http:', 'https:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/**
 * Security headers on every response (@fastify/helmet), and CORS only when MAILROOM_CORS_ORIGINS
 * names the origins allowed. CORS never carries credentials: a page on an allowed origin calls the
 * API with an API token, never with a person's session cookie.
 */
export async function registerSecurityHeaders(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
    // Tokens and sessions are for this origin only; nothing here is meant to be embedded elsewhere.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    // require-corp would block a message's remote images, which no mail sender marks for embedding.
    crossOriginEmbedderPolicy: false,
  });
  if (config.corsOrigins) {
    await app.register(fastifyCors, {
      origin: [...config.corsOrigins],
      credentials: false,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key'],
      exposedHeaders: ['retry-after'],
      maxAge: 600,
    });
  }
}
