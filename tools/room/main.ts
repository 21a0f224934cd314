/**
 * `npm run room -- --model <dir> --devices N --prompt "..." --max-new-tokens K [--json] ...`
 * On a machine whose network has no interface WebRTC can use (CI, these sandboxes), it re-runs itself
 * inside ../shared/tools/netns-run, a private network namespace that keeps all traffic local.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_SAMPLING } from '../../src/core/sampling';
import { ensureAppBuilt } from '../app-build';
import { runCli } from '../cli';
import { reexecInNetns } from '../netns';
import { DEFAULT_MODEL, prepareModel } from './prepare-models';
import { asksOf, manyResult, type PromptSpec, readChat, readPromptsFile } from './prompts';
import { parseChanges } from './scenario';
import { SimulatedRoom } from './simulator';

const HELP = `Usage: npm run room -- [--model <dir>] [--devices N] (--prompt "text"… | --prompts-file F.json | --chat F.json | --prompt-ids 1,2,3)
         [--max-new-tokens K] [--temperature T] [--top-k K] [--top-p P] [--repetition-penalty R] [--seed S] [--json]
         [--planner solved|even] [--slowdown 1,2,4] [--memory 512,1024,2048]
         [--webgpu] [--decode auto,wasm,webgpu] [--prefill auto,webgpu,auto]
         [--leave I@T] [--slow I:K@T] [--rejoin I@T] [--balance on|off] [--max-in-flight K]
         [--batching on|off]

Starts the signaling server and N headless Chromium phones (one browser context each), forms a room
through the real UI, loads the model over the phones and generates. Without --model: the embedded
default model (public/models/chorus-kjv).

--planner solved (default) measures every phone and link and places blocks with HiGHS (phones that would
slow the pipeline are left out); even splits the blocks over every phone by parameter count.
--slowdown emulates slower phones: phone i's inference worker sleeps (k−1)× each run's own time after it,
so its stage and its calibration both become k times slower (CPU throttling cannot reach workers).
--memory caps what each phone offers (MB), as a user could on a real phone.
--leave I@T closes phone I's page (I ≥ 1; 0 is the leader) when the answer has T tokens; --slow I:K@T
makes phone I K times slower from then on; --rejoin I@T opens phone I's page again in the same browser
context (its cache kept). Each can be repeated. --balance off keeps the room on its plan while it
answers (faults still re-plan). --json then adds replans [{atToken, reason, fromPlan, toPlan, stages,
pauseMs}] and faults [{phone, atToken, detectedMs, resumedMs}] (times from the page closing).
--webgpu starts Chromium with a WebGPU adapter (software SwiftShader here: right answers, far slower than
WASM). Each phone then times both runtimes and runs prefill and decode each on the faster; --decode and
--prefill (one of auto|wasm|webgpu per phone) override that choice, as ?decode= / ?prefill= do.
Several prompts (--prompt repeated, or --prompts-file: a JSON array of strings or of {prompt, phone?,
maxNewTokens?, temperature?, seed?}) are asked at the same moment, prompt i from phone i mod N; --json
then gives results [{prompt, phone, promptIds, generatedIds, text, tokensPerSecond, timeToFirstTokenMs}],
aggregateTokensPerSecond and batching [{phone, batchedSteps, largestBatch, meanBatch}]. --max-in-flight K lets at most K answers run at once (the rest queue).
--batching on (default) lets the one-token steps of several answers that meet at a phone while it is
busy run together in one onnxruntime call; off runs each answer's step alone.
--chat <file.json | json> asks one conversation (an array of {role, content}; a file when the path
exists): the leader renders it with the model's own chat template and the answer is the assistant's
next message; --json then gives results as above, with promptText, the text the template rendered.
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      devices: { type: 'string', default: '3' },
      prompt: { type: 'string', multiple: true },
      'prompts-file': { type: 'string' },
      chat: { type: 'string' },
      'max-in-flight': { type: 'string' },
      'prompt-ids': { type: 'string' },
      'max-new-tokens': { type: 'string', default: '32' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'repetition-penalty': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      slowdown: { type: 'string' },
      memory: { type: 'string' },
      planner: { type: 'string', default: 'solved' },
      webgpu: { type: 'boolean' },
      decode: { type: 'string' },
      prefill: { type: 'string' },
      leave: { type: 'string', multiple: true },
      slow: { type: 'string', multiple: true },
      rejoin: { type: 'string', multiple: true },
      balance: { type: 'string', default: 'on' },
      batching: { type: 'string', default: 'on' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const devices = Number(values.devices);
  if (!Number.isInteger(devices) || devices < 1 || devices > 8) throw new Error('--devices must be 1 to 8');
  const modelDir = values.model ?? DEFAULT_MODEL;
  if (!existsSync(modelDir))
    throw new Error(
      `${modelDir}: no such model folder${values.model ? '' : ' (the default model is missing: give --model)'}`,
    );
  const log = (line: string) => process.stderr.write(`${line}\n`);
  await ensureAppBuilt(log);
  const mount = await prepareModel(modelDir, log);
  const list = (v: string | undefined) => v?.split(',').map(Number);
  const slowdowns = list(values.slowdown);
  const memoryMB = list(values.memory);
  if (slowdowns && (slowdowns.length !== devices || slowdowns.some((k) => !(k >= 1)))) {
    throw new Error(`--slowdown needs ${devices} factors ≥ 1, one per phone (e.g. 1,2,4)`);
  }
  const phase = (flag: 'decode' | 'prefill') => {
    const v = values[flag]?.split(',');
    if (v && (v.length !== devices || v.some((x) => !['auto', 'wasm', 'webgpu'].includes(x))))
      throw new Error(`--${flag} needs ${devices} of auto|wasm|webgpu, one per phone`);
    return v;
  };
  const decode = phase('decode');
  const prefill = phase('prefill');
  if (values.balance !== 'on' && values.balance !== 'off') throw new Error('--balance is on or off');
  if (values.batching !== 'on' && values.batching !== 'off') throw new Error('--batching is on or off');
  const settings: Record<string, string>[] = Array.from({ length: devices }, (_, i) => ({
    ...(decode ? { decode: decode[i]! } : {}),
    ...(prefill ? { prefill: prefill[i]! } : {}),
    // The leader's page balances (or not) the room it leads.
    ...(i === 0 && values.balance === 'off' ? { balance: 'off' } : {}),
    ...(values.batching === 'off' ? { batching: 'off' } : {}),
  }));
  const maxInFlight = num(values['max-in-flight']);
  if (maxInFlight !== undefined && !(Number.isInteger(maxInFlight) && maxInFlight >= 1))
    throw new Error('--max-in-flight is a whole number ≥ 1');
  if (maxInFlight !== undefined) settings[0]!.maxInFlight = String(maxInFlight);
  const specs: PromptSpec[] = values.chat
    ? [readChat(values.chat)]
    : values['prompts-file']
      ? readPromptsFile(values['prompts-file'])
      : (values.prompt ?? []).map((prompt) => ({ prompt }));
  const changes = parseChanges(values, devices);
  const planner = values.planner;
  if (planner !== 'solved' && planner !== 'even') throw new Error('--planner is solved or even');
  const room = await SimulatedRoom.open({
    devices,
    models: [mount],
    log,
    ...(slowdowns ? { slowdowns } : {}),
    ...(memoryMB ? { memoryMB } : {}),
    ...(values.webgpu ? { webgpu: true } : {}),
    settings,
  });
  try {
    await room.loadModel(mount.name, 600_000, planner);
    // A scripted change moves blocks: let the phones be measured and cache their neighbours' blocks
    // first, as a room does in the pause before its first question.
    if (changes.length) {
      await room.waitForMeasured();
      const b = await room.waitForBackups();
      log(`backups: ${b.fetched} block(s) cached${b.stopped.length ? ` (${b.stopped.join('; ')})` : ''}`);
    }
    const sampling = {
      maxNewTokens: num(values['max-new-tokens']),
      temperature: num(values.temperature),
      topK: num(values['top-k']),
      topP: num(values['top-p']),
      repetitionPenalty: num(values['repetition-penalty']),
      seed: num(values.seed),
    };
    // A conversation goes in as messages (the leader renders them), as several prompts do.
    if (specs.length > 1 || values.chat) {
      const defaults = { ...DEFAULT_SAMPLING, ...definedOnly(sampling) };
      const asks = asksOf(specs, devices, defaults);
      const many = manyResult(specs, asks, await room.askAll(asks));
      // How often each phone's steps ran batched with others' (continuous batching at work, or not).
      const batching = await Promise.all(
        room.pages.map(async (p, phone) => {
          const s = await p.evaluate(() => window.__chorus!.stage());
          const [steps, runs] = [s?.stepsRun ?? 0, s?.stepRuns ?? 0];
          const meanBatch = runs > 0 ? steps / runs : 0;
          return { phone, batchedSteps: s?.batchedSteps ?? 0, largestBatch: s?.largestBatch ?? 0, meanBatch };
        }),
      );
      if (values.json)
        process.stdout.write(`${JSON.stringify({ model: mount.name, devices, ...many, batching })}\n`);
      else {
        for (const r of many.results)
          process.stdout.write(
            `[phone ${r.phone}] ${r.prompt}${r.text}${r.message ? ` (${r.message})` : ''}\n`,
          );
        log(
          `${many.results.length} answers at ${many.aggregateTokensPerSecond.toFixed(1)} tokens/s together`,
        );
      }
      return 0;
    }
    const prompt = specs[0]?.prompt ?? '';
    const result = await room.generateWith(
      {
        prompt,
        promptIds: values['prompt-ids']?.split(',').map(Number),
        ...sampling,
      },
      changes,
    );
    if (values.json) process.stdout.write(`${JSON.stringify({ model: mount.name, devices, ...result })}\n`);
    else {
      process.stdout.write(`${prompt}${result.text}\n`);
      log(
        `${result.generatedIds.length} tokens at ${result.tokensPerSecond.toFixed(1)} tokens/s on ${devices} phone(s): ` +
          result.plan.stages.map((s) => `${s.phone} blocks ${s.firstBlock}–${s.lastBlock}`).join(', '),
      );
    }
  } finally {
    await room.close();
  }
  return 0;
}

/** The settings given on the command line (absent ones keep their defaults). */
function definedOnly<T extends Record<string, number | undefined>>(o: T): Partial<Record<keyof T, number>> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<
    Record<keyof T, number>
  >;
}

await reexecInNetns();
runCli(main);
