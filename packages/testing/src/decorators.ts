// MikroORM's legacy (experimental TypeScript) decorators and the metadata provider that reads
// their `emitDecoratorMetadata` types, from wherever the installed major keeps them: on 6 in
// @mikro-orm/core, on 7 in @mikro-orm/decorators/legacy. For entities that have to run on both
// (this repository's tests, examples and benchmarks); an app on one major imports them directly.
import * as core from '@mikro-orm/core';
import { mikroOrmMajor } from './mikro-orm-version.js';

type Core = typeof core;
// @ts-ignore -- @mikro-orm/decorators exists from MikroORM 7 on; on 6 this type is never chosen
type Legacy = typeof import('@mikro-orm/decorators/legacy');
type Decorators = Core extends { Entity: unknown } ? Core : Legacy;

const decorators = (mikroOrmMajor >= 7 ? await import('@mikro-orm/decorators/legacy' as string) : core) as Decorators;

export const {
  Entity, Property, PrimaryKey, ManyToOne, OneToMany, ManyToMany, OneToOne, Enum, Unique, Index, Embeddable, Embedded, Formula,
  BeforeCreate, BeforeUpdate, AfterCreate, AfterUpdate, ReflectMetadataProvider,
} = decorators;
