// The wmnn command line: one subcommand per user-facing task, each in its own file; errors become
// one line on stderr and an exit status.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { quietLibtorchLogs } from '../distributed/env.js';
import { launchLocal, parseNproc, workersToStart } from '../distributed/launcher.js';
import { buildInfo } from '../native/engine.js';
import { PHASES, timedAsync, writeProfileIfAsked } from '../profile.js';
import { safeLine } from '../quote.js';
import { RunInterrupted } from '../training/interrupted.js';
import { CliError } from './common.js';
import { ENGINE_FLAGS, normalizeArgv, rangeError, UsageError, type FlagTable } from './flags.js';

/**
 * Every command's exit status (README, "Exit status"):
 * 0 done (verify: the mark is shown); 1 verify: the model was read but the mark is not shown;
 * 2 an error: a bad flag or an input that cannot be used, and nothing was written; 130 Ctrl-C
 * (128 + SIGINT, as a shell reports it), after a resumable checkpoint where the command keeps one.
 */
export const EXIT = { ok: 0, notShown: 1, error: 2, interrupted: 130 } as const;

/** The longest error line printed: room for a list of mismatched tensors, never a file's whole text. */
const MAX_ERROR_LINE = 2000;

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** `wmnn --version`: wmnn's version and the libtorch it runs on. */
function versionText(): string {
  let engine: string;
  try {
    const b = buildInfo();
    const cuda = b.cudaCompiled
      ? b.cudaAvailable
        ? `CUDA on (${b.cudaDevices} device${b.cudaDevices === 1 ? '' : 's'})`
        : 'CUDA built, no device visible'
      : 'CUDA off';
    engine = `libtorch ${b.torchVersion} (${b.torchSource}: ${b.torchDir}), ${cuda}`;
  } catch (e) {
    engine = e instanceof Error ? e.message : String(e);
  }
  return `wmnn ${pkg.version}\n${engine}`;
}

/** A command's module: how it adds itself to the program, and its flag table for argparse-style spellings (-wmt, unique prefixes). */
interface CommandModule {
  register: (program: Command) => void;
  table?: FlagTable;
}

/**
 * Every command, in the order `wmnn --help` lists them. A command's module (with the modules it
 * needs: the image decoders, the checkpoint reader, the trainer) is loaded only when it runs, so
 * a cold `wmnn predict` does not pay for keygen's fonts or train's dataset downloads.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  train: async () => {
    const m = await import('./train.js');
    return { register: m.registerTrain, table: m.TRAIN_TABLE };
  },
  predict: async () => {
    const m = await import('./predict.js');
    return { register: m.registerPredict, table: m.PREDICT_TABLE };
  },
  'fine-tune': async () => {
    const m = await import('./fine-tune.js');
    return { register: m.registerFineTune, table: m.FINETUNE_TABLE };
  },
  inspect: async () => ({ register: (await import('./inspect.js')).registerInspect }),
  export: async () => ({ register: (await import('./export.js')).registerExport }),
  keygen: async () => {
    const m = await import('./keygen.js');
    return { register: m.registerKeygen, table: m.KEYGEN_TABLE };
  },
  verify: async () => {
    const m = await import('./verify.js');
    return { register: m.registerVerify, table: m.VERIFY_TABLE };
  },
  attack: async () => {
    const m = await import('./attack.js');
    return { register: m.registerAttack, table: m.ATTACK_TABLE };
  },
  calibrate: async () => {
    const m = await import('./calibrate.js');
    return { register: m.registerCalibrate, table: m.CALIBRATE_TABLE };
  },
  reproduce: async () => {
    const m = await import('./reproduce.js');
    return { register: m.registerReproduce, table: m.REPRODUCE_TABLE };
  },
};

/** The commands to load for `argv`: the one it names, or all of them (help, a misspelt command: commander lists or suggests). */
function commandsFor(command: string | undefined): string[] {
  return command !== undefined && Object.hasOwn(COMMANDS, command) ? [command] : Object.keys(COMMANDS);
}

