#!/usr/bin/env node
// The wmnn command. The TypeScript is compiled to dist/ by `npm run setup`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('wmnn: not built yet; run `npm run setup` in ' + fileURLToPath(new URL('..', import.meta.url)));
  process.exit(2);
}
await import(entry.href);
