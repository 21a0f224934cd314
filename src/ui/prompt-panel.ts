/** Any phone's prompt box: text or token ids, sampling settings, generate/stop, streaming output. */
import { css, html, LitElement } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { SamplingParams } from '../core/protocol/messages';
import { DEFAULT_SAMPLING } from '../core/sampling';

export interface GenerateDetail {
  input: { text: string } | { ids: number[] };
  params: SamplingParams;
}

const FIELDS: [keyof SamplingParams, string, string][] = [
  ['maxNewTokens', 'max new tokens', '1'],
  ['temperature', 'temperature (0 = greedy)', '0.05'],
  ['topK', 'top-k (0 = off)', '1'],
  ['topP', 'top-p', '0.05'],
  ['repetitionPenalty', 'repetition penalty', '0.05'],
  ['seed', 'seed', '1'],
];

@customElement('prompt-panel')
export class PromptPanel extends LitElement {
  @property({ type: Boolean }) busy = false;
  @property({ type: Boolean }) ready = false;
  @property() output = '';
  @state() private params: SamplingParams = { ...DEFAULT_SAMPLING };

  static override styles = css`
    textarea { width: 100%; min-height: 4em; box-sizing: border-box; font: inherit; }
    .row { display: flex; gap: 8px; margin: 8px 0; flex-wrap: wrap; }
    label { font-size: 0.8em; display: flex; flex-direction: column; }
    input { width: 7em; }
    .output { white-space: pre-wrap; background: #f6f6fb; border-radius: 8px; padding: 10px; min-height: 3em; }
    details { margin: 6px 0; }
  `;

  private emit(): void {
    const root = this.renderRoot as ShadowRoot;
    const text = (root.querySelector('[data-testid=prompt]') as HTMLTextAreaElement).value;
    const idsText = (root.querySelector('[data-testid=prompt-ids]') as HTMLInputElement).value.trim();
    let input: GenerateDetail['input'] = { text };
    if (idsText) {
      const ids = idsText.split(/[\s,]+/).map(Number);
      if (ids.some((n) => !Number.isInteger(n) || n < 0)) {
        this.dispatchEvent(
          new CustomEvent('invalid', { detail: `token ids must be whole numbers: ${idsText}` }),
        );
        return;
      }
      input = { ids };
    }
    const detail: GenerateDetail = { input, params: { ...this.params } };
    this.dispatchEvent(new CustomEvent<GenerateDetail>('generate', { detail }));
  }

  override render() {
    return html`
      <textarea data-testid="prompt" placeholder="Once upon a time" ?disabled=${this.busy}></textarea>
      <details>
        <summary>Sampling settings</summary>
        <div class="row">
          ${FIELDS.map(
            ([key, label, step]) => html`<label
              >${label}<input
                data-testid=${key}
                type="number"
                step=${step}
                .value=${String(this.params[key])}
                @change=${(e: Event) => {
                  this.params = { ...this.params, [key]: Number((e.target as HTMLInputElement).value) };
                }}
            /></label>`,
          )}
          <label>token ids instead of text<input data-testid="prompt-ids" placeholder="1, 403, 407" style="width:14em" /></label>
        </div>
      </details>
      <div class="row">
        <button data-testid="generate" ?disabled=${this.busy || !this.ready} @click=${() => this.emit()}>Generate</button>
        <button data-testid="stop" ?disabled=${!this.busy} @click=${() => this.dispatchEvent(new CustomEvent('stop'))}>Stop</button>
      </div>
      <div class="output" data-testid="output">${this.output}</div>
    `;
  }
}
