import { defineConfig } from 'vitest/config';

// Browser tests: real Chromium pages, a real PeerServer, real WebRTC. Run one file at a time: each room
// already puts several pages on this machine's cores.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
