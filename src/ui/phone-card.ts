/** One phone of the room: its name, state, load progress and the blocks it holds. */
import { css, html, LitElement } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { PhoneInfo } from '../core/protocol/messages';

@customElement('phone-card')
export class PhoneCard extends LitElement {
  @property({ attribute: false }) phone!: PhoneInfo;
  @property({ type: Boolean }) self = false;

  static override styles = css`
    :host { display: block; border: 1px solid #ccd; border-radius: 10px; padding: 10px 12px; background: #fff; }
    .top { display: flex; justify-content: space-between; gap: 8px; font-weight: 600; }
    .state { font-size: 0.8em; padding: 2px 8px; border-radius: 99px; background: #eef; }
    .state.ready { background: #d9f5dd; } .state.error, .state.left { background: #fde0e0; } .state.busy { background: #fff1c9; }
    .detail { color: #556; font-size: 0.85em; margin-top: 4px; }
    progress { width: 100%; }
  `;

  override render() {
    const p = this.phone;
    const blocks = p.blocks ? `blocks ${p.blocks[0]}–${p.blocks[1]}` : 'no blocks yet';
    const label =
      p.state === 'loading' && p.total
        ? `loading ${Math.floor((100 * (p.loaded ?? 0)) / p.total)}%`
        : p.state;
    return html`
      <div class="top"><span>${p.name}${this.self ? ' · you' : ''}</span><span class="state ${p.state}">${label}</span></div>
      <div class="detail">${blocks}</div>
      ${p.state === 'loading' && p.total ? html`<progress max=${p.total} value=${p.loaded ?? 0}></progress>` : null}
      ${p.detail ? html`<div class="detail">${p.detail}</div>` : null}
      ${p.measured ? html`<div class="detail measured" data-testid="phone-measured">${p.measured}</div>` : null}
    `;
  }
}
