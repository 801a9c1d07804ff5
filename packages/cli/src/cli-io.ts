/** Where the CLI writes: injectable so that it can run in-process in tests. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  cwd: string;
  /** Set by a command that succeeded but has something to flag (the exit code, 1, when nothing failed). */
  exitCode?: number;
}
