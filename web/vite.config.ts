import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const root = fileURLToPath(new URL(".", import.meta.url));

// The UI is served by `mloop server` from web/dist; in development, proxy the API to a running server.
export default defineConfig({
  root,
  base: "/",
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      "/api": process.env.MLOOP_DEV_API ?? "http://127.0.0.1:5000",
      "/ajax-api": process.env.MLOOP_DEV_API ?? "http://127.0.0.1:5000",
    },
  },
});
