import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run web:build` writes the UI (vite's outDir). */
export const defaultWebRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));

const ONE_YEAR_SECONDS = 365 * 24 * 60 * 60;
const htmlHeaders = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

/**
 * The web UI at `/`: hashed assets under /assets with a year's cache, other files of the build as
 * they are, and index.html for every other GET that is not the API, so the UI's own routes
 * (/accounts, /admin) load it too. index.html is revalidated each time, so a new build shows at once.
 */
export async function webUiRoutes(app: FastifyInstance, { root }: { root: string }): Promise<void> {
  await app.register(fastifyStatic, { root, serve: false });

  const sendIndex = (reply: FastifyReply) => {
    if (!fs.existsSync(path.join(root, 'index.html'))) {
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The web UI is not built. Run `npm run web:build`, or start with `npm start`.\n');
    }
    return reply.headers(htmlHeaders).sendFile('index.html', { cacheControl: false });
  };

  const hidden = { config: { public: true }, schema: { hide: true } } as const;

  app.get<{ Params: { '*': string } }>('/assets/*', hidden, (request, reply) =>
    reply.sendFile(path.posix.join('assets', request.params['*']), {
      immutable: true,
      maxAge: ONE_YEAR_SECONDS * 1000,
    }),
  );

  app.get<{ Params: { '*': string } }>('/*', hidden, async (request, reply) => {
    const wanted = request.params['*'];
    if (wanted === 'api' || wanted.startsWith('api/')) return reply.callNotFound();
    // A file of the build's top level (favicon, robots.txt); anything deeper is the UI's own route.
    if (wanted !== '' && !wanted.includes('/') && wanted !== 'index.html') {
      const file = path.join(root, wanted);
      if (path.dirname(file) === root && fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
        return reply.sendFile(wanted, { maxAge: 60 * 60 * 1000 });
      }
      if (path.extname(wanted) !== '') return reply.callNotFound();
    }
    return sendIndex(reply);
  });
}
