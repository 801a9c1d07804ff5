/**
 * A user of the push/pull API and their roles: the permissions and row filters given to those
 * roles (in the tables `installPushPull` creates) decide which models and rows they may pull and
 * push. Without one (the app calling the API functions itself, or a service's static token),
 * every served model and row of the tenant is open.
 */
export interface SyncAccess {
  /** The user's id (a JWT's subject): the value of a row filter that compares with the user. */
  user: string;
  /** The user's roles (a JWT's `sync_roles`). */
  roles: string[];
}
