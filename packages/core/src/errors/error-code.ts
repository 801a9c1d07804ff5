/** Every stable error code, grouped by the area that raises it. */
export type ErrorCode =
  // registry and decorators, checked against the ORM's metadata at start-up
  | 'REGISTRY_INVALID_OPTION'
  | 'REGISTRY_NOT_AN_ENTITY'
  | 'REGISTRY_UNKNOWN_FIELD'
  | 'REGISTRY_DUPLICATE_CQRS_ID'
  | 'NATURAL_KEY_PATH_NOT_FOUND'
  // mapping shapes the relation graph cannot represent
  | 'MAPPING_UNSUPPORTED'
  | 'GRAPH_UNKNOWN_ENTITY'
  | 'GRAPH_UNKNOWN_RELATION'
  // graph walks (export, delete)
  | 'GRAPH_TOO_LARGE'
  | 'ROOT_NOT_FOUND'
  | 'INVALID_ROOT'
  | 'TABLE_WITHOUT_KEY'
  | 'GRAPH_CYCLE_UNBREAKABLE'
  | 'DELETE_REJECTED'
  // export documents
  | 'DOCUMENT_INVALID'
  | 'DOCUMENT_TRUNCATED'
  | 'DOCUMENT_VERSION_UNSUPPORTED'
  // imports
  | 'SCHEMA_MISMATCH'
  | 'IMPORT_CONFLICT'
  | 'DANGLING_REFERENCE'
  | 'REMAP_UNSUPPORTED'
  | 'IMPORT_REJECTED'
  | 'FILE_NOT_FOUND'
  | 'FILE_NOT_WRITABLE'
  | 'OPERATION_ABORTED'
  // natural-key lookups
  | 'NATURAL_KEY_UNDEFINED'
  | 'NATURAL_KEY_INCOMPLETE'
  | 'NATURAL_KEY_AMBIGUOUS'
  // CQRS replication
  | 'CQRS_MESSAGE_INVALID'
  | 'CQRS_MESSAGE_VERSION'
  | 'CQRS_UNKNOWN_ID'
  | 'CQRS_FIELD_MISSING'
  | 'CQRS_MESSAGE_EXPIRED'
  | 'CQRS_DUMP_INVALID'
  | 'TRANSPORT_UNAVAILABLE'
  | 'TRANSPORT_REFUSED'
  | 'TRANSPORT_UNSUPPORTED'
  | 'CQRS_NOT_INSTALLED'
  | 'CQRS_SCHEMA_MISMATCH'
  // HTTP: requests the server refuses, and a client's view of the server's answers
  | 'REQUEST_INVALID'
  | 'AUTH_REQUIRED'
  | 'AUTH_INVALID'
  | 'AUTH_FORBIDDEN'
  | 'ROUTE_NOT_FOUND'
  | 'HTTP_FAILED'
  | 'INTERNAL_ERROR'
  // environment sync (reference data pulled by natural key)
  | 'ENV_SYNC_STREAM_INVALID'
  | 'ENV_SYNC_MODEL_INVALID'
  | 'ENV_SYNC_DANGLING_REFERENCE'
  | 'ENV_SYNC_DELETE_REFUSED'
  | 'ENV_SYNC_FILE_INVALID'
  | 'ENV_SYNC_MODEL_NOT_SERVED'
  | 'ENV_SYNC_FILE_NOT_FOUND'
  | 'ENV_SYNC_INSERT_LOST'
  // push/pull sync API
  | 'PULL_CHECKPOINT_INVALID'
  | 'PUSH_PULL_MODEL_NOT_SERVED'
  | 'PUSH_PULL_NOT_INSTALLED'
  | 'PUSH_PULL_MODEL_INVALID'
  | 'PUSH_CHANGE_INVALID'
  | 'PUSH_REJECTED'
  | 'PUSH_PULL_TENANT_REQUIRED'
  | 'PUSH_PULL_TENANT_FORBIDDEN'
  | 'PUSH_CONFLICT'
  | 'PUSH_PULL_FORBIDDEN'
  | 'PUSH_PULL_PERMISSION_INVALID'
  | 'PULL_RESYNC_REQUIRED'
  | 'PULL_TIMESTAMP_UNSAFE'
  // audit trail
  | 'AUDIT_MODEL_NOT_AUDITED'
  | 'AUDIT_NOT_INSTALLED'
  | 'AUDIT_CURSOR_INVALID'
  | 'AUDIT_TRANSACTION_REQUIRED'
  // diff and reconcile
  | 'DIFF_SOURCE_NOT_SORTED'
  | 'DIFF_SOURCE_INVALID'
  // command line
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_INVALID'
  | 'USAGE'
  // options passed to a public function
  | 'INVALID_OPTION'
  // extension lifecycle
  | 'EXTENSION_NOT_REGISTERED'
  // installation: an optional peer package that a feature needs is missing, two copies of MikroORM
  | 'PEER_MISSING'
  | 'ORM_DUPLICATE_COPY';
