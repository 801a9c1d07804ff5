import type { MikroORM } from '@mikro-orm/core';
import type { RealSchemaEntities } from '../fixtures/real-schema/entities.js';

/** The key of the row the app inserted into each table (entity name -> key text). */
export type AppInsertKeys = Record<string, string>;

/**
 * What the app does next: one new row in every table through MikroORM (`em.create` and
 * `flush`), keys left to the database. Each flush is its own statement, so a failure names
 * its table. Returns the keys the database gave.
 */
export async function appInsertsEveryTable(orm: MikroORM, e: RealSchemaEntities): Promise<AppInsertKeys> {
  const em = orm.em.fork();
  const keys: AppInsertKeys = {};
  const flush = async (entity: string, key: () => unknown) => {
    try {
      await em.flush();
    } catch (error) {
      throw new Error(`the app's insert into ${entity} failed: ${(error as Error).message}`, { cause: error });
    }
    keys[entity] = String(key());
  };

  const currency = em.create(e.Currency, { code: 'NOK', name: 'Norwegian krone', minorUnits: 2, symbol: 'kr' });
  await flush('Currency', () => currency.code);

  // a new department needs a head and a home room: existing ones until its own exist
  const anyEmployee = await em.findOneOrFail(e.Employee, { employeeId: { $gt: 0 } }, { orderBy: { employeeId: 'asc' } });
  const anyRoom = await em.findOneOrFail(e.ClassRoom, { roomNo: { $gt: 0 } }, { orderBy: { roomNo: 'asc' } });
  const department = em.create(e.Department, { name: 'Percussion', head: anyEmployee, homeRoom: anyRoom, budget: '999.99' });
  await flush('Department', () => department.departmentId);

  const employee = em.create(e.Employee, { department, fullName: 'Nils Trommel', email: 'NILS@Lindenhof.example', hiredOn: '2025-03-01' });
  await flush('Employee', () => employee.employeeId);

  const room = em.create(e.ClassRoom, { roomName: 'Schlagwerkraum', floorLevel: 0, department });
  await flush('ClassRoom', () => room.roomNo);

  const guardian = em.create(e.Guardian, { fullName: 'Ada Neu', email: 'ada.neu@example.org' });
  await flush('Guardian', () => guardian.guardianId);

  const student = em.create(e.Student, { givenName: 'Jonas', familyName: 'Neu', birthDate: '2014-05-05', tags: ['drums'] });
  await flush('Student', () => student.studentId);
  if (student.fullName !== 'Jonas Neu') throw new Error(`student.full_name read back as ${JSON.stringify(student.fullName)}`);

  student.guardians.add(guardian);
  await flush('student_guardian', () => `${student.studentId},${guardian.guardianId}`);

  const course = em.create(e.Course, {
    title: 'Drum circle', level: 'beginner', teacher: employee, room, fee: '100.00', currency,
    searchTerms: 'drum circle', syllabus: { weeks: 4 }, startsAt: new Date('2025-03-03T17:00:00.000Z'),
  });
  await flush('Course', () => course.courseId);

  const enrolment = em.create(e.Enrolment, { student, course, enrolledAt: new Date('2025-02-01T10:00:00.000Z') });
  await flush('Enrolment', () => enrolment.enrolmentId);

  const attendance = em.create(e.Attendance, { lessonDate: '2025-03-03', enrolment, present: true, minutes: 45, recordedAt: new Date('2025-03-03T18:00:00.000Z') });
  await flush('Attendance', () => attendance.attendanceId);

  const instrument = em.create(e.Instrument, { serialNumber: 'DR-2025-001', kind: 'snare drum', photo: Buffer.from([0, 1, 2]) });
  await flush('Instrument', () => instrument.instrumentId);

  const loan = em.create(e.InstrumentLoan, { instrument, student, lentAt: new Date('2025-03-03T17:00:00.000Z') });
  await flush('InstrumentLoan', () => loan.loanId);
  instrument.currentLoan = loan;
  await flush('Instrument', () => instrument.instrumentId);

  const invoice = em.create(e.Invoice, { guardian, issuedAt: new Date('2025-03-31T12:00:00.000Z'), amount: '100.00', currency });
  await flush('Invoice', () => invoice.invoiceNo);
  if (invoice.amountWithVat !== '120.00') throw new Error(`invoice.amount_with_vat read back as ${JSON.stringify(invoice.amountWithVat)}`);

  const locker = em.create(e.Locker, { label: 'C-01', student });
  await flush('Locker', () => locker.lockerId);

  const line = em.create(e.LegacyImportLog, { sourceFile: 'app.log', lineNo: 1, rawLine: 'written by the app' });
  await flush('LegacyImportLog', () => `${line.sourceFile},${line.lineNo}`);
  return keys;
}
