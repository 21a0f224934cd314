// The peerjs signaling relay (the `peer` package's PeerServer) mounted on our own HTTP(S) server.
// It only forwards WebRTC offers/answers/ICE candidates between phones; prompts and activations
// travel phone-to-phone over the data channels and never pass through here.
import { AsyncLocalStorage, createHook, executionAsyncResource } from 'node:async_hooks';
import type http from 'node:http';
import type https from 'node:https';
import type { Express } from 'express';
import { ExpressPeerServer } from 'peer';
import { WebSocketServer } from 'ws';

/** Where the relay is mounted. Clients use `new Peer({ host, port, path: PEERJS_PATH, secure })`. */
export const PEERJS_PATH = '/peerjs';
/** The peerjs connection key. It is not a secret; peerjs clients send 'peerjs' by default. */
export const PEERJS_KEY = 'peerjs';

export interface PeerRelay {
  /** Number of phones currently connected to the relay. */
  connectedPeers(): number;
  /** Disconnects every peer and stops the relay's housekeeping timers. */
  close(): void;
}

export function mountPeerRelay(
  app: Express,
  server: http.Server | https.Server,
  log: (line: string) => void,
): PeerRelay {
  let wss: WebSocketServer | undefined;
  const peer = ExpressPeerServer(server, {
    path: '/',
    key: PEERJS_KEY,
    allow_discovery: false, // phones learn each other's ids from the room, not from a server listing
    // Keep a handle on the WebSocket server: `peer` offers no close(), so we end connections ourselves.
    createWebSocketServer: (options) => {
      wss = new WebSocketServer(options);
      return wss;
    },
  });

  // Open sockets, counted by ws itself, so reconnects and timeouts cannot make the number drift.
  const online = (): number => wss?.clients.size ?? 0;
  peer.on('connection', () => log(`peer connected (${online()} online)`));
  peer.on('disconnect', () => log(`peer disconnected (${online()} online)`));
  peer.on('error', (err) => log(`signaling error: ${String(err)}`));

  // Mounting fires the sub-app's 'mount' event, which is when `peer` creates its WebSocket server
  // and starts its timers; do it inside a tracked scope so close() can stop those timers.
  const timers = trackTimersStartedBy(() => app.use(PEERJS_PATH, peer));

  return {
    connectedPeers: online,
    close() {
      timers.stop();
      for (const client of wss?.clients ?? []) client.terminate();
      wss?.close();
    },
  };
}

/**
 * `peer` re-arms two setTimeout loops forever (message expiry, dead-connection checks) and has no
 * way to stop them, so a process that closed the server would never exit. Node's async hooks let
 * us see every Timeout created in the call below or, transitively, from those timers' callbacks
 * (AsyncLocalStorage follows the chain), keep the pending ones, and clear them on stop().
 * The hook only runs while the relay is open.
 */
function trackTimersStartedBy(start: () => void): { stop(): void } {
  const pending = new Set<object>();
  const scope = new AsyncLocalStorage<Set<object>>();
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type !== 'Timeout' || scope.getStore() !== pending) return;
      // Created from inside a tracked timer's callback: that timer has fired and is done.
      pending.delete(executionAsyncResource());
      pending.add(resource);
    },
  });
  hook.enable();
  scope.run(pending, start);
  return {
    stop() {
      hook.disable();
      for (const timer of pending) clearTimeout(timer as NodeJS.Timeout);
      pending.clear();
    },
  };
}
