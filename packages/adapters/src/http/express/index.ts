export { toExpressMiddleware, type ExpressMiddleware, type ExpressRequest } from './express-middleware.js';
