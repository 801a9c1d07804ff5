import 'reflect-metadata';
import { SyncModel } from '@entity-sync/core';
import { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@entity-sync/testing/mikro-orm';
import type { Rel } from '@mikro-orm/core';

/** A student as the app keeps them: its own id, and the number the school's system of record knows them by. */
@Entity({ tableName: 'student' })
@SyncModel({ naturalKey: ['studentNo'] })
export class Student {
  @PrimaryKey() id!: number;
  @Property() @Unique() studentNo!: number;
  @Property() name!: string;
  @Property() homeroom!: string;
}

/** A student taking a course. */
@Entity({ tableName: 'enrolment' })
@Unique({ properties: ['student', 'course'] })
export class Enrolment {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Student, { deleteRule: 'cascade' }) student!: Rel<Student>;
  @Property() course!: string;
}

export const rosterEntities = [Student, Enrolment];
