/**
 * Turns a runtime's own session (onnxruntime-web, onnxruntime-node, …) into the core's ModelSession,
 * given how to convert tensors each way. The adapters stay the only importers of their runtime; the
 * feed/fetch plumbing is written once.
 */
import type { ModelSession } from './ports';
import type { NamedTensors, Tensor } from './tensor';

export interface RuntimeSession<T> {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, T>, fetch?: readonly string[]): Promise<Record<string, T>>;
  release(): Promise<void>;
}

export function modelSession<T>(
  session: RuntimeSession<T>,
  toRuntime: (t: Tensor) => T,
  fromRuntime: (name: string, t: T) => Tensor,
): ModelSession {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds: NamedTensors, fetch?: readonly string[]): Promise<NamedTensors> {
      const runtimeFeeds: Record<string, T> = {};
      for (const [name, t] of Object.entries(feeds)) runtimeFeeds[name] = toRuntime(t);
      const out = await session.run(runtimeFeeds, fetch);
      const result: NamedTensors = {};
      for (const [name, t] of Object.entries(out)) result[name] = fromRuntime(name, t);
      return result;
    },
    release: () => session.release(),
  };
}
