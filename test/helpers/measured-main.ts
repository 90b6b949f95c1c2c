// The entry point measured-cli.ts bundles: wmnn's main, then this process's own cost (exit status,
// CPU time, peak RSS from getrusage) as one JSON line on file descriptor 3.
import { writeSync } from 'node:fs';
import { main } from '../../src/cli/program.js';

const code = await main(process.argv.slice(2));
const cpu = process.cpuUsage();
writeSync(3, `${JSON.stringify({ code, cpuMs: (cpu.user + cpu.system) / 1000, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
process.exitCode = code;
