export { createProgram, runCli } from './program.js';
export type { CliIo } from './cli-io.js';
export { findConfigPath, loadConfig, openOrm, type LoadedConfig } from './config-loader.js';
