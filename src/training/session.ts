// The run scaffold shared by train, fine-tune and attack: read every input (the splits, the
// trigger set, the checkpoint), build the model on its device, only then write the run's log and
// conf files, upload the data once, and stop cleanly on Ctrl-C. A command supplies what differs
// (its checks, its epochs, its output) and gets a `Session` to run them in. In a data-parallel
// job (torchrun, srun, --nproc) this is where the rank joins it; rank 0 alone writes files.
import type { Checkpoint } from '../checkpoint/read.js';
import { firstImages, type ImageSet } from '../data/dataset.js';
import { loadSplit } from '../data/sources.js';
import { loadTriggerSet } from '../data/trigger-set.js';
import { joinJob, type Job } from '../distributed/join.js';
import type { DeviceData, Model } from '../native/engine.js';
import { RunLog } from './logs.js';
import type { StopFlag } from './loop.js';
import { classesOf, loadInto, saveModel, type SaveMeta } from './persist.js';
import { createModel, type AmpChoice } from './precision.js';
import type { ProgressMode } from './progress.js';

/** The data a run reads: the original's flags plus wmnn's synthetic sizes. */
export interface DataSpec {
  dataset: string;
  trainRoot: string;
  testRoot: string;
  syntheticTrain: number;
  syntheticTest: number;
  /** Only the first N images of each split (0: all): --train_size, --test_size. */
  trainSize: number;
  testSize: number;
  /** False when the run only evaluates (attack with pruning alone): the training split is not read. */
  needTrain: boolean;
}

/** The trigger set: the original's --wm_path folder and --wm_lbl labels file. */
export interface TriggerSpec {
  path: string;
  labelsFile: string;
}

/** How the engine runs: --device, --threads, --amp, and --timeout in a data-parallel job. */
export interface EngineSpec {
  device: string;
  threads: number;
  amp: AmpChoice;
  /** Seconds a rank waits for the others before it fails, naming the rank that did not answer. */
  timeout: number;
}

export interface SessionSpec {
  data: DataSpec;
  /** Absent: the run uses no trigger set (train without --wmtrain). */
  trigger?: TriggerSpec;
  engine: EngineSpec;
  /** The model to start from. */
  checkpoint?: Checkpoint;
  /**
   * Where the class count comes from: the data (train and fine-tune build the model the dataset
   * needs, and a checkpoint of another class count is refused, naming the mismatch), or the
   * checkpoint's `linear` layer (attack scores a model as it is; data with more classes is refused).
   */
  classesFrom: 'data' | 'checkpoint';
  /** Also restore the SGD momentum wmnn saved (resuming an interrupted run). */
  momentum?: boolean;
  /** Seeds the model's initialisation and every draw of the run (in a job: rank 0's, see Session.seed). */
  seed: number;
  /** The original's log_<runname>.txt and conf_<runname>.txt, written once every input was read. */
  log?: { dir: string; runname: string; conf: readonly (readonly [string, string])[] };
  /** The original's console line before the model is built ('==> Building model..'). */
  announceModel: string;
  say: (line: string) => void;
  progressMode: ProgressMode;
  /** What Ctrl-C leads to, for its message ("saving a resumable checkpoint"). */
  onStop: string;
}

/** A run's resources: the model and the data on its device, the log, the stop flag. */
export interface Session {
  model: Model;
  train?: DeviceData;
  test: DeviceData;
  trigger?: DeviceData;
  /** The sets as read (sizes, class counts, sources) before upload. */
  sets: { train?: ImageSet; test: ImageSet; trigger?: ImageSet };
  log?: RunLog;
  say: (line: string) => void;
  progressMode: ProgressMode;
  stop: StopFlag;
  /** The run's seed: the spec's, or in a job rank 0's (a seed drawn at random differs per rank). */
  seed: number;
  /** The job this run is a rank of; absent when it runs alone. */
  job?: Job;
  /** True on the rank that writes files (the log, checkpoints, reports): rank 0, or a lone run. */
  primary: boolean;
  /** persist.saveModel on the primary rank; nothing on the others. */
  saveModel: (path: string, meta: SaveMeta) => void;
}

/** The training split of a session that read one (every run that trains does). */
export function trainingData(s: Session): DeviceData {
  if (!s.train) throw new Error('this run did not read the training split');
  return s.train;
}

