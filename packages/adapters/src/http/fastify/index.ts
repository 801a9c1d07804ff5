export { toFastifyPlugin } from './fastify-plugin.js';
