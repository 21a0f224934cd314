/**
 * How the leader chooses a model: one the server offers, a Hugging Face repository, or a folder from this
 * device (picked or dropped). Presentational: it only gathers the choice and dispatches `choose`; loading
 * (and its errors) belong to RoomController.
 */
import { css, html, LitElement } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';

export type ModelChoice =
  | { kind: 'served'; url: string; name: string }
  | { kind: 'hub'; base: string; id: string; dtype: string }
  | { kind: 'local'; name: string; files: Map<string, File> };

export interface ServedModel {
  name: string;
  url: string;
}

type Source = 'served' | 'hub' | 'local';

interface LocalFolder {
  name: string;
  files: Map<string, File>;
}

const SOURCES: [Source, string][] = [
  ['served', 'Server'],
  ['hub', 'Hugging Face'],
  ['local', 'This device'],
];
const DTYPES = ['fp32', 'fp16', 'q8', 'q4'];
const DEFAULT_HUB = 'https://huggingface.co';

/** 'model.onnx.data' → 'model': a name for files picked without a folder (e.g. iOS ignores webkitdirectory). */
function stem(fileName: string): string {
  return fileName.split('.')[0] || fileName;
}

/**
 * Files from `<input webkitdirectory>`: every `webkitRelativePath` starts with the chosen folder's name,
 * which is stripped so keys are relative to the folder. Files picked one by one (no relative path) are
 * keyed by their name.
 */
export function folderFromFileList(list: Iterable<File>): LocalFolder | null {
  const files = new Map<string, File>();
  let name = '';
  for (const file of list) {
    const rel = file.webkitRelativePath;
    const slash = rel.indexOf('/');
    if (slash > 0) {
      name ||= rel.slice(0, slash);
      files.set(rel.slice(slash + 1), file);
    } else {
      files.set(file.name, file);
    }
  }
  const first = files.values().next().value;
  if (!first) return null;
  return { name: name || stem(first.name), files };
}

