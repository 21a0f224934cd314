/** `npm run shard -- <model-dir | model.onnx> --out <dir> [--dtype q4]` */
import { parseArgs } from 'node:util';
import { runCli } from '../cli';
import { shardModel } from './shard-model';

const HELP = `Usage: npm run shard -- <model-dir | model.onnx> --out <dir> [--dtype <fp32|fp16|q4|...>]

Cuts a decoder model (Hugging Face / onnx-community layout, or a bare .onnx with its external data)
into blocks: a prologue, one block per layer, an epilogue. Writes <dir>/manifest.json and, per block,
block-NNN.onnx (graph) and block-NNN.weights (its weights as ONNX external data).
`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      dtype: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1 || !values.out) {
    process.stderr.write(`error: give one model path and --out <dir>\n\n${HELP}`);
    return 2;
  }
  const t0 = performance.now();
  const manifest = await shardModel(positionals[0]!, values.out, values.dtype);
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS / 1024;
  const kinds = manifest.blocks.map((b) => (b.kind === 'layer' ? `L${b.layer}` : b.kind)).join(' ');
  process.stdout.write(
    `${manifest.name}: ${manifest.blocks.length} blocks (${kinds}), ${manifest.totals.params.toLocaleString()} parameters, ` +
      `${(manifest.totals.weightBytes / 1e6).toFixed(2)} MB of weights → ${values.out} in ${ms.toFixed(0)} ms, ` +
      `peak RSS ${peak.toFixed(0)} MB\n`,
  );
  return 0;
}

runCli(main);