/** Which classes a dataset and a model disagree on, as one line. */
function checkClasses(sets: readonly (ImageSet | undefined)[], numClasses: number, ckpt: Checkpoint | undefined, dataset: string): void {
  for (const set of sets) {
    if (set && ckpt && set.numClasses > numClasses) {
      throw new Error(`${ckpt.file}: a ${numClasses}-class model cannot be used with ${dataset} (${set.numClasses} classes)`);
    }
  }
}

/**
 * Opens a session, runs `body` in it, and always releases the Ctrl-C handler. Nothing is written
 * before every input has been read and checked; the log files come next, then `body`.
 */
export async function withSession<T>(spec: SessionSpec, body: (s: Session) => Promise<T>): Promise<T> {
  const { data } = spec;
  const job = joinJob(spec.engine, spec.engine.timeout);
  const primary = !job || job.group.rank === 0;
  const seed = job ? job.group.share(spec.seed) : spec.seed;
  spec.say('==> Preparing data..');
  const train = data.needTrain
    ? firstImages(
        await loadSplit({ dataset: data.dataset, root: data.trainRoot, split: 'train', syntheticCount: data.syntheticTrain }),
        data.trainSize,
      )
    : undefined;
  const test = firstImages(
    await loadSplit({ dataset: data.dataset, root: data.testRoot, split: 'test', syntheticCount: data.syntheticTest }),
    data.testSize,
  );
  const numClasses = spec.classesFrom === 'checkpoint' && spec.checkpoint ? classesOf(spec.checkpoint) : test.numClasses;
  checkClasses([train, test], numClasses, spec.checkpoint, data.dataset);
  let trigger: ImageSet | undefined;
  if (spec.trigger) {
    spec.say('Loading watermark images');
    // Scaled like the data it is mixed into: the original's test transform, with the training data's Normalize.
    const { path, labelsFile } = spec.trigger;
    trigger = await loadTriggerSet({ path, labelsFile, numClasses, normalization: test.normalization });
  }

  spec.say(spec.announceModel);
  const model = createModel(job ? { ...spec.engine, device: job.device, threads: job.threads } : spec.engine, numClasses, { seed });
  if (spec.checkpoint) loadInto(model, spec.checkpoint, { momentum: spec.momentum ?? false });
  if (job) {
    model.joinGroup(job.group);
    spec.say(`Data parallel: ${job.group.worldSize} ranks (${job.rendezvous.source}), ${model.device}, ${model.threads} thread(s) each`);
  } else if (model.device !== 'cpu') {
    spec.say(`Using ${model.device}`);
  }

  let log: RunLog | undefined;
  if (spec.log && primary) {
    log = new RunLog(spec.log.dir, spec.log.runname);
    log.writeConf(spec.log.conf);
  }
  const session: Session = {
    model,
    ...(train ? { train: model.upload(train) } : {}),
    test: model.upload(test),
    ...(trigger ? { trigger: model.upload(trigger) } : {}),
    sets: { ...(train ? { train } : {}), test, ...(trigger ? { trigger } : {}) },
    ...(log ? { log } : {}),
    say: spec.say,
    progressMode: spec.progressMode,
    stop: { requested: false },
    seed,
    ...(job ? { job } : {}),
    primary,
    saveModel: (path, meta) => {
      if (primary) saveModel(path, model, meta);
    },
  };
  const stopOnSigint = (): void => {
    if (session.stop.requested) process.exit(130); // files are written atomically: nothing is left half-done
    session.stop.requested = true;
    spec.say(`\nInterrupted: finishing this step, then ${spec.onStop} (Ctrl-C again to quit now)`);
  };
  // In a job, the ranks agree on stopping at each step (loop.ts), so one rank's request stops all.
  // torchrun and Slurm end a job with SIGTERM: stop the same way, but never "quit now".
  const stopOnSigterm = (): void => {
    session.stop.requested = true;
  };
  process.on('SIGINT', stopOnSigint);
  if (job) process.on('SIGTERM', stopOnSigterm);
  try {
    return await body(session);
  } finally {
    process.off('SIGINT', stopOnSigint);
    process.off('SIGTERM', stopOnSigterm);
  }
}
