// Hostile files cost nothing (docs/checkpoint.md, "Resource budget"): every class of resource
// bomb, terminal injection and special file goes through the real command line as a child process
// (`wmnn inspect`, and `verify`/`predict` for some), which must end -- refused with exit status 2,
// or loaded where the file is legitimate but large -- within 5 s of CPU and 1 GiB of peak memory,
// with exactly one clean `wmnn:` line on stderr: no control bytes, no long echo of the file. The
// files are built here, a few megabytes each where the attack allows it (gigabyte deflate streams,
// tuple graphs, memo reuse).
//
// Time is the child's CPU time, not its wall time: the machine may be shared, and the limit is
// about the work a file can cause. A child that runs past 60 s of wall time is killed and fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { measuredCli, type MeasuredCli, type MeasuredRun } from '../helpers/measured-cli.js';
import { tempDir } from '../helpers/python.js';
import {
  checkpointZip,
  nestedZip,
  netPickle,
  pk,
  repeat,
  str,
  tensorPickle,
  tupleDag,
  u32,
  zerosDeflated,
  type RawRecord,
} from './hostile-files.js';

const MiB = 1 << 20;
const CPU_LIMIT_MS = 5000;
const RSS_LIMIT_BYTES = 1 << 30;
/** Children run two at a time (the suite's machine has two cores). */
const PARALLEL = 2;
/** The exit status of an error (src/cli/program.ts, EXIT.error). */
const EXIT_ERROR = 2;
/** The repository's demo trigger set; verify and predict refuse the files before they use it. */
const TRIGGER_SET = resolve('data/trigger_set');
// Control characters a terminal acts on: C0 but newline, DEL, C1.
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

/** The commands besides `inspect` that a file also goes through. */
type Via = 'verify' | 'predict';

interface Case {
  name: string;
  /** Builds the file (or special file) and returns its path. */
  make: (dir: string) => string;
  /** A refusal's message, or 'loads' for a file `inspect` must read successfully. */
  expect: RegExp | 'loads';
  json?: boolean;
  /** Also run `verify`/`predict --testwm` on it: refused with `viaExpect` (default: `expect`). */
  via?: readonly Via[];
  viaExpect?: RegExp;
  /** Only through `via`, not `inspect`. */
  viaOnly?: boolean;
}

