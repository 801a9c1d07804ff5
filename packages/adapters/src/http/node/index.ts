export { toNodeListener, type NodeListener } from './node-listener.js';
