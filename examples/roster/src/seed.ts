import type { MikroORM } from '@mikro-orm/core';
import { Enrolment, Student } from './entities.js';

/** The app's students before the roster comes in: one to rename, move and re-enrol, one to enrol, one who left. */
export async function seedStudents(orm: MikroORM): Promise<void> {
  const em = orm.em.fork();
  const lena = em.create(Student, { studentNo: 1001, name: 'Lena Novak', homeroom: '4C' });
  em.create(Enrolment, { student: lena, course: 'math' });
  em.create(Enrolment, { student: lena, course: 'drama' });
  em.create(Student, { studentNo: 1002, name: 'Mateo García-López', homeroom: '5B' });
  em.create(Enrolment, { student: em.create(Student, { studentNo: 1004, name: 'Cy Ito', homeroom: '5A' }), course: 'art' });
  await em.flush();
}
