/** The page: create or join a room, see its phones, and (on the leader) load a model and prompt it. */
import { css, html, LitElement } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import QRCode from 'qrcode';
import type { ModelChoice } from '../app/model-source';
import type { Planner, RoomPlan } from '../app/room-planner';
import { RoomController } from './room-controller';
import './cache-panel';
import './model-picker';
import './phone-card';
import './plan-view';
import './prompt-panel';
import type { GenerateDetail } from './prompt-panel';

@customElement('chorus-app')
export class ChorusApp extends LitElement {
  private readonly room = new RoomController(this);
  @state() private qr = '';
  /** The link `qr` encodes: the link can change after the room exists (the server's LAN URL arrives). */
  private qrLink = '';

  static override styles = css`
    :host { display: block; max-width: 760px; margin: 0 auto; padding: 16px; font-family: system-ui, sans-serif; color: #223; }
    h1 { margin: 0 0 4px; } .sub { color: #667; margin-bottom: 16px; }
    .phones { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 8px; margin: 12px 0; }
    .error { background: #fde0e0; padding: 8px 12px; border-radius: 8px; margin: 8px 0; }
    .join { display: flex; gap: 16px; align-items: center; background: #f6f6fb; padding: 12px; border-radius: 10px; }
    .join a { word-break: break-all; font-size: 0.85em; }
    section { margin: 16px 0; }
    button { font: inherit; padding: 6px 14px; }
    .room-progress { display: flex; flex-direction: column; gap: 4px; margin: 8px 0; font-size: 0.9em; }
    .room-progress progress { width: 100%; }
    pre { font-size: 0.75em; background: #f6f6fb; padding: 8px; border-radius: 8px; overflow: auto; max-height: 10em; }
  `;

  override updated(): void {
    const link = this.room.joinLink;
    if (!link || link === this.qrLink) return;
    this.qrLink = link;
    void QRCode.toDataURL(link, { margin: 1, width: 160 }).then((url) => {
      if (this.qrLink === link) this.qr = url;
    });
  }

  private renderHome() {
    return html`
      <section>
        <p>Run one language model across a few phones on the same Wi-Fi. Make a room here, then open its link
        (or scan its QR code) on the other phones.</p>
        <button data-testid="create-room" @click=${() => this.room.create()}>Create room</button>
      </section>`;
  }

  private renderLeader() {
    const r = this.room;
    const leader = r.leader!;
    const ready =
      !r.loadingModel &&
      !!leader.roomPlan &&
      leader.phones.filter((p) => p.blocks).every((p) => p.state === 'ready');
    return html`
      <div class="join">
        ${this.qr ? html`<img alt="QR code of the join link" src=${this.qr} width="160" height="160" />` : null}
        <div>Open on the other phones:<br /><a data-testid="join-link" href=${r.joinLink!}>${r.joinLink}</a></div>
      </div>
      <section>
        <label>Plan
          <select data-testid="planner-select" @change=${(e: Event) => {
            leader.planner = (e.target as HTMLSelectElement).value as Planner;
          }}>
            <option value="solved" ?selected=${leader.planner === 'solved'}>measured, optimised (HiGHS)</option>
            <option value="even" ?selected=${leader.planner === 'even'}>even split by blocks</option>
          </select>
        </label>
        <model-picker .served=${r.models} .busy=${r.loadingModel || r.answer.busy} .error=${null}
          @choose=${(e: CustomEvent<ModelChoice>) => r.loadModel(e.detail)}></model-picker>
        ${leader.status ? html`<p class="status" data-testid="leader-status">${leader.status}</p>` : null}
      </section>
      <plan-view .data=${r.planView}></plan-view>
      ${this.renderPrompt(ready)}
      ${
        r.result
          ? html`<p data-testid="result" data-json=${JSON.stringify({
              generatedIds: r.result.generatedIds,
              promptIds: r.result.promptIds,
              text: r.result.text,
              tokensPerSecond: r.result.tokensPerSecond,
              stoppedBy: r.result.stoppedBy,
              stepMs: r.result.stepMs,
              stageTimesMs: r.result.stageTimesMs,
              residentMs: r.result.residentMs,
              // Predictions as they stood before this answer, so they can be checked against it.
              plan: planJson(leader.lastRunPlan ?? leader.roomPlan),
            })}>${r.result.generatedIds.length} tokens, ${r.result.tokensPerSecond.toFixed(1)} tokens/s (${r.result.stoppedBy})</p>`
          : null
      }`;
  }

