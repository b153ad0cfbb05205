// One progress line per phase: count, percentage, rate and ETA. Redrawn in place on a terminal;
// otherwise (CI logs, files) printed at every 10% and at least every 10 seconds.
export interface Progress {
  tick(count?: number): void;
  done(): number;
}

export function progress(label: string, total: number, out: NodeJS.WriteStream = process.stdout): Progress {
  const started = performance.now();
  let count = 0;
  let lastPrintedDecile = -1;
  let lastPrintedAt = performance.now();
  const line = () => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? count / seconds : 0;
    const eta = rate > 0 ? (total - count) / rate : 0;
    const percent = total === 0 ? 100 : Math.floor((count / total) * 100);
    return `${label.padEnd(22)} ${String(count).padStart(6)}/${total} ${String(percent).padStart(3)}%  ${rate.toFixed(0).padStart(5)}/s  ETA ${eta.toFixed(0)}s`;
  };
  const print = (final = false) => {
    if (out.isTTY) {
      out.write(`\r${line()}${final ? '\n' : ''}`);
      return;
    }
    const decile = Math.floor((count / Math.max(total, 1)) * 10);
    if (final || decile > lastPrintedDecile || performance.now() - lastPrintedAt >= 10_000) {
      lastPrintedDecile = decile;
      lastPrintedAt = performance.now();
      out.write(`${line()}\n`);
    }
  };
  let lastDraw = 0;
  return {
    tick(step = 1) {
      count += step;
      const now = performance.now();
      if (!out.isTTY || now - lastDraw > 100) {
        lastDraw = now;
        print();
      }
    },
    done() {
      print(true);
      return (performance.now() - started) / 1000;
    },
  };
}
