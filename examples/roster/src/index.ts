export { Enrolment, rosterEntities, Student } from './entities.js';
export { reconcileRoster, rosterSource } from './reconcile-roster.js';
export { seedStudents } from './seed.js';
