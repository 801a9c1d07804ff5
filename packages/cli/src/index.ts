export { createProgram, runCli } from './program.js';
export type { CliIo } from './cli-io.js';
export { findConfigPath, openOrm } from './config-loader.js';
