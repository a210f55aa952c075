import { defineConfig } from 'vitest/config';

// `npm run chaos`: the chaos campaign, outside the normal suite (it kills processes for minutes).
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
