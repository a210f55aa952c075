import { defineConfig } from 'vitest/config';

// `npm run chaos`: the chaos campaign, outside the normal suite (it kills processes for minutes).
export default defineConfig({
  test: {
    // The normal suite's fuzzer again, at 160 inputs a route (66 routes: 10,560 inputs).
    include: ['test/chaos/**/*.chaos.ts', 'test/http.fuzz.test.ts'],
    env: { FUZZ_RUNS_PER_ROUTE: '160' },
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
