/**
 * The built app (dist/) as every tool serves it: built when missing, rebuilt when any of its sources is
 * newer than the build, so a stale dist/ is never served (make's rule, on mtimes). A build takes ~2 s.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { build } from 'vite';

const REPO = path.resolve(import.meta.dirname, '..');
export const APP_DIR = path.join(REPO, 'dist');
/** What the build reads: the app, its config and plugins, and the installed packages. */
const SOURCES = ['index.html', 'vite.config.ts', 'package-lock.json', 'src', 'public', 'tools/vite'];

function newestMtime(p: string): number {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs; // a deleted file changes its folder's mtime
  for (const name of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, name)));
  return newest;
}

/** Why dist/ must be (re)built, or null when it is up to date. */
export function staleReason(repo = REPO): string | null {
  const built = newestMtime(path.join(repo, 'dist', 'index.html'));
  if (built === 0) return 'dist/ has not been built';
  for (const s of SOURCES)
    if (newestMtime(path.join(repo, s)) > built) return `${s} changed since the last build`;
  return null;
}

export async function ensureAppBuilt(log: (line: string) => void = () => {}): Promise<void> {
  const reason = staleReason();
  if (!reason) return;
  log(`building the app (${reason})…`);
  await build({ root: REPO, configFile: path.join(REPO, 'vite.config.ts'), logLevel: 'error' });
}
