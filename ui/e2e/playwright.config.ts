import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';

// Runs against a live `flowscope serve` over real Metaflow runs, named by FLOWSCOPE_URL
// (tests/e2e_server.py starts one and also passes FLOWSCOPE_FIXTURES).
const url = process.env.FLOWSCOPE_URL;
if (!url)
  throw new Error('Set FLOWSCOPE_URL to a running flowscope server (e.g. http://127.0.0.1:8083)');

export default defineConfig({
  testDir: '.',
  // The scale benchmark (timeline.perf.ts) runs only with `npm run perf`.
  testMatch: process.env.PERF ? '*.perf.ts' : '*.spec.ts',
  outputDir: fileURLToPath(new URL('../../test-output/e2e-results/', import.meta.url)),
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    // An action, a navigation or a wait for a response that never comes fails at its own
    // step, named, instead of running silently into the test's timeout.
    actionTimeout: 30_000,
    navigationTimeout: 60_000,
    baseURL: `${url.replace(/\/+$/, '')}/`,
    viewport: { width: 1440, height: 900 },
    colorScheme: 'light',
    timezoneId: 'UTC',
    screenshot: 'only-on-failure',
    launchOptions: {
      // Debian's chromium package; the test command installs it. No browser downloads.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});