  /** The prompt box and this page's answer: the same on the leader and on every member phone. */
  private renderPrompt(ready: boolean) {
    const r = this.room;
    const a = r.answer;
    return html`
      <prompt-panel data-testid="prompt-panel" .busy=${a.busy} .ready=${ready} .output=${a.output}
        @generate=${(e: CustomEvent<GenerateDetail>) => r.generate(e.detail.input, e.detail.params)}
        @invalid=${(e: CustomEvent<string>) => (r.error = e.detail)}
        @stop=${() => r.stop()}></prompt-panel>
      ${a.status ? html`<p class="status" data-testid="answer-state">${a.status}</p>` : null}
      ${
        a.summary && !r.leader && a.summary.outcome !== 'failed' && a.summary.outcome !== 'refused'
          ? html`<p data-testid="result" data-json=${JSON.stringify({ ...a.summary, text: a.output })}>
              ${a.summary.generatedIds.length} tokens, ${a.summary.tokensPerSecond.toFixed(1)} tokens/s
              (${a.summary.outcome})</p>`
          : null
      }`;
  }

  private renderMember() {
    const r = this.room;
    // A member can ask once the room has a model loaded on its phones (the roster shows the plan).
    const ready = r.phones.some((p) => p.blocks) && !r.member?.leaderGone;
    return html`<section>${this.renderPrompt(ready)}</section>`;
  }

  override render() {
    const r = this.room;
    const selfId = r.leader ? 'leader' : r.member?.id;
    return html`
      <h1>Chorus</h1>
      <div class="sub">${r.phase === 'member' ? 'This phone is part of a room.' : 'Phones running one model together.'}</div>
      ${r.error ? html`<div class="error" data-testid="room-error">${r.error}</div>` : null}
      ${
        r.member?.leaderGone
          ? html`<div class="error" data-testid="leader-gone">The leader has left; this room is over.</div>`
          : null
      }
      ${
        r.phase === 'leader' || r.phase === 'member'
          ? html`<button data-testid="leave-room" @click=${() => r.leave()}>
              ${r.phase === 'leader' ? 'End room' : 'Leave room'}</button>`
          : null
      }
      ${r.phase === 'home' ? this.renderHome() : null}
      ${r.phase === 'connecting' ? html`<p>Connecting…</p>` : null}
      ${r.phase === 'leader' ? this.renderLeader() : null}
      ${r.phase === 'member' ? this.renderMember() : null}
      ${
        r.roomLoading
          ? html`<div class="room-progress" data-testid="room-progress">
              <progress max=${r.roomLoading.total} value=${r.roomLoading.loaded}></progress>
              <span>${r.roomLoading.text}</span>
            </div>`
          : null
      }
      ${
        r.phones.length
          ? html`<div class="phones" data-testid="phone-list">
            ${r.phones.map((p) => html`<phone-card data-testid="phone-card" data-state=${p.state} .phone=${p} ?self=${p.id === selfId}></phone-card>`)}
          </div>`
          : null
      }
      <cache-panel .models=${r.cacheModels} .notice=${r.cacheNotice}
        .usage=${r.cacheUsage ? { bytes: r.cacheUsage.bytes, quota: r.cacheUsage.quota ?? 0, persisted: !!r.cacheUsage.persisted } : null}
        @clear-model=${(e: CustomEvent<string>) => r.clearCachedModel(e.detail)}
        @clear-all=${() => r.clearCache()}></cache-panel>
      <details><summary>Log</summary><pre data-testid="log">${r.log.join('\n')}</pre></details>
    `;
  }
}

function planJson(rp: RoomPlan | null) {
  return rp
    ? {
        id: rp.plan.id,
        planner: rp.planner,
        stages: rp.stages,
        leftOut: rp.leftOut,
        predictedTokensPerSecond: rp.predictedTokensPerSecond,
        predictedTokenMs: rp.predictedTokenMs,
        predictedLinkMs: rp.predictedLinkMs,
        remoteHops: rp.remoteHops,
        solveMs: rp.solveMs,
      }
    : null;
}
