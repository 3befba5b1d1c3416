import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The server serves this build and rewrites <base href> to its --base-path, so every
// URL in the build is relative (base './') and the app reads its base from document.baseURI.
export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir: '../src/flowscope/web/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // Swagger UI (the API reference page's only script) is one 1.5 MB bundle by itself.
    chunkSizeWarningLimit: 1700,
    rolldownOptions: {
      // The app, and the API reference page the server serves at /api/v1/docs.
      input: { index: 'index.html', 'api-docs': 'api-docs.html' },
    },
  },
  server: {
    proxy: {
      '/api': process.env.FLOWSCOPE_URL ?? 'http://127.0.0.1:8083',
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    // Formatting tests check local-time output: pin a zone with a UTC offset.
    env: { TZ: 'America/New_York' },
  },
});
