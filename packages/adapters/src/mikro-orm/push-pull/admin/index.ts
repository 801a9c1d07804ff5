export { adminRoutes, type AdminRoutesOptions } from './admin-routes.js';
export { ADMIN_COOKIE, type AdminSignIn } from './admin-session.js';
