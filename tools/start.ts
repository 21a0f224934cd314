/**
 * `npm start`: shards the embedded default model (and any --model dirs) and serves the app, the
 * PeerServer and the model blocks on the LAN over HTTPS (phones need a secure context).
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { startServer } from '../signaling-server/server';
import { ensureAppBuilt } from './app-build';
import { DEFAULT_MODEL, prepareModel } from './room/prepare-models';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', multiple: true },
      host: { type: 'string', default: '0.0.0.0' },
      port: { type: 'string', default: '8443' },
      https: { type: 'string', default: 'auto' },
    },
  });
  await ensureAppBuilt(console.log);
  const dirs = values.model ?? [DEFAULT_MODEL];
  const models = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) throw new Error(`${dir}: no such model folder`);
    models.push(await prepareModel(dir, console.log));
  }
  const https = values.https as 'auto' | 'on' | 'off';
  const server = await startServer({ host: values.host, port: Number(values.port), https, models });
  const open = server.lanUrls[0] ?? server.url;
  console.log(`\nChorus is running. Open ${open} on the first phone and press "Create room".`);
  // The same address as a QR code, for the first phone's camera (the room's own QR code comes next).
  if (server.lanUrls[0]) console.log(await QRCode.toString(open, { type: 'terminal', small: true }));
  console.log('Phones will warn about the self-signed certificate once: accept it to continue.');
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
