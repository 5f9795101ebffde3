import { defineConfig } from 'vite';

// No @vitejs/plugin-react: Vite 8's own (Oxc) transform compiles JSX with React's automatic
// runtime. next-auth/react carries a "use client" directive that only means something to a
// React Server Components bundler; the warning about it is dropped.
export default defineConfig({
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    rolldownOptions: {
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
