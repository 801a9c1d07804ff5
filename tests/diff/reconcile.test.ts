// reconcile: the differences of each model handed to the app's handlers, per action and per
// field, in batches, parents created before children and children deleted before parents; a
// missing handler or an unmatched record stops the run before anything is done (unless allowed);
// each action's result is reported, and a dry run calls nothing.
import { describeReconcile, fromRecords, isEntitySyncError, reconcile, type ActionHandler, type DiffAction, type ReconcileModel } from '@entity-sync/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const students = (): ReconcileModel[] => [
  {
    model: 'students', key: 'no', lists: ['courses'],
    left: fromRecords('roster.csv', [{ no: 1, name: 'Ada', homeroom: '5A', courses: ['art'] }, { no: 2, name: 'Bo', homeroom: '5B', courses: [] }, { no: 4, name: 'Di', homeroom: '5A', courses: ['math'] }]),
    right: fromRecords('students', [{ no: 1, name: 'Ada', homeroom: '4C', courses: ['art', 'math'] }, { no: 2, name: 'Bob', homeroom: '5B', courses: [] }, { no: 3, name: 'Cy', homeroom: '5A', courses: [] }]),
  },
  {
    model: 'enrolments', key: ['no', 'course'],
    left: fromRecords('roster enrolments', [{ no: 4, course: 'math' }]),
    right: fromRecords('enrolments', [{ no: 3, course: 'art' }]),
  },
];

const test = suite('diff: reconcile with handlers');

test('handlers per model, action and field, in batches; creates parents first, deletes children first; a readable report', async () => {
  const calls: string[] = [];
  const handler = (name: string): ActionHandler<Record<string, unknown>, Record<string, unknown>> => (actions: DiffAction[]) => {
    calls.push(`${name}(${actions.map((action) => JSON.stringify(action.key.length === 1 ? action.key[0] : action.key)).join(',')})`);
  };
  const report = await reconcile(students(), {
    batchSize: 1,
    handlers: {
      students: { create: handler('new_student'), delete: handler('old_student'), update: { homeroom: handler('update_homeroom'), courses: handler('courses'), default: handler('update_student') } },
      enrolments: { create: handler('add_enrolment'), delete: handler('remove_enrolment') },
    },
  });
  assert.equal(calls, ['new_student(4)', 'update_homeroom(1)', 'courses(1)', 'update_student(2)', 'add_enrolment([4,"math"])', 'remove_enrolment([3,"art"])', 'old_student(3)']);
  assert.equal(report.models.map((part) => part.counts), [{ create: 1, update: 2, delete: 1, unchanged: 0, problems: 0 }, { create: 1, update: 0, delete: 1, unchanged: 0, problems: 0 }]);
  assert.ok(report.models.every((part) => part.actions.every((item) => item.result === 'done')));
  const text = describeReconcile(report);
  assert.match(text, 'students: 1 to create, 2 to update, 1 to delete, 0 the same (hash)');
  assert.match(text, '~ 1 [homeroom]  done\n        homeroom: "4C" -> "5A"');
  assert.match(text, '~ 1 [courses]  done\n        courses: -"math"');
  assert.match(text, '~ 2 [name]  done\n        name: "Bob" -> "Bo"');
  assert.match(text, '- [3,"art"]  done');
});

test('a missing handler stops the run before anything is done; allowUnhandled does the rest and lists it', async () => {
  const calls: string[] = [];
  const handlers = { students: { create: () => void calls.push('create'), update: { default: () => void calls.push('update') } }, enrolments: {} };
  const refused = await reconcile(students(), { handlers }).catch((error: unknown) => error);
  assert.ok(isEntitySyncError(refused) && refused.code === 'RECONCILE_UNHANDLED', String(refused));
  assert.match((refused as Error).message, '1 students delete, 1 enrolments create, 1 enrolments delete');
  assert.equal(calls, [], 'nothing was done');
  const report = await reconcile(students(), { handlers, allowUnhandled: true });
  assert.equal(calls, ['create', 'update']);
  assert.equal(report.unhandled, [{ model: 'students', action: 'delete', count: 1 }, { model: 'enrolments', action: 'create', count: 1 }, { model: 'enrolments', action: 'delete', count: 1 }]);
  assert.match(describeReconcile(report), 'unhandled: 1 students delete (no handler)');
});

test('duplicate and null keys stop the run unless allowed; a failing batch is reported failed and the others go on; a dry run calls nothing', async () => {
  const models: ReconcileModel[] = [{
    model: 'rows', key: 'id',
    left: fromRecords('should', [{ id: 1, v: 'a' }, { id: 1, v: 'b' }, { id: null, v: 'c' }, { id: 2, v: 'x' }, { id: 3, v: 'y' }]),
    right: fromRecords('is', [{ id: 2, v: 'old' }]),
  }];
  const calls: string[] = [];
  const handlers = {
    rows: {
      create: (actions: DiffAction[]) => {
        calls.push(`create ${actions.length}`);
        throw new Error('the row is locked');
      },
      update: (actions: DiffAction[]) => actions.map(() => 'skipped' as const),
    },
  };
  const unmatched = await reconcile(models, { handlers }).catch((error: unknown) => error);
  assert.ok(isEntitySyncError(unmatched) && unmatched.code === 'RECONCILE_UNMATCHED', String(unmatched));
  assert.equal(calls, []);
  const dry = await reconcile(models, { handlers, dryRun: true });
  assert.equal(calls, [], 'a dry run calls no handler');
  assert.equal(dry.models[0]!.actions.map((item) => [item.action, item.result]), [['create', 'planned'], ['update', 'planned']]);
  assert.equal(dry.models[0]!.problems.map((problem) => [problem.problem, problem.records.length]), [['null-key', 1], ['duplicate-key', 2]]);
  const report = await reconcile(models, { handlers, allowProblems: true });
  assert.equal(calls, ['create 1']);
  assert.equal(report.models[0]!.actions.map((item) => [item.action, item.result]), [['create', { failed: 'the row is locked' }], ['update', 'skipped']]);
  assert.is(report.failed, 1);
  assert.match(describeReconcile(report), '! duplicate-key on the left side: 1 (2 records)');
});

test.run();
