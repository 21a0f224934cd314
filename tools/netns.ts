/**
 * WebRTC between Chromium pages needs a network interface with a default route; a loopback-only machine
 * (CI, these sandboxes) gathers no ICE candidates at all. `../shared/tools/netns-run` makes a private
 * namespace with such an interface whose traffic never leaves it. The room simulator, the browser suite
 * and the benchmarks run themselves inside it when they can (root on Linux, with ../shared beside the
 * repo); on a user's laptop they run as they are.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '..');
const NETNS = path.resolve(REPO, '../shared/tools/netns-run');
const MARK = 'CHORUS_IN_NETNS';

/** Whether a command should be wrapped: not already inside, and the wrapper can run here. */
export function canEnterNetns(): boolean {
  return !process.env[MARK] && process.platform === 'linux' && existsSync(NETNS) && process.getuid?.() === 0;
}

/**
 * Runs `cmd args` (inside the namespace when it can) with inherited stdio, forwarding SIGINT and SIGTERM
 * so a long-running child (a served room) closes cleanly. Resolves with the child's exit code.
 */
export function runMaybeInNetns(cmd: string, args: readonly string[], cwd = REPO): Promise<number> {
  const [bin, ...argv] = canEnterNetns() ? [NETNS, cmd, ...args] : [cmd, ...args];
  const child = spawn(bin!, argv, { cwd, stdio: 'inherit', env: { ...process.env, [MARK]: '1' } });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/**
 * Re-runs this very process inside the namespace and exits with its code; returns (doing nothing) where
 * no namespace is needed or possible. Call it first, before any side effect.
 */
export async function reexecInNetns(): Promise<void> {
  if (!canEnterNetns()) return;
  process.exit(
    await runMaybeInNetns(process.execPath, [...process.execArgv, ...process.argv.slice(1)], process.cwd()),
  );
}
