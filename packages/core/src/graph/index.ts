export * from './graph-model.js';
export * from './relation-graph.js';
