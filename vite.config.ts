import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

// The UI lives in ui/ and builds to ui/dist, which `cohort serve --ui ui/dist`
// and the desktop app serve. `npm run dev` proxies /api to a running
// `cohort serve` given by COHORT_URL (e.g. http://127.0.0.1:7878); open the dev
// page with ?token=… copied from the server's URL.
const target = process.env.COHORT_URL ? new URL(process.env.COHORT_URL).origin : 'http://127.0.0.1:7878';

export default defineConfig({
  root: 'ui',
  base: './',
  plugins: [svelte({ configFile: fileURLToPath(new URL('./svelte.config.js', import.meta.url)) })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/api': {
        target,
        changeOrigin: true,
        // The server refuses foreign origins; the dev server is a stand-in
        // for the page it would serve itself.
        configure: (proxy) => {
          proxy.on('proxyReq', (req) => {
            if (req.getHeader('origin')) req.setHeader('origin', target);
          });
        },
      },
    },
  },
});
