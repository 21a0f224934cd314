import { defineConfig } from 'vitest/config';

// Unit tests live beside the code (src/**/*.test.ts, signaling-server/**/*.test.ts, tools/**/*.test.ts).
// The browser suite (e2e/) is driven by playwright-core and runs through its own command.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'signaling-server/**/*.test.ts', 'tools/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    pool: 'forks',
  },
});
