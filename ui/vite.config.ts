import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * A gzipped copy beside each script and stylesheet, which the server sends as it is
 * (api/app.py): compressing the app's half a megabyte on every first visit cost the
 * server tens of milliseconds of CPU while the page waited for it.
 */
function precompress(): Plugin {
  return {
    name: 'flowscope-precompress',
    apply: 'build',
    // Once the files are written: until then Vite is still rewriting the chunks' code.
    writeBundle(options, bundle) {
      for (const file of Object.values(bundle)) {
        if (!/\.(js|css)$/.test(file.fileName) || !options.dir) continue;
        const source = file.type === 'chunk' ? file.code : file.source;
        writeFileSync(join(options.dir, `${file.fileName}.gz`), gzipSync(source, { level: 9 }));
      }
    },
  };
}

// The server serves this build and rewrites <base href> to its --base-path, so every
// URL in the build is relative (base './') and the app reads its base from document.baseURI.
export default defineConfig({
  base: './',
  plugins: [react(), precompress()],
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