function readBatch(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** Walks a dropped entry; `prefix` is its path relative to the dropped folder ('' at the top). */
async function walk(entry: FileSystemEntry, prefix: string, into: Map<string, File>): Promise<void> {
  if (entry.isFile) {
    into.set(prefix + entry.name, await entryFile(entry as FileSystemFileEntry));
    return;
  }
  if (!entry.isDirectory) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries hands out a directory in batches (Chromium: 100 at a time) until it returns an empty one.
  for (let batch = await readBatch(reader); batch.length > 0; batch = await readBatch(reader)) {
    for (const child of batch) await walk(child, `${prefix}${entry.name}/`, into);
  }
}

/**
 * A drop: one folder → its contents keyed relative to it; anything else (loose files, several folders)
 * → keyed relative to the drop itself. Entries must be taken synchronously inside the drop event —
 * the DataTransfer is emptied once the handler returns — hence `entries`, not the DataTransfer.
 */
export async function folderFromEntries(entries: FileSystemEntry[]): Promise<LocalFolder | null> {
  const files = new Map<string, File>();
  const only = entries.length === 1 ? entries[0] : undefined;
  if (only?.isDirectory) {
    await walk(only, '', files);
    const stripped = new Map<string, File>();
    for (const [path, file] of files) stripped.set(path.slice(only.name.length + 1), file);
    return stripped.size > 0 ? { name: only.name, files: stripped } : null;
  }
  for (const entry of entries) await walk(entry, '', files);
  const first = entries[0];
  return first && files.size > 0 ? { name: stem(first.name), files } : null;
}

function megabytes(files: Map<string, File>): string {
  let bytes = 0;
  for (const f of files.values()) bytes += f.size;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

@customElement('model-picker')
export class ModelPicker extends LitElement {
  @property({ attribute: false }) served: ServedModel[] = [];
  @property({ type: Boolean }) busy = false;
  @property({ attribute: false }) error: string | null = null;

  /** null until the user picks a tab, so the default can follow `served` arriving after first render. */
  @state() private source: Source | null = null;
  @state() private servedUrl: string | null = null;
  @state() private hubId = '';
  @state() private hubDtype = 'q4';
  @state() private hubBase = DEFAULT_HUB;
  @state() private local: LocalFolder | null = null;
  @state() private dropping = false;
  @state() private dropError: string | null = null;

  static override styles = css`
    :host { display: block; }
    fieldset { border: 0; padding: 0; margin: 0; min-width: 0; }
    .tabs { display: flex; gap: 0; border: 1px solid #ccd; border-radius: 10px; overflow: hidden; margin-bottom: 10px; }
    .tabs label { position: relative; flex: 1; text-align: center; padding: 7px 4px; font-size: 0.9em; cursor: pointer; background: #f6f6fb; }
    .tabs label + label { border-left: 1px solid #ccd; }
    .tabs input { position: absolute; opacity: 0; pointer-events: none; }
    .tabs label:has(input:checked) { background: #dfe3ff; font-weight: 600; }
    .tabs label:has(input:focus-visible) { outline: 2px solid #4a5bd4; outline-offset: -2px; }
    .pane { display: flex; flex-direction: column; gap: 8px; }
    .field { display: flex; flex-direction: column; gap: 2px; font-size: 0.85em; color: #445; }
    .row { display: flex; gap: 8px; flex-wrap: wrap; }
    .row .field:first-child { flex: 1 1 14em; }
    input[type='text'], input[type='url'], select { font: inherit; font-size: 1rem; padding: 5px 6px; min-width: 0; box-sizing: border-box; width: 100%; }
    details summary { font-size: 0.85em; color: #556; cursor: pointer; }
    details .field { margin-top: 6px; }
    .drop { border: 2px dashed #aab; border-radius: 10px; padding: 14px; text-align: center; color: #556; }
    .drop.over { border-color: #4a5bd4; background: #eef0ff; }
    .drop input { max-width: 100%; margin-top: 6px; }
    .chosen { font-size: 0.85em; color: #223; }
    .hint { font-size: 0.85em; color: #667; margin: 0; }
    .actions { margin-top: 12px; }
    button { font: inherit; padding: 8px 16px; }
    .error { background: #fde0e0; padding: 8px 12px; border-radius: 8px; margin-top: 8px; white-space: pre-wrap; }
  `;

  private get activeSource(): Source {
    return this.source ?? (this.served.length > 0 ? 'served' : 'hub');
  }

  /** The chosen served model; falls back to the first one when the list changes under the selection. */
  private get servedModel(): ServedModel | undefined {
    return this.served.find((m) => m.url === this.servedUrl) ?? this.served[0];
  }

  /** What "Load model" would dispatch now, or null when the active tab has nothing usable chosen. */
  private get choice(): ModelChoice | null {
    switch (this.activeSource) {
      case 'served': {
        const m = this.servedModel;
        return m ? { kind: 'served', url: m.url, name: m.name } : null;
      }
      case 'hub': {
        const id = this.hubId.trim();
        const base = this.hubBase.trim().replace(/\/+$/, '') || DEFAULT_HUB;
        return id ? { kind: 'hub', base, id, dtype: this.hubDtype } : null;
      }
    }
    return this.local ? { kind: 'local', name: this.local.name, files: this.local.files } : null;
  }

  private choose(): void {
    const detail = this.choice;
    if (!detail || this.busy) return;
    this.dispatchEvent(new CustomEvent<ModelChoice>('choose', { detail, bubbles: true, composed: true }));
  }

  private onDrop(e: DragEvent): void {
    e.preventDefault();
    this.dropping = false;
    if (this.busy) return;
    const entries: FileSystemEntry[] = [];
    const loose: File[] = [];
    for (const item of e.dataTransfer?.items ?? []) {
      if (item.kind !== 'file') continue;
      // Items without an entry (a DataTransfer built by script, as tests do) still carry their file.
      const entry = item.webkitGetAsEntry();
      const file = entry ? null : item.getAsFile();
      if (entry) entries.push(entry);
      else if (file) loose.push(file);
    }
    this.dropError = null;
    (entries.length > 0 ? folderFromEntries(entries) : Promise.resolve(folderFromFileList(loose))).then(
      (folder) => {
        if (folder) this.local = folder;
        else this.dropError = 'Nothing to load in what was dropped: drop a model folder.';
      },
      (err: unknown) => {
        this.dropError = `Could not read the dropped folder: ${err instanceof Error ? err.message : String(err)}`;
      },
    );
  }

  private onDragOver(e: DragEvent): void {
    // Without preventDefault the browser refuses the drop (and may open the file instead).
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    this.dropping = !this.busy;
  }

  private renderServed() {
    if (this.served.length === 0)
      return html`<p class="hint">This server offers no models (start it with <code>--model name=dir</code>).</p>`;
    const selected = this.servedModel?.url;
    return html`<label class="field"
      >Model
      <select data-testid="model-select" @change=${(e: Event) => (this.servedUrl = (e.target as HTMLSelectElement).value)}>
        ${this.served.map((m) => html`<option value=${m.url} ?selected=${m.url === selected}>${m.name}</option>`)}
      </select></label
    >`;
  }

  private renderHub() {
    return html`
      <div class="row">
        <label class="field"
          >Model id
          <input data-testid="hub-id" type="text" autocapitalize="off" autocomplete="off" spellcheck="false"
            placeholder="onnx-community/SmolLM2-135M-Instruct-ONNX" .value=${this.hubId}
            @input=${(e: Event) => (this.hubId = (e.target as HTMLInputElement).value)}
            @keydown=${(e: KeyboardEvent) => e.key === 'Enter' && this.choose()} />
        </label>
        <label class="field"
          >Weights
          <select data-testid="hub-dtype" @change=${(e: Event) => (this.hubDtype = (e.target as HTMLSelectElement).value)}>
            ${DTYPES.map((d) => html`<option value=${d} ?selected=${d === this.hubDtype}>${d}</option>`)}
          </select>
        </label>
      </div>
      <details>
        <summary>Advanced</summary>
        <label class="field"
          >Hub address
          <input data-testid="hub-base" type="url" autocapitalize="off" spellcheck="false" .value=${this.hubBase}
            @input=${(e: Event) => (this.hubBase = (e.target as HTMLInputElement).value)} />
        </label>
      </details>`;
  }

  private renderLocal() {
    const l = this.local;
    return html`
      <div class="drop ${this.dropping ? 'over' : ''}" data-testid="model-drop"
        @dragenter=${(e: DragEvent) => this.onDragOver(e)} @dragover=${(e: DragEvent) => this.onDragOver(e)}
        @dragleave=${() => (this.dropping = false)} @drop=${(e: DragEvent) => this.onDrop(e)}>
        Drop a model folder here, or choose one:<br />
        <input data-testid="model-files" type="file" webkitdirectory multiple
          @change=${(e: Event) => {
            const input = e.target as HTMLInputElement;
            this.dropError = null;
            this.local = input.files ? folderFromFileList(input.files) : null;
          }} />
      </div>
      ${l ? html`<div class="chosen" data-testid="model-folder">${l.name}: ${l.files.size} files, ${megabytes(l.files)}</div>` : null}
      ${this.dropError ? html`<p class="hint">${this.dropError}</p>` : null}
      <p class="hint">The folder stays on this phone; it sends each phone its share of the model.</p>`;
  }

  override render() {
    const active = this.activeSource;
    return html`
      <fieldset ?disabled=${this.busy}>
        <div class="tabs" role="radiogroup" aria-label="Where the model comes from">
          ${SOURCES.map(
            ([source, label]) => html`<label
              ><input type="radio" name="source" data-testid=${`source-${source}`} .checked=${source === active}
                @change=${() => (this.source = source)} />${label}</label
            >`,
          )}
        </div>
        <div class="pane">
          ${active === 'served' ? this.renderServed() : active === 'hub' ? this.renderHub() : this.renderLocal()}
        </div>
      </fieldset>
      <div class="actions">
        <button data-testid="load-model" ?disabled=${this.busy || !this.choice} @click=${() => this.choose()}
          >Load model on these phones</button>
      </div>
      ${this.error ? html`<div class="error" data-testid="model-error" role="alert">${this.error}</div>` : null}
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'model-picker': ModelPicker;
  }
}
