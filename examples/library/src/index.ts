export * from './entities/index.js';
export { seedLibrary } from './seed.js';
export { runDemo } from './demo-run.js';
