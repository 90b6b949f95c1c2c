// A one-line download progress bar on stderr, drawn only when stderr is a terminal (logs and
// pipes get a single start line from the caller instead of hundreds of carriage returns).

const MIB = 1024 * 1024;
const WIDTH = 30;
const REDRAW_MS = 100;

export interface Progress {
  update(received: number): void;
  done(): void;
}

export function progressBar(label: string, total: number | undefined, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, done() {} };
  const start = Date.now();
  let last = 0;
  let drawn = false;
  const draw = (received: number): void => {
    const seconds = Math.max((Date.now() - start) / 1000, 1e-3);
    const rate = `${(received / MIB / seconds).toFixed(1)} MiB/s`;
    let bar: string;
    if (total) {
      const share = Math.min(received / total, 1);
      const filled = Math.round(share * WIDTH);
      bar = `[${'='.repeat(filled)}${' '.repeat(WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ` +
        `${(received / MIB).toFixed(1)}/${(total / MIB).toFixed(1)} MiB`;
    } else {
      bar = `${(received / MIB).toFixed(1)} MiB`;
    }
    stream.write(`\r${label} ${bar} ${rate}\x1b[K`);
    drawn = true;
  };
  return {
    update(received) {
      const now = Date.now();
      if (now - last < REDRAW_MS) return;
      last = now;
      draw(received);
    },
    done() {
      if (drawn) stream.write('\n');
    },
  };
}
