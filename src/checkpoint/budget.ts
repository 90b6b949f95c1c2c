// What one read of a file may spend, so that every input ends quickly in a result or a one-line
// error however it is built (docs/checkpoint.md, "Resource budget"). One budget follows a read
// through every layer, in three currencies:
// - bytes held: the file, every record inflated from it, the contents of strs and bytes the
//   pickle builds, tensor copies (work on them is proportional to their size, and fast);
// - objects built: every container, item, dict entry, memo index and handler-built object (each
//   costs tens to hundreds of bytes of heap and a fraction of a microsecond);
// - steps: every opcode, and every element walked or copied again (a memoized value may be used
//   many times).

const MiB = 1 << 20;

export interface BudgetLimits {
  /** Largest file read at all (checked with fstat, before reading). */
  fileBytes: number;
  /** Bytes a read may hold: the file, inflated records, str/bytes contents, tensor copies. */
  heldBytes: number;
  /** Objects, container items, dict entries and memo indices the pickles may build. */
  objects: number;
  /** Opcodes run plus elements walked or copied. */
  steps: number;
}

/**
 * A ResNet-18 checkpoint is 45 MB, 89 MB with wmnn's momentum, and its pickle builds about 10,000
 * objects in about 20,000 steps. These limits leave room for several times that, while the worst
 * case (every limit spent at once) stays within about 700 MB of process memory and a second or
 * two of work on a slow core.
 */
export const CHECKPOINT_LIMITS: BudgetLimits = {
  fileBytes: 256 * MiB,
  heldBytes: 384 * MiB,
  objects: 1_000_000,
  steps: 16_000_000,
};

/**
 * Data pickles (CIFAR's python-format batches): CIFAR-100's training batch is one 150 MB array,
 * read by Python 2's cPickle as a latin1 str, plus 150,000 labels and 50,000 file names.
 */
export const DATA_PICKLE_LIMITS: BudgetLimits = {
  fileBytes: 1024 * MiB,
  heldBytes: 1024 * MiB,
  objects: 4_000_000,
  steps: 32_000_000,
};

export class BudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetError';
  }
}

export class ReadBudget {
  private heldNow = 0;
  private objectsNow = 0;
  private stepsNow = 0;

  constructor(readonly limits: BudgetLimits = CHECKPOINT_LIMITS) {}

  get held(): number {
    return this.heldNow;
  }

  get steps(): number {
    return this.stepsNow;
  }

  get objects(): number {
    return this.objectsNow;
  }

  /** Count `bytes` as held for the rest of the read; `what` names the cause in the error. */
  hold(bytes: number, what: string): void {
    this.heldNow += bytes;
    if (this.heldNow > this.limits.heldBytes) {
      throw new BudgetError(`${what} takes the memory held past the ${this.limits.heldBytes / MiB} MiB one read may use`);
    }
  }

  /** Count `n` objects built. */
  build(n: number): void {
    this.objectsNow += n;
    if (this.objectsNow > this.limits.objects) {
      throw new BudgetError(`more than ${this.limits.objects.toLocaleString('en-US')} objects built (the limit for one read)`);
    }
  }

  /** Count `n` steps of work. */
  step(n: number): void {
    this.stepsNow += n;
    if (this.stepsNow > this.limits.steps) {
      throw new BudgetError(`more than ${this.limits.steps.toLocaleString('en-US')} steps of work (the limit for one read)`);
    }
  }
}
