/**
 * What this phone keeps in its model cache: per model its size and when it was last used, the storage
 * quota, and whether the browser may evict it. Presentational: clearing is asked for with events and
 * done (and re-listed) by RoomController.
 */
import { css, html, LitElement } from 'lit';
import { customElement, property } from 'lit/decorators.js';

export interface CachedModel {
  model: string;
  files: number;
  bytes: number;
  /** Epoch milliseconds. */
  lastUsed: number;
}

export interface StorageUsage {
  bytes: number;
  quota: number;
  persisted: boolean;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(0)} kB`;
  return `${bytes} B`;
}

/** '5 min ago'; English like the rest of the page. Not live: it is as fresh as the last render. */
export function relativeTime(then: number, now: number = Date.now()): string {
  const s = Math.max(0, (now - then) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  const days = Math.floor(s / 86400);
  if (days < 60) return days === 1 ? 'yesterday' : `${days} days ago`;
  return new Date(then).toLocaleDateString();
}

@customElement('cache-panel')
export class CachePanel extends LitElement {
  @property({ attribute: false }) models: CachedModel[] = [];
  @property({ attribute: false }) usage: StorageUsage | null = null;
  @property({ attribute: false }) notice: string | null = null;

  static override styles = css`
    :host { display: block; }
    details { border: 1px solid #ccd; border-radius: 10px; background: #fff; }
    summary { padding: 8px 12px; cursor: pointer; font-weight: 600; }
    summary .total { font-weight: 400; color: #667; font-size: 0.85em; margin-left: 6px; }
    .body { padding: 0 12px 10px; }
    .notice { background: #fff1c9; border: 1px solid #e8cf7a; padding: 8px 12px; border-radius: 8px; margin-bottom: 8px; }
    ul { list-style: none; margin: 0; padding: 0; }
    li { display: flex; align-items: center; gap: 8px; padding: 6px 0; border-top: 1px solid #eef; }
    li:first-child { border-top: 0; }
    .name { flex: 1; min-width: 0; overflow-wrap: anywhere; }
    .meta { color: #667; font-size: 0.8em; }
    .empty { color: #667; font-style: italic; margin: 4px 0 8px; }
    .usage { font-size: 0.85em; color: #445; margin-top: 8px; display: flex; flex-direction: column; gap: 4px; }
    .bar { height: 6px; background: #eef; border-radius: 3px; overflow: hidden; }
    .bar > div { height: 100%; background: #7a88e0; }
    .persist { font-size: 0.8em; padding: 1px 8px; border-radius: 99px; align-self: flex-start; }
    .persist.yes { background: #d9f5dd; } .persist.no { background: #fde9d0; }
    .actions { display: flex; justify-content: flex-end; margin-top: 8px; }
    button { font: inherit; font-size: 0.85em; padding: 4px 10px; }
  `;

  private clear(model: string): void {
    this.dispatchEvent(
      new CustomEvent<string>('clear-model', { detail: model, bubbles: true, composed: true }),
    );
  }

  private renderUsage() {
    const u = this.usage;
    if (!u)
      return html`<div class="usage" data-testid="cache-usage">Storage use is unknown in this browser.</div>`;
    const share = u.quota > 0 ? Math.min(1, u.bytes / u.quota) : 0;
    return html`<div class="usage" data-testid="cache-usage">
      <span>${formatBytes(u.bytes)} used of ${formatBytes(u.quota)} available to this page</span>
      <div class="bar" role="presentation"><div style="width: ${(share * 100).toFixed(1)}%"></div></div>
      <span class="persist ${u.persisted ? 'yes' : 'no'}" data-testid="cache-persisted" data-persisted=${String(u.persisted)}
        >${u.persisted ? 'Persistent storage' : 'Not persistent: the browser may clear it when space runs low'}</span
      >
    </div>`;
  }

  override render() {
    // Most recently used first: that is the one the user is likely about to load again.
    const models = [...this.models].sort((a, b) => b.lastUsed - a.lastUsed);
    const total = models.reduce((sum, m) => sum + m.bytes, 0);
    const now = Date.now();
    return html`
      ${this.notice ? html`<div class="notice" data-testid="cache-notice" role="status">${this.notice}</div>` : null}
      <details data-testid="cache-panel">
        <summary>Cached models<span class="total">${models.length ? `${models.length} · ${formatBytes(total)}` : 'empty'}</span></summary>
        <div class="body">
          ${
            models.length === 0
              ? html`<p class="empty" data-testid="cache-empty">Nothing cached yet</p>`
              : html`<ul>
                ${models.map(
                  (m) => html`<li data-testid="cache-row" data-model=${m.model}>
                    <div class="name">
                      ${m.model}
                      <div class="meta">
                        ${formatBytes(m.bytes)} · ${m.files} ${m.files === 1 ? 'file' : 'files'} ·
                        <span title=${new Date(m.lastUsed).toLocaleString()}>used ${relativeTime(m.lastUsed, now)}</span>
                      </div>
                    </div>
                    <button data-testid="clear-model" data-model=${m.model} @click=${() => this.clear(m.model)}>Clear</button>
                  </li>`,
                )}
              </ul>`
          }
          ${this.renderUsage()}
          <div class="actions">
            <button data-testid="clear-all" ?disabled=${models.length === 0}
              @click=${() => this.dispatchEvent(new CustomEvent('clear-all', { bubbles: true, composed: true }))}>Clear all</button>
          </div>
        </div>
      </details>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'cache-panel': CachePanel;
  }
}
