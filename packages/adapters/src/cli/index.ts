export { createProgram, runCli, type CliIo } from './program.js';
export { findConfigPath, openOrm } from './config-loader.js';
