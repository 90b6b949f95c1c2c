// What the CLI does before it loads any command: for a command that runs the engine, the addon
// (and libtorch) starts loading on a native thread now (native/binding: preloadBinding), beside
// the loading of the command's modules and its first reads.
import { preloadBinding } from '../native/binding.js';

/** The commands that load the engine in this process (reproduce runs its steps as child processes). */
const ENGINE_COMMANDS: ReadonlySet<string> = new Set(['train', 'predict', 'fine-tune', 'verify', 'attack', 'calibrate']);

/**
 * Help needs no engine, and `--nproc` makes this process a launcher of workers that load their own.
 * Other arguments are not looked at: a usage error found later has only started a load in vain.
 */
const NO_ENGINE_FLAG = /^(-h|--help|--nproc(=.*)?)$/;

export function preloadFor(argv: readonly string[]): void {
  const [command, ...rest] = argv;
  if (command !== undefined && ENGINE_COMMANDS.has(command) && !rest.some((a) => NO_ENGINE_FLAG.test(a))) preloadBinding();
}
