export * from './graph-model.js';
export * from './relation-graph.js';
export * from './dependency-order.js';
