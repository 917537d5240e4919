import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One real fleet per run: integration test files share it and run one after another.
    fileParallelism: false,
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts', 'web/src/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          // One more attempt for a test that meets a passing fault of the machine (a daemon that crashed
          // and was restarted, see global-setup.ts). scripts/test names every test that needed it.
          retry: 1,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/build-web.ts', 'test/integration/global-setup.ts'],
          retry: 1,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
