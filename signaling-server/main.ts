// CLI entry: `tsx signaling-server/main.ts --help`.
import { ensureAppBuilt } from '../tools/app-build';
import { parseCliArgs, USAGE } from './cli-args';
import { type RunningServer, startServer } from './server';

async function main(): Promise<void> {
  let command: ReturnType<typeof parseCliArgs>;
  try {
    command = parseCliArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    process.exit(2);
  }
  if (command.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }

  let server: RunningServer;
  try {
    if (command.options.appDir === undefined) await ensureAppBuilt(console.log);
    server = await startServer(command.options);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second Ctrl-C means "now": skip waiting for connections to drain.
      process.exit(130);
    }
    stopping = true;
    console.log(`\n${signal}: shutting down`);
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`error while closing: ${String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
