import path from 'node:path';
import { defineConfig } from 'vite';

// Builds the test pages alone (the browser tests pass the output directory), so they exercise the real
// IndexedDB and peerjs adapters without adding test hooks to the app.
export default defineConfig({
  root: import.meta.dirname,
  logLevel: 'warn',
  build: {
    target: 'es2022',
    emptyOutDir: true,
    rollupOptions: {
      input: {
        index: path.join(import.meta.dirname, 'index.html'),
        peer: path.join(import.meta.dirname, 'peer.html'),
      },
    },
  },
});
