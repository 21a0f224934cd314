/**
 * Runs the browser suite, building the app first when it is missing or stale, inside
 * ../shared/tools/netns-run where WebRTC needs it (tools/netns.ts).
 */
import path from 'node:path';
import { ensureAppBuilt } from '../tools/app-build';
import { runMaybeInNetns } from '../tools/netns';

const repo = path.resolve(import.meta.dirname, '..');
await ensureAppBuilt((line) => process.stderr.write(`${line}\n`));
const vitest = path.join(repo, 'node_modules/.bin/vitest');
process.exit(
  await runMaybeInNetns(vitest, ['run', '--config', 'e2e/vitest.config.ts', ...process.argv.slice(2)]),
);
