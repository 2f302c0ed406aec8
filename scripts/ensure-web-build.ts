/**
 * Builds the web UI (web/dist) when it is missing or older than its sources, so that
 * `npm ci && npm start` serves the UI on a fresh machine and after a pull. Run by `npm start`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = fileURLToPath(new URL('../web', import.meta.url));
const builtIndex = path.join(webDir, 'dist', 'index.html');

/** The newest modification time among the files the build reads. */
export function newestSource(dir = webDir): number {
  const sources = [path.join(dir, 'index.html'), path.join(dir, 'vite.config.ts'), path.join(dir, 'src')];
  let newest = 0;
  const visit = (entry: string) => {
    const stat = fs.statSync(entry, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(entry)) visit(path.join(entry, name));
    } else {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  sources.forEach(visit);
  return newest;
}

export function webBuildIsStale(dir = webDir): boolean {
  const built = fs.statSync(path.join(dir, 'dist', 'index.html'), { throwIfNoEntry: false });
  return !built || built.mtimeMs < newestSource(dir);
}

async function main(): Promise<void> {
  if (!webBuildIsStale()) return;
  console.log(fs.existsSync(builtIndex) ? 'web UI sources changed: rebuilding' : 'building the web UI');
  const { build } = await import('vite');
  await build({ configFile: path.join(webDir, 'vite.config.ts') });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await main();
}
