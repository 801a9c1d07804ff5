import { fromEntity } from '@entity-sync/adapters/mikro-orm';
import { fromCsv, fromRecords, reconcile, type DiffAction, type ReconcileReport } from '@entity-sync/core';
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import { Enrolment, Student } from './entities.js';

/** A row of the roster, as the diff sees it: the student's number, name, homeroom and courses. */
type RosterRow = { studentNo: number; name: string; homeroom: string; courses: string[] };

/** The roster CSV of the system of record: what should be. */
export const rosterSource = (path: string) => fromCsv<RosterRow>('roster.csv', path, {
  columns: { 'Student No': 'studentNo', Name: 'name', Homeroom: 'homeroom', Courses: 'courses' },
  parse: { studentNo: Number, name: (text) => text.trim(), courses: (text) => text.split(';').map((course) => course.trim()).filter(Boolean) },
});

/** The students table with each student's courses: what is (a source of one's own, since the courses live in another table). */
function studentsSource(em: EntityManager) {
  return fromRecords('students', async function* () {
    const enrolments = await em.find(Enrolment, {}, { populate: ['student'] });
    const courses = new Map<number, string[]>();
    for (const enrolment of enrolments) courses.set(enrolment.student.studentNo, [...(courses.get(enrolment.student.studentNo) ?? []), enrolment.course]);
    for await (const student of fromEntity(em, Student, { fields: ['name', 'homeroom'] }).records()) {
      yield { ...student, courses: courses.get(student.studentNo as number) ?? [] } as RosterRow;
    }
  });
}

/**
 * Makes the students table what the roster says, in one transaction: new students, students who
 * left, a changed homeroom or name, and the courses each takes. With `dryRun`, only reports.
 */
export async function reconcileRoster(orm: MikroORM, rosterPath: string, options: { dryRun?: boolean } = {}): Promise<ReconcileReport> {
  return orm.em.fork().transactional(async (em) => {
    const student = (action: DiffAction<RosterRow, RosterRow>) => em.findOneOrFail(Student, { studentNo: action.key[0] as number });
    return reconcile([{ model: 'students', key: 'studentNo', lists: ['courses'], left: rosterSource(rosterPath), right: studentsSource(em) }], {
      dryRun: options.dryRun,
      handlers: {
        students: {
          // new_student
          create: async (actions: DiffAction<RosterRow, RosterRow>[]) => {
            for (const action of actions) {
              if (action.action !== 'create') continue;
              const { courses, ...row } = action.left;
              const created = em.create(Student, row);
              for (const course of courses) em.create(Enrolment, { student: created, course });
            }
            await em.flush();
          },
          // old_student: the enrolments go with it (on delete cascade)
          delete: async (actions: DiffAction<RosterRow, RosterRow>[]) => {
            await em.nativeDelete(Student, { studentNo: { $in: actions.map((action) => action.key[0] as number) } });
          },
          update: {
            // update_homeroom
            homeroom: async (actions: DiffAction<RosterRow, RosterRow>[]) => {
              for (const action of actions) if (action.action === 'update') (await student(action)).homeroom = action.left.homeroom;
              await em.flush();
            },
            // add_enrollment_to_course / remove_enrollment_from_course
            courses: async (actions: DiffAction<RosterRow, RosterRow>[]) => {
              for (const action of actions) {
                if (action.action !== 'update') continue;
                const [change] = action.changes;
                const who = await student(action);
                for (const course of change!.added as string[]) em.create(Enrolment, { student: who, course });
                if (change!.removed!.length) await em.nativeDelete(Enrolment, { student: who, course: { $in: change!.removed as string[] } });
              }
              await em.flush();
            },
            // a changed name, and anything else
            default: async (actions: DiffAction<RosterRow, RosterRow>[]) => {
              for (const action of actions) {
                if (action.action !== 'update') continue;
                const who = await student(action);
                for (const change of action.changes) (who as unknown as Record<string, unknown>)[change.field] = change.new;
              }
              await em.flush();
            },
          },
        },
      },
    });
  });
}
