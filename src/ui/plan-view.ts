/**
 * The live plan: a bar of every block coloured by the phone holding it, and per stage its predicted and
 * measured time per token, so a wrong cost model (or a phone slower than it said) is visible at a glance.
 * Presentational: the leader computes the numbers.
 */
import { css, html, LitElement, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';

export interface PlanViewStage {
  phone: string;
  firstBlock: number;
  lastBlock: number;
  predictedMs: number | null;
  measuredMs: number | null;
  busy: boolean;
}

export interface PlanViewBlock {
  kind: 'prologue' | 'layer' | 'epilogue';
  layer: number | null;
}

export interface PlanViewData {
  blocks: PlanViewBlock[];
  stages: PlanViewStage[];
  leftOut: { phone: string; reason: string }[];
  /** e.g. "HiGHS, optimal" or "even split"; `solveMs` is appended as "in 12 ms" when known. */
  planner: string;
  predictedTokensPerSecond: number | null;
  measuredTokensPerSecond: number | null;
  solveMs: number | null;
}

/** Distinguishable on white and readable with white text; repeats past eight phones. */
const PALETTE = ['#4a5bd4', '#d9822b', '#2e9d6a', '#c2417a', '#7b52c7', '#1f8fa8', '#a08a1c', '#d14b3c'];
/** A measured time this far off the prediction means the cost model is wrong for that phone. */
const BAD_ERROR = 0.2;

function blockLabel(b: PlanViewBlock | undefined): string {
  if (!b) return '?';
  return b.kind === 'prologue' ? 'P' : b.kind === 'epilogue' ? 'E' : String(b.layer ?? '?');
}

/** "layers 0–5", with the prologue/epilogue named when the stage holds them. */
export function stageSpan(blocks: PlanViewBlock[], first: number, last: number): string {
  const held = blocks.slice(first, last + 1);
  const layers = held.filter((b) => b.kind === 'layer' && b.layer !== null).map((b) => b.layer as number);
  const parts: string[] = [];
  if (held.some((b) => b.kind === 'prologue')) parts.push('prologue');
  if (layers.length > 0) {
    const lo = Math.min(...layers);
    const hi = Math.max(...layers);
    parts.push(lo === hi ? `layer ${lo}` : `layers ${lo}–${hi}`);
  }
  if (held.some((b) => b.kind === 'epilogue')) parts.push('epilogue');
  return parts.length > 0 ? parts.join(' + ') : `blocks ${first}–${last}`;
}

/** (measured − predicted) / predicted, or null unless both exist. */
export function relativeError(predicted: number | null, measured: number | null): number | null {
  return predicted !== null && measured !== null && predicted > 0 ? (measured - predicted) / predicted : null;
}

function ms(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function percent(err: number): string {
  return `${err >= 0 ? '+' : '−'}${Math.abs(err * 100).toFixed(0)}%`;
}

/** Label every block while they fit; past that every k-th layer so the numbers do not overlap. */
function labelStride(count: number): number {
  return count <= 16 ? 1 : count <= 34 ? 4 : 8;
}

@customElement('plan-view')
export class PlanView extends LitElement {
  @property({ attribute: false }) data: PlanViewData | null = null;

  static override styles = css`
    :host { display: block; }
    .root { border: 1px solid #ccd; border-radius: 10px; padding: 10px 12px; background: #fff; }
    h3 { margin: 0 0 8px; font-size: 1em; }
    .bar { display: flex; gap: 1px; height: 26px; border-radius: 6px; overflow: hidden; }
    .cell { flex: 1 1 0; min-width: 0; display: flex; align-items: center; justify-content: center;
      color: #fff; font-size: 10px; font-variant-numeric: tabular-nums; background: #bbc; }
    /* Positioned so a label wider than its cell is painted over the next cells, not under them. */
    .lbl { position: relative; white-space: nowrap; }
    .cell.edge { flex-grow: 1.4; font-weight: 700; }
    .cell.boundary { margin-left: 3px; }
    .cell.busy { animation: pulse 1.2s ease-in-out infinite; }
    .stages { list-style: none; margin: 10px 0 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }
    /* Swatch in its own column so wrapped lines stay aligned under the name on narrow screens. */
    .stage { display: grid; grid-template-columns: 12px 1fr; column-gap: 6px; align-items: start; }
    .swatch { width: 12px; height: 12px; border-radius: 3px; margin-top: 0.3em; }
    .info { display: flex; flex-wrap: wrap; align-items: baseline; column-gap: 10px; row-gap: 2px; min-width: 0; }
    .who { display: flex; align-items: center; gap: 6px; font-weight: 600; min-width: 0; overflow-wrap: anywhere; }
    .span { color: #445; font-size: 0.9em; }
    .times { color: #556; font-size: 0.85em; font-variant-numeric: tabular-nums; margin-left: auto; }
    .err { padding: 0 5px; border-radius: 4px; background: #eef; }
    .err.bad { background: #fde0e0; color: #b3261e; font-weight: 600; }
    .dot { width: 8px; height: 8px; border-radius: 50%; background: #e0a800; flex: none; animation: pulse 1s ease-in-out infinite; }
    .left { margin: 8px 0 0; padding: 0; list-style: none; font-size: 0.85em; color: #556; }
    .left li { padding: 2px 0; }
    .left b { color: #334; }
    .summary { margin-top: 10px; padding-top: 8px; border-top: 1px solid #eef; font-size: 0.85em; color: #445;
      display: flex; flex-wrap: wrap; column-gap: 16px; row-gap: 4px; }
    @keyframes pulse { 50% { opacity: 0.45; } }
    @media (prefers-reduced-motion: reduce) { .dot, .cell.busy { animation: none; } }
    @media (max-width: 480px) { .times { margin-left: 0; flex-basis: 100%; } }
  `;

  private renderBar(d: PlanViewData, colour: (phone: string) => string) {
    const owner: (PlanViewStage | undefined)[] = d.blocks.map((_, i) =>
      d.stages.find((s) => i >= s.firstBlock && i <= s.lastBlock),
    );
    const stride = labelStride(d.blocks.length);
    return html`<div class="bar" role="img" aria-label="Blocks by phone">
      ${d.blocks.map((b, i) => {
        const s = owner[i];
        const edge = b.kind !== 'layer';
        const labelled = edge || stride === 1 || (b.layer ?? 0) % stride === 0;
        const boundary = i > 0 && s !== owner[i - 1];
        return html`<div
          class="cell ${edge ? 'edge' : ''} ${boundary ? 'boundary' : ''} ${s?.busy ? 'busy' : ''}"
          style=${s ? `background: ${colour(s.phone)}` : ''}
          title=${`${b.kind === 'layer' ? `layer ${b.layer}` : b.kind} · ${s ? s.phone : 'no phone'}`}
          data-block=${i}
          data-phone=${s?.phone ?? ''}
        >${labelled ? html`<span class="lbl">${blockLabel(b)}</span>` : nothing}</div>`;
      })}
    </div>`;
  }

  private renderStage(d: PlanViewData, s: PlanViewStage, colour: string) {
    const err = relativeError(s.predictedMs, s.measuredMs);
    const times = [
      s.predictedMs !== null ? `predicted ${ms(s.predictedMs)}` : null,
      s.measuredMs !== null ? `measured ${ms(s.measuredMs)}` : null,
    ].filter((t) => t !== null);
    return html`<li class="stage" data-testid="plan-stage" data-phone=${s.phone} data-first=${s.firstBlock}
      data-last=${s.lastBlock} data-busy=${String(s.busy)}>
      <span class="swatch" style="background: ${colour}"></span>
      <div class="info">
      <span class="who">${s.phone}${
        s.busy ? html`<span class="dot" title="busy" aria-label="busy"></span>` : nothing
      }</span>
      <span class="span">${stageSpan(d.blocks, s.firstBlock, s.lastBlock)}</span>
      <span class="times">${times.length ? `${times.join(' · ')} ms/token` : 'no timing yet'}${
        err !== null
          ? html` <span class="err ${Math.abs(err) > BAD_ERROR ? 'bad' : ''}" data-testid="stage-error">${percent(err)}</span>`
          : nothing
      }</span>
      </div>
    </li>`;
  }

  override render() {
    const d = this.data;
    if (!d) return nothing;
    // Colours follow the phone, not the stage index, so a phone keeps its colour when re-planned in place.
    const phones = [...new Set(d.stages.map((s) => s.phone))];
    const colour = (phone: string) => PALETTE[phones.indexOf(phone) % PALETTE.length] ?? '#889';
    const tpsErr = relativeError(d.predictedTokensPerSecond, d.measuredTokensPerSecond);
    return html`<div class="root" data-testid="plan-view">
      <h3>Plan</h3>
      ${this.renderBar(d, colour)}
      <ul class="stages">
        ${d.stages.map((s) => this.renderStage(d, s, colour(s.phone)))}
      </ul>
      ${
        d.leftOut.length
          ? html`<ul class="left">
            ${d.leftOut.map((l) => html`<li data-testid="left-out" data-phone=${l.phone}><b>${l.phone}</b> left out: ${l.reason}</li>`)}
          </ul>`
          : nothing
      }
      <div class="summary">
        <span data-testid="planner">Planner: ${d.planner}${d.solveMs !== null ? ` in ${d.solveMs < 1 ? '<1' : Math.round(d.solveMs)} ms` : ''}</span>
        <span data-testid="plan-tps">
          ${d.predictedTokensPerSecond !== null ? `predicted ${d.predictedTokensPerSecond.toFixed(1)} tokens/s` : 'no prediction'}
          · ${d.measuredTokensPerSecond !== null ? `measured ${d.measuredTokensPerSecond.toFixed(1)} tokens/s` : 'not measured yet'}
          ${
            tpsErr !== null
              ? html`<span class="err ${Math.abs(tpsErr) > BAD_ERROR ? 'bad' : ''}">${percent(tpsErr)}</span>`
              : nothing
          }
        </span>
      </div>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'plan-view': PlanView;
  }
}
