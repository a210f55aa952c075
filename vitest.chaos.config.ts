import { defineConfig } from 'vitest/config';

// `npm run chaos`: the chaos campaign, outside the normal suite (it kills processes for minutes).
export default defineConfig({
  test: {
    // The normal suite's fuzzer again, at 150 inputs a route (over 10,000 in all).
    include: ['test/chaos/**/*.chaos.ts', 'test/http.fuzz.test.ts'],
    env: { FUZZ_RUNS_PER_ROUTE: '150' },
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
