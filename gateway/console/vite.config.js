// The console's build: Vue single-file components, Element Plus imported per component
// (unplugin-vue-components resolves <el-*> tags and their styles), hashed assets under /assets/.
import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";
import Components from "unplugin-vue-components/vite";
import { ElementPlusResolver } from "unplugin-vue-components/resolvers";

export default defineConfig({
  base: "/",
  plugins: [
    vue(),
    Components({ resolvers: [ElementPlusResolver()], dts: false }),
  ],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    chunkSizeWarningLimit: 800,
    // no inline scripts or data: URLs the Content-Security-Policy would refuse
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
});
