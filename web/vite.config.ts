// Two pages, two entries: the user page (index.html, served at /) and the admin dashboard (admin.html,
// served at /admin). Shared code becomes shared chunks; the chart library is imported lazily by the
// dashboard only, so the user page never downloads it. Output names carry a content hash, which is
// what lets the server cache /assets/* for a year.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [react()],
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
    rollupOptions: { input: { index: here('index.html'), admin: here('admin.html') } },
  },
});
