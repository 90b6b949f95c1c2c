// Entry point of the `wmnn` command (bin/wmnn.js loads the compiled form of this file). The engine
// preload starts before the rest of the CLI is even loaded, hence the dynamic import.
import { endProcess } from '../native/binding.js';
import { preloadFor } from './preload.js';

const argv = process.argv.slice(2);
preloadFor(argv);
const { main } = await import('./program.js');
endProcess(await main(argv));
