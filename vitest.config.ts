import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two at once even on two cores: the Linux boot files spend their time
    // waiting for a boot in a child process, not in their own worker.
    maxWorkers: 2,
  },
});
