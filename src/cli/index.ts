// Entry point of the `wmnn` command (bin/wmnn.js loads the compiled form of this file).
import { main } from './program.js';

process.exitCode = await main(process.argv.slice(2));
