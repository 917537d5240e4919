import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Built into web/dist and served by the manager under /ui/ (`npm run build:web`).
export default defineConfig({
  base: '/ui/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1000 },
});
