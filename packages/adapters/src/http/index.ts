export { createHttpHandler, type HttpHandler, type HttpHandlerOptions } from './http-handler.js';
export type { HttpRoutes, RouteBuilder, RouteOptions, RouteContext, RouteHandler } from './routes.js';
export type { RequestSchema, SchemaOutput } from './request-schema.js';
export { hasRight, type HttpAuth, type Principal, type Authorize } from './auth/principal.js';
export { staticTokenAuth, type StaticTokenAuthOptions } from './auth/static-token-auth.js';
export { jwtAuth, type JwtAuthOptions } from './auth/jwt-auth.js';
export { ndjson, ndjsonBatches, bytes, type StreamResponseOptions, type BytesResponseOptions } from './streaming.js';
export { STATUS_OF_CODE, statusOfCode, type ErrorBody } from './error-response.js';
export { httpGetLines, httpGetLineBatches, httpGetBytes, type HttpGetOptions } from './client.js';