function write(dir: string, name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const ESC_SCREEN = '\x1b[2J\x1b[H\x1b[32mwmnn: checkpoint OK\x1b[0m';

/** A state_dict `{name: tensor}` whose tensor is storage '0' at `location`, with that record present. */
function oneTensorStateDict(name: string, location: string): Uint8Array {
  return checkpointZip(pk('\x80\x02}', str(name), tensorPickle('0', location), 's.'), [{ name: 'ckpt/data/0', data: new Uint8Array(4) }]);
}

/** CRC-32 of `n` MiB of zeros, without holding them. */
function zerosCrc(n: number): number {
  const zeros = Buffer.alloc(MiB);
  let c = 0;
  for (let i = 0; i < n; i++) c = crc32(zeros, c);
  return c;
}

/** A record of `mib` MiB of zeros, deflated (about a thousandth of that), declaring its true size. */
function zerosRecord(name: string, mib: number): RawRecord {
  return { name, data: zerosDeflated(mib * MiB), method: 8, size: mib * MiB };
}

/** `{'w': tensor}` over one float32 storage of `mib` MiB held in `record`. */
function oneStorage(mib: number, record: RawRecord): Uint8Array {
  const numel = (mib * MiB) / 4;
  return checkpointZip(pk('\x80\x02}', str('w'), tensorPickle('0', 'cpu', numel, [numel]), 's.'), [record]);
}

/** `n` memo PUTs (BINPUT with a 4-byte index), the cheapest way to make the memo grow. */
function memoPuts(n: number): Buffer {
  const puts = Buffer.alloc(5 * n);
  for (let i = 0; i < n; i++) {
    puts[5 * i] = 0x72;
    puts.writeUInt32LE(i, 5 * i + 1);
  }
  return puts;
}

/** A legacy file's magic number, protocol and system-info pickles, before its object pickle. */
const LEGACY_HEADER = pk(
  '\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.',
  '\x80\x02M\xe9\x03.',
  '\x80\x02}',
  str('little_endian'),
  '\x88s.',
);

/** A dict whose one key (the pickle of `key`, memoised) is set `sets` times: every set hashes it again. */
const keyBomb = (key: Uint8Array, sets: number): Uint8Array =>
  checkpointZip(pk('\x80\x02}', key, 'q\x00Ns', repeat('h\x00Ns', sets - 1), '.'));
const bytesKey = (n: number): Uint8Array => pk('B', u32(n), new Uint8Array(n));

const CASES: Case[] = [
  {
    name: 'a 16-level tuple DAG as a dict key',
    make: (d) => write(d, 'dag-key.t7', checkpointZip(pk('\x80\x02}', tupleDag(16), 'Ns.'))),
    expect: /a tuple cannot be a dict key or set item/,
    via: ['verify'],
  },
  {
    name: 'a 24-level tuple DAG as a frozenset item',
    make: (d) => write(d, 'dag-frozenset.t7', checkpointZip(netPickle(pk('(', tupleDag(24), '\x91')))),
    expect: /a tuple cannot be a dict key or set item/,
  },
  {
    name: 'a 1 MiB bytes key set 5,000 times',
    make: (d) => write(d, 'bytes-key-1mib.t7', keyBomb(bytesKey(MiB), 5000)),
    expect: /a bytes key of 1048576 bytes is longer than any name/,
    via: ['predict'],
  },
  {
    name: 'a 4 KiB bytes key set 200,000 times',
    make: (d) => write(d, 'bytes-key-4kib.t7', keyBomb(bytesKey(4096), 200_000)),
    expect: /no 'net' or 'state_dict' key/,
  },
  {
    name: 'a 4 KiB str key set 200,000 times',
    make: (d) => write(d, 'str-key-4kib.t7', keyBomb(str('k'.repeat(4096)), 200_000)),
    expect: /no 'net' or 'state_dict' key/,
  },
  {
    name: 'data.pkl deflated from 2 GiB into 2 MB',
    make: (d) => write(d, 'pkl-bomb.t7', checkpointZip(zerosRecord('ckpt/data.pkl', 2048))),
    expect: /record 'ckpt\/data\.pkl' would inflate to 2147483648 bytes/,
    via: ['verify'],
  },
  {
    name: 'data.pkl that inflates past the size it declares',
    make: (d) => write(d, 'pkl-lying.t7', checkpointZip({ ...zerosRecord('ckpt/data.pkl', 256), size: MiB })),
    expect: /record 'ckpt\/data\.pkl' does not inflate/,
  },
  {
    name: 'a storage deflated from 1 GiB into 1 MB',
    make: (d) => write(d, 'storage-bomb.t7', oneStorage(1024, zerosRecord('ckpt/data/0', 1024))),
    expect: /record 'ckpt\/data\/0' would inflate to 1073741824 bytes/,
    via: ['predict'],
  },
  {
    name: 'a storage deflated from 256 MiB (within the budget: loads)',
    make: (d) => write(d, 'storage-256mib.t7', oneStorage(256, { ...zerosRecord('ckpt/data/0', 256), crc: zerosCrc(256) })),
    expect: 'loads',
  },
  {
    name: 'a list of 50 million Nones (100 MB)',
    make: (d) => write(d, 'nones.t7', checkpointZip(pk('\x80\x02]', repeat('Na', 50_000_000), '.'))),
    expect: /more than 1,000,000 objects built/,
    via: ['verify'],
  },
  {
    name: '20 million empty dicts (40 MB)',
    make: (d) => write(d, 'dicts.t7', checkpointZip(pk('\x80\x02]', repeat('}a', 20_000_000), '.'))),
    expect: /more than 1,000,000 objects built/,
  },
  {
    name: '4 million memo entries (20 MB)',
    make: (d) => write(d, 'memo.t7', checkpointZip(pk('\x80\x02N', memoPuts(4_000_000), '.'))),
    expect: /more than 1,000,000 objects built/,
  },
  {
    name: '40 million opcodes that build nothing (80 MB)',
    make: (d) => write(d, 'steps.t7', checkpointZip(pk('\x80\x02N', repeat('N0', 40_000_000), '.'))),
    expect: /more than 16,000,000 steps of work/,
  },
  {
    name: 'a legacy stream whose object pickle is a memo bomb',
    make: (d) => write(d, 'legacy-memo.t7', pk(LEGACY_HEADER, '\x80\x02N', memoPuts(2_000_000), '.')),
    expect: /more than 1,000,000 objects built/,
    via: ['predict'],
  },
  {
    name: 'a byteorder record deflated from 200 MB',
    make: (d) => write(d, 'byteorder.t7', checkpointZip(pk('\x80\x02}.'), [zerosRecord('ckpt/byteorder', 200)])),
    expect: /record 'ckpt\/byteorder' is 209715200 bytes; it should hold a few characters/,
  },
  {
    name: '20,000 records nested over one 1 MB record',
    make: (d) => write(d, 'overlap.t7', nestedZip(20_000, new Uint8Array(MiB))),
    expect: /records 'ckpt\/data\/0' and 'ckpt\/data\/1' overlap/,
  },
  {
    name: 'ESC sequences and CR in a global name',
    make: (d) => write(d, 'esc-global.t7', checkpointZip(pk('\x80\x02c', `${ESC_SCREEN}\r`, '\nsystem\n.'))),
    expect: /refusing to load: GLOBAL '\\x1b\[2J\\x1b\[H\\x1b\[32mwmnn: checkpoint OK\\x1b\[0m\\x0d system' is not allowed/,
    via: ['verify', 'predict'],
  },
  {
    name: 'ESC and CR in a tensor name and a storage location (loads)',
    make: (d) => write(d, 'esc-names.t7', oneTensorStateDict(`w${ESC_SCREEN}\r`, `cuda${ESC_SCREEN}\r`)),
    expect: 'loads',
  },
  {
    name: 'ESC and CR in a tensor name and a storage location, as JSON (loads)',
    make: (d) => write(d, 'esc-names-json.t7', oneTensorStateDict(`w${ESC_SCREEN}\r`, `cuda${ESC_SCREEN}\r`)),
    expect: 'loads',
    json: true,
  },
  {
    // Read, then refused by the model it should go into: the mismatch list names the tensor, escaped.
    name: 'ESC in the name of a tensor beside a 10-class linear layer',
    make: (d) => {
      const linear = tensorPickle('0', 'cpu', 5120, [10, 512]);
      const pkl = pk('\x80\x02}(', str('linear.weight'), linear, str(`w${ESC_SCREEN}\r`), tensorPickle('1', 'cpu'), 'u.');
      const records = [
        { name: 'ckpt/data/0', data: new Uint8Array(4 * 5120) },
        { name: 'ckpt/data/1', data: new Uint8Array(4) },
      ];
      return write(d, 'esc-fits.t7', checkpointZip(pkl, records));
    },
    expect: /checkpoint does not fit the model: missing conv1\.weight.*unexpected w\\x1b\[2J\\x1b\[H\\x1b\[32mwmnn: checkpoint OK\\x1b\[0m/,
    via: ['predict'],
    viaOnly: true,
  },
  {
    name: 'ESC in a storage key that has no record',
    make: (d) => write(d, 'esc-key.t7', checkpointZip(pk('\x80\x02}', str('w'), tensorPickle(ESC_SCREEN, 'cpu'), 's.'))),
    expect: /no record for storage '\\x1b\[2J/,
  },
  {
    name: 'a FIFO',
    make: (d) => {
      execFileSync('mkfifo', [join(d, 'fifo.t7')]);
      return join(d, 'fifo.t7');
    },
    expect: /^wmnn: fifo\.t7: a FIFO, not a checkpoint file$/,
    via: ['verify', 'predict'],
    viaExpect: /^wmnn: --model_path \S*fifo\.t7: no checkpoint found there$/,
  },
  {
    name: 'a symbolic link to a FIFO',
    make: (d) => {
      symlinkSync(join(d, 'fifo.t7'), join(d, 'link.t7'));
      return join(d, 'link.t7');
    },
    expect: /^wmnn: link\.t7: a FIFO, not a checkpoint file$/,
  },
  {
    name: 'a folder',
    make: (d) => {
      mkdirSync(join(d, 'folder.t7'));
      return join(d, 'folder.t7');
    },
    expect: /^wmnn: folder\.t7: a folder, not a checkpoint file$/,
  },
  { name: 'a character device', make: () => '/dev/zero', expect: /^wmnn: zero: a character device, not a checkpoint file$/ },
  {
    name: 'a 1 GiB file (sparse)',
    make: (d) => {
      const path = write(d, 'huge.t7', pk('PK\x03\x04'));
      truncateSync(path, 1024 * MiB);
      return path;
    },
    expect: /huge\.t7: file is 1073741824 bytes; checkpoints are read up to 268435456 bytes/,
  },
];

type Command = 'inspect' | Via;

interface Run {
  id: string;
  c: Case;
  command: Command;
  args: (path: string, dir: string) => string[];
}

const ARGS: Record<Command, (path: string, out: string, json: boolean) => string[]> = {
  inspect: (path, _out, json) => ['inspect', path, ...(json ? ['--json'] : [])],
  verify: (path, out) => ['verify', '--model_path', path, '--wm_path', TRIGGER_SET, '--out', out],
  predict: (path) => ['predict', '--model_path', path, '--testwm', '--wm_path', TRIGGER_SET],
};

const RUNS: Run[] = CASES.flatMap((c) =>
  [...(c.viaOnly ? [] : ['inspect' as const]), ...(c.via ?? [])].map((command, i) => ({
    id: `${command}: ${c.name}`,
    c,
    command,
    args: (path: string, dir: string) => ARGS[command](path, join(dir, `record-${CASES.indexOf(c)}-${i}.json`), c.json ?? false),
  })),
);

let dir = '';
let cleanup = (): void => {};
let cli: MeasuredCli | null = null;
const outcomes = new Map<string, Promise<MeasuredRun>>();

before(async () => {
  ({ dir, cleanup } = tempDir('limits'));
  cli = await measuredCli('limits');
  // All files first, then the children, PARALLEL at a time; each test awaits its own outcome.
  const paths = new Map(CASES.map((c) => [c, c.make(dir)]));
  let next = 0;
  const slots = Array.from({ length: PARALLEL }, async () => {
    for (let i = next++; i < RUNS.length; i = next++) {
      const r = RUNS[i] as Run;
      const p = (cli as MeasuredCli).run(r.args(paths.get(r.c) as string, dir));
      outcomes.set(r.id, p);
      await p.catch(() => {});
    }
  });
  void Promise.all(slots);
});
after(() => {
  cli?.cleanup();
  cleanup();
});

function mb(bytes: number): string {
  return (bytes / MiB).toFixed(0);
}

for (const r of RUNS) {
  test(r.id, async (t) => {
    while (!outcomes.has(r.id)) await new Promise((res) => setTimeout(res, 20));
    const o = await (outcomes.get(r.id) as Promise<MeasuredRun>);
    t.diagnostic(`cpu ${o.cpuMs.toFixed(0)} ms, wall ${o.wallMs.toFixed(0)} ms, peak RSS ${mb(o.maxRssBytes)} MiB, exit ${o.code}`);
    assert.ok(o.cpuMs < CPU_LIMIT_MS, `CPU ${o.cpuMs} ms`);
    assert.ok(o.maxRssBytes < RSS_LIMIT_BYTES, `peak RSS ${mb(o.maxRssBytes)} MiB`);
    assert.ok(!CONTROL.test(o.stderr) && !CONTROL.test(o.stdout), 'no control characters reach the terminal');
    const c = r.c;
    if (c.expect === 'loads' && r.command === 'inspect') {
      assert.equal(o.code, 0, o.stderr);
      assert.equal(o.stderr, '');
      if (c.json) {
        const report = JSON.parse(o.stdout) as { tensors: { name: string }[]; locations: string[] };
        assert.equal(report.tensors[0]?.name, `w${ESC_SCREEN}\r`, 'the JSON keeps the name whole');
        assert.deepEqual(report.locations, [`cuda${ESC_SCREEN}\r`]);
      } else if (c.name.startsWith('ESC')) {
        assert.match(o.stdout, /^ {2}w\\x1b\[2J.*\\x0d +float32 +\(\)$/m, 'the tensor row, escaped');
        assert.match(o.stdout, /^locations: +cuda\\x1b\[2J/m);
        assert.match(o.stdout, /^warning: storage location 'cuda\\x1b/m);
      }
      return;
    }
    assert.equal(o.code, EXIT_ERROR, `exit status; stderr: ${o.stderr.slice(0, 2000)}`);
    const lines = o.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line: ${o.stderr.slice(0, 2000)}`);
    const line = lines[0] as string;
    assert.ok(line.startsWith('wmnn: ') && line.length < 500, line.slice(0, 600));
    assert.match(line, (r.command !== 'inspect' && c.viaExpect) || (c.expect as RegExp));
    if (r.command === 'verify') assert.ok(!existsSync(r.args('', dir).at(-1) as string), 'no record is written');
  });
}
