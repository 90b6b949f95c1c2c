// The wmnn command line: one subcommand per user-facing task, each in its own file; errors become
// one line on stderr and an exit status.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { quietLibtorchLogs } from '../distributed/env.js';
import { launchLocal, parseNproc, workersToStart } from '../distributed/launcher.js';
import { buildInfo } from '../native/engine.js';
import { RunInterrupted } from '../training/session.js';
import { ATTACK_TABLE, registerAttack } from './attack.js';
import { CliError, requirePositive } from './common.js';
import { registerExport } from './export.js';
import { FINETUNE_TABLE, registerFineTune } from './fine-tune.js';
import { normalizeArgv, type FlagTable } from './flags.js';
import { KEYGEN_TABLE, registerKeygen } from './keygen.js';
import { registerInspect } from './inspect.js';
import { PREDICT_TABLE, registerPredict } from './predict.js';
import { registerTrain, TRAIN_TABLE } from './train.js';
import { registerVerify, VERIFY_TABLE } from './verify.js';

/** 128 + SIGINT, as a shell reports a process ended by Ctrl-C. */
const EXIT_INTERRUPTED = 130;

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** `wmnn --version`: wmnn's version and the libtorch it runs on. */
function versionText(): string {
  let engine: string;
  try {
    const b = buildInfo();
    const cuda = b.cudaCompiled ? (b.cudaAvailable ? `CUDA on (${b.cudaDevices} device${b.cudaDevices === 1 ? '' : 's'})` : 'CUDA built, no device visible') : 'CUDA off';
    engine = `libtorch ${b.torchVersion} (${b.torchSource}: ${b.torchDir}), ${cuda}`;
  } catch (e) {
    engine = e instanceof Error ? e.message : String(e);
  }
  return `wmnn ${pkg.version}\n${engine}`;
}

// Each command's flag table, for argparse-style spellings (-wmt, unique prefixes).
const TABLES: Record<string, FlagTable> = { train: TRAIN_TABLE, predict: PREDICT_TABLE, 'fine-tune': FINETUNE_TABLE, keygen: KEYGEN_TABLE, verify: VERIFY_TABLE, attack: ATTACK_TABLE };

export function buildProgram(): Command {
  const program = new Command('wmnn')
    .description('Watermark image classifiers by backdooring (Adi et al., USENIX Security 2018) and verify the mark.')
    .option('-V, --version', 'print the version of wmnn and of the libtorch it runs on')
    .showHelpAfterError('(run with --help for usage)');
  registerTrain(program);
  registerPredict(program);
  registerFineTune(program);
  registerInspect(program);
  registerExport(program);
  registerKeygen(program);
  registerVerify(program);
  registerAttack(program);
  program.exitOverride();
  return program;
}

/** Thrown once the workers of `--nproc N` have run the command: the launcher ends with their status. */
class WorkersEnded extends Error {
  constructor(readonly status: number) {
    super(`the workers ended with status ${status}`);
    this.name = 'WorkersEnded';
  }
}

/**
 * Before a command with --nproc runs: with N > 1 ranks to start here, this process becomes their
 * launcher (distributed/launcher) and runs the same arguments in each of them instead.
 */
function launchHook(args: readonly string[]) {
  return async (_program: Command, action: Command): Promise<void> => {
    const opts = action.opts<{ nproc?: string; device?: string; timeout?: number }>();
    if (opts.nproc === undefined) return;
    let workers: number;
    try {
      requirePositive('timeout', opts.timeout ?? 0);
      const info = () => buildInfo();
      workers = workersToStart(parseNproc(opts.nproc), opts.device ?? 'auto', () => (info().cudaAvailable ? info().cudaDevices : 0));
    } catch (e) {
      throw new CliError(e instanceof Error ? e.message : String(e), 2);
    }
    if (workers > 0) throw new WorkersEnded(await launchLocal({ workers, args, timeoutSeconds: opts.timeout ?? 0 }));
  };
}

export async function main(argv: string[]): Promise<number> {
  quietLibtorchLogs();
  const [command, ...rest] = argv;
  if (command === '-V' || command === '--version') {
    process.stdout.write(`${versionText()}\n`); // loads the addon, so only when asked
    return 0;
  }
  const table = command !== undefined ? TABLES[command] : undefined;
  try {
    let args = argv;
    try {
      if (table) args = [command as string, ...normalizeArgv(rest, table)];
    } catch (e) {
      throw new CliError(e instanceof Error ? e.message : String(e), 2); // a usage error, like commander's
    }
    await buildProgram().hook('preAction', launchHook(args)).parseAsync(args, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof WorkersEnded) return e.status;
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander printed the message
    if (e instanceof RunInterrupted) {
      process.stderr.write(`wmnn: ${e.message}\n`);
      return EXIT_INTERRUPTED;
    }
    if (e instanceof CliError) {
      process.stderr.write(`wmnn: ${e.message}\n`);
      return e.code;
    }
    process.stderr.write(`wmnn: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
