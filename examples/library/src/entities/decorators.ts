// MikroORM's decorators. An app on MikroORM 6 imports them from '@mikro-orm/core'; on
// MikroORM 7 from '@mikro-orm/decorators/legacy' (with `metadataProvider: ReflectMetadataProvider`
// from the same module in its config). This example runs on both, so it takes them from the
// module that picks the installed major's.
export { Embeddable, Embedded, Entity, Enum, ManyToMany, ManyToOne, OneToMany, OneToOne, PrimaryKey, Property, ReflectMetadataProvider, Unique } from '@entity-sync/testing/mikro-orm';
