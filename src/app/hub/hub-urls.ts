/**
 * Hugging Face hub URL layout for onnx-community style repos (as transformers.js reads them):
 *   <hub>/api/models/<id>                 repo info: `sha` (the commit) and `siblings: [{ rfilename }]`
 *   <hub>/<id>/resolve/<revision>/<path>   a file; Range requests answer 206
 * Graphs live at onnx/model.onnx (fp32), onnx/model_fp16.onnx, onnx/model_quantized.onnx (q8),
 * onnx/model_q4.onnx, ...; a graph's weights may sit in external data beside it, conventionally
 * onnx/model_<dtype>.onnx_data (and _data_1, _data_2, ... when split), but the graph's own
 * `location` entries are the truth and the loader follows those.
 */

/** dtype → graph file name, as transformers.js names them. */
export const DTYPE_GRAPHS: Readonly<Record<string, string>> = {
  fp32: 'model.onnx',
  fp16: 'model_fp16.onnx',
  q8: 'model_quantized.onnx',
  int8: 'model_int8.onnx',
  uint8: 'model_uint8.onnx',
  q4: 'model_q4.onnx',
  q4f16: 'model_q4f16.onnx',
  bnb4: 'model_bnb4.onnx',
};

export const HUB_DTYPES = Object.keys(DTYPE_GRAPHS);

/** The JSON files a model folder may carry, in the order the loaders destructure them. */
export const MODEL_JSON_FILES = [
  'config.json',
  'genai_config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
] as const;

export class HubError extends Error {
  override name = 'HubError';
}

const ID_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Checks a model id (`org/name`, or a legacy bare `name`) so it is safe as URL path segments. */
export function checkModelId(modelId: string): string {
  const id = modelId.trim();
  const parts = id.split('/');
  if (parts.length > 2 || !parts.every((p) => ID_PART.test(p) && !p.includes('..'))) {
    throw new HubError(
      `"${modelId}" is not a Hugging Face model id: expected org/name, e.g. onnx-community/SmolLM2-135M-Instruct-ONNX`,
    );
  }
  return id;
}

export function graphPathFor(dtype: string): string {
  const file = DTYPE_GRAPHS[dtype];
  if (!file) throw new HubError(`unknown dtype ${dtype}: use one of ${HUB_DTYPES.join(', ')}`);
  return `onnx/${file}`;
}

export interface HubModelUrls {
  readonly api: string;
  /** Ends with '/'; every repo path resolves against it. */
  readonly resolveBase: string;
  readonly config: string;
  readonly generationConfig: string;
  readonly tokenizer: string;
  readonly tokenizerConfig: string;
  readonly graphPath: string;
  readonly graph: string;
  /** The conventional first external-data file (the graph may name others: follow its locations). */
  readonly externalData: string;
}

const trimSlash = (s: string) => s.replace(/\/+$/, '');

/** URLs of a repo's files at `revision` (a commit sha pins them; 'main' follows the branch). */
export function hubModelUrls(
  hubBase: string,
  modelId: string,
  dtype: string,
  revision = 'main',
): HubModelUrls {
  const id = checkModelId(modelId);
  const base = trimSlash(hubBase);
  const resolveBase = `${base}/${id}/resolve/${encodeURIComponent(revision)}/`;
  const graphPath = graphPathFor(dtype);
  const at = (path: string) => resolveUrl(resolveBase, path);
  return {
    api: `${base}/api/models/${id}`,
    resolveBase,
    config: at('config.json'),
    generationConfig: at('generation_config.json'),
    tokenizer: at('tokenizer.json'),
    tokenizerConfig: at('tokenizer_config.json'),
    graphPath,
    graph: at(graphPath),
    externalData: at(`${graphPath}_data`),
  };
}

/** The URL of a repo path under a resolve base (path segments escaped, '/' kept). */
export function resolveUrl(resolveBase: string, path: string): string {
  return resolveBase + path.split('/').map(encodeURIComponent).join('/');
}

/** Which dtypes a repo provides, from its file list. */
export function dtypesIn(files: Iterable<string>): string[] {
  const have = new Set(files);
  return HUB_DTYPES.filter((d) => have.has(graphPathFor(d)));
}

/** The external-data files beside a graph that follow the naming convention (`_data`, `_data_1`, ...). */
export function externalDataPaths(graphPath: string, files: Iterable<string>): string[] {
  const stem = `${graphPath}_data`;
  return [...files]
    .filter((f) => f === stem || new RegExp(`^${stem.replace(/[.]/g, '\\.')}_\\d+$`).test(f))
    .sort((a, b) => a.length - b.length || a.localeCompare(b));
}
