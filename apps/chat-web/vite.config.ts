/**
 * The chat's web build: the app (`index.html`), the widget's frame (`widget.html`) and the widget's
 * loader for host pages (`widget.js`, at the root under a fixed name, since host pages link it).
 * After the build it prints what the widget loads before its first message, gzipped, and writes it
 * to `widget-size.json`.
 */

import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Sums the gzipped sizes of the loader, the frame's page and what the frame's entry imports statically. */
function widgetSize(): Plugin {
  return {
    name: 'switchboard-widget-size',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const gz = (source: string | Uint8Array) => gzipSync(source, { level: 9 }).length;
      const files = new Map<string, number>();
      const visit = (name: string) => {
        const item = bundle[name];
        if (!item || files.has(name)) return;
        if (item.type === 'asset') {
          files.set(name, gz(item.source));
          return;
        }
        files.set(name, gz(item.code));
        for (const css of item.viteMetadata?.importedCss ?? []) visit(css);
        for (const imported of item.imports) visit(imported);
      };
      for (const [name, item] of Object.entries(bundle)) {
        if (name === 'widget.js' || name === 'widget.html') visit(name);
        if (item.type === 'chunk' && item.isEntry && item.facadeModuleId?.endsWith('widget.html'))
          visit(name);
      }
      const total = [...files.values()].reduce((a, b) => a + b, 0);
      const report = { gzipBytes: total, files: Object.fromEntries(files) };
      this.emitFile({
        type: 'asset',
        fileName: 'widget-size.json',
        source: `${JSON.stringify(report, null, 2)}\n`,
      });
      console.log(`widget until its first message: ${(total / 1024).toFixed(1)} KiB gzipped`);
    },
  };
}

export default defineConfig({
  build: {
    rollupOptions: {
      input: {
        main: here('./index.html'),
        widget: here('./widget.html'),
        'widget-loader': here('./src/widget/loader.ts'),
      },
      output: {
        // The SignalR client and MessagePack, shared by the app and the widget, in a chunk named for them.
        advancedChunks: { groups: [{ name: 'signalr', test: /node_modules[\\/]@(microsoft|msgpack)[\\/]/ }] },
        entryFileNames: (chunk) => (chunk.name === 'widget-loader' ? 'widget.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
  plugins: [widgetSize()],
});