function loadCommands(names: readonly string[]): Promise<CommandModule[]> {
  return Promise.all(names.map((n) => (COMMANDS[n] as () => Promise<CommandModule>)()));
}

function programOf(modules: readonly CommandModule[]): Command {
  const program = new Command('wmnn')
    .description('Watermark image classifiers by backdooring (Adi et al., USENIX Security 2018) and verify the mark.')
    .option('-V, --version', 'print the version of wmnn and of the libtorch it runs on')
    // Set before the subcommands are added, which copy these settings: usage errors are one
    // `wmnn: ...` line and exit status 2 (EXIT.error), not commander's process.exit(1).
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`wmnn: ${text.replace(/^error: /, '').trimEnd()} (see --help)\n`) });
  for (const m of modules) m.register(program);
  return program;
}

/** The program with the commands `names` (default: every command) registered. */
export async function buildProgram(names: readonly string[] = Object.keys(COMMANDS)): Promise<Command> {
  return programOf(await loadCommands(names));
}

/** Thrown once the workers of `--nproc N` have run the command: the launcher ends with their status. */
class WorkersEnded extends Error {
  constructor(readonly status: number) {
    super(`the workers ended with status ${status}`);
    this.name = 'WorkersEnded';
  }
}

/** The commands that run as one process per rank; reproduce passes --nproc on to its train and attack steps. */
const RANKED_COMMANDS: ReadonlySet<string> = new Set(['train', 'fine-tune', 'attack']);

/**
 * Before a ranked command runs: with N > 1 ranks to start here (--nproc), this process becomes
 * their launcher (distributed/launcher) and runs the same arguments in each of them instead.
 */
function launchHook(args: readonly string[]) {
  return async (_program: Command, action: Command): Promise<void> => {
    const opts = action.opts<{ nproc?: string; device?: string; timeout?: number }>();
    if (opts.nproc === undefined) return;
    const bad = rangeError(ENGINE_FLAGS, opts); // the action checks the rest, in each worker
    if (bad !== null) throw new UsageError(bad);
    let workers: number;
    try {
      const nproc = parseNproc(opts.nproc);
      if (!RANKED_COMMANDS.has(action.name())) return;
      const info = () => buildInfo();
      workers = workersToStart(nproc, opts.device ?? 'auto', () => (info().cudaAvailable ? info().cudaDevices : 0));
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    if (workers > 0) throw new WorkersEnded(await launchLocal({ workers, args, timeoutSeconds: opts.timeout ?? 0 }));
  };
}

export async function main(argv: string[]): Promise<number> {
  const startMs = performance.now(); // everything before: Node's own start and the modules
  try {
    return await run(argv);
  } finally {
    writeProfileIfAsked(startMs);
  }
}

async function run(argv: string[]): Promise<number> {
  quietLibtorchLogs();
  const [command, ...rest] = argv;
  if (command === '-V' || command === '--version') {
    process.stdout.write(`${versionText()}\n`); // loads the addon, so only when asked
    return 0;
  }
  try {
    const names = commandsFor(command);
    const modules = await timedAsync(PHASES.start, () => loadCommands(names));
    const table = names.length === 1 ? modules[0]?.table : undefined;
    let args = argv;
    try {
      if (table) args = [command as string, ...normalizeArgv(rest, table)];
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e)); // like commander's
    }
    await programOf(modules).hook('preAction', launchHook(args)).parseAsync(args, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof WorkersEnded) return e.status; // the workers printed their own errors
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.error; // commander printed the message
    // Messages quote files' text escaped already; this is the last guard: one line, nothing a terminal acts on.
    process.stderr.write(`wmnn: ${safeLine(e instanceof Error ? e.message : String(e), MAX_ERROR_LINE)}\n`);
    if (e instanceof RunInterrupted) return EXIT.interrupted;
    if (e instanceof CliError || e instanceof UsageError) return e.code;
    return EXIT.error;
  }
}
