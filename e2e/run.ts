/**
 * Runs the browser suite. WebRTC between Chromium pages needs a network interface with a default route;
 * where the machine has none to spare (CI, sandboxes) the suite runs inside ../shared/tools/netns-run,
 * a private namespace whose traffic never leaves it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '..');
const netns = path.resolve(repo, '../shared/tools/netns-run');
const vitest = [
  path.join(repo, 'node_modules/.bin/vitest'),
  'run',
  '--config',
  'e2e/vitest.config.ts',
  ...process.argv.slice(2),
];
const wrap =
  !process.env.CHORUS_IN_NETNS &&
  process.platform === 'linux' &&
  existsSync(netns) &&
  process.getuid?.() === 0;
const [cmd, ...args] = wrap ? [netns, ...vitest] : vitest;
const r = spawnSync(cmd!, args, {
  cwd: repo,
  stdio: 'inherit',
  env: { ...process.env, CHORUS_IN_NETNS: '1' },
});
process.exit(r.status ?? 1);
