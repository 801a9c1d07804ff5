import { SingleBar, Presets } from 'cli-progress';
/** How far a run is: the phase, the entity at hand and the rows so far (a graph command's or a pull's progress). */
export interface RunProgress {
  phase: string;
  entity?: string;
  rows: number;
}

/** A progress reporter for long runs: a bar on a terminal, silence anywhere else. */
export interface ProgressDisplay {
  update(progress: RunProgress): void;
  stop(): void;
}

/** A bar on stderr when it is a terminal (so that stdout stays clean for --json and pipes). */
export function progressDisplay(enabled: boolean): ProgressDisplay {
  if (!enabled || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({
    stream: process.stderr,
    format: '{phase} {entity} |{bar}| {value} rows',
    hideCursor: true,
    clearOnComplete: true,
  }, Presets.shades_classic);
  let started = false;
  return {
    update(progress) {
      const payload = { phase: progress.phase.padEnd(6), entity: (progress.entity ?? '').padEnd(16) };
      if (!started) {
        bar.start(Math.max(progress.rows, 1), progress.rows, payload);
        started = true;
      }
      bar.setTotal(Math.max(progress.rows, bar.getTotal()));
      bar.update(progress.rows, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
