// Environment sync on a schema nobody designed for it (tests/fixtures/real-schema): two
// installations of the music school, the target's sequences ahead of the source's, reference
// data pulled by natural key (see `syncNaturalKeys` in the fixture's entities.ts).
import { exportReferenceData, pullReferenceData } from '@entity-sync/adapters/mikro-orm';
import { EntitySyncError, type PullReport, type SyncStreamHeader } from '@entity-sync/core';
import { testBackends, type TestBackend } from '@entity-sync/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { syncNaturalKeys } from '../fixtures/real-schema/entities.js';
import { openRealSchema, type RealSchemaDatabase } from '../fixtures/real-schema/load.js';
import { appInsertsEveryTable } from '../graph-real-schema/app-inserts.js';
import { canonical, checksums } from '../graph-real-schema/helpers.js';
import { rejection } from '../support/discover.js';

/** The models pulled: everything but the Department / Employee / ClassRoom cycle, which exists on both sides. */
const models = ['Currency', 'Guardian', 'Student', 'Course', 'Enrolment', 'Attendance', 'Instrument', 'InstrumentLoan', 'Invoice'];

/** How far the target's sequences are pushed ahead: fewer than the invoices the source issues, as a quiet staging copy would be. */
const SHIFT = 5;

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
const cells = (expressions: string[]) => `json_build_array(${expressions.map((e) => `(${e})::text`).join(', ')})::text`;

/**
 * Per model, SQL reading each row as `k` (its natural key) and `v` (every value that travels
 * or is computed from them, foreign keys as the natural key of the row they point at), written
 * here by hand so that the comparison does not rely on the code under test. `x` is the row's
 * xmin and last_update (where the table has one): what changes when the row is written.
 */
function modelRows(db: RealSchemaDatabase): Record<string, string> {
  const other = quote(db.otherSchema);
  const view = (key: string[], values: string[], from: string, stamp = "''") =>
    `SELECT ${cells(key)} AS k, ${cells(values)} AS v, ${cells(['t.xmin', stamp])} AS x FROM ${from}`;
  return {
    Currency: view(['t.code'], ['t.name', 't.minor_units', 't.symbol'], `${other}.currency t`),
    Guardian: view(['t.email'], ['t.full_name', 't.email', 't.phone'], 'guardian t', 't.last_update'),
    Student: view(['t.given_name', 't.family_name'], ['t.full_name', 't.birth_date', 't.email', 't.tags', 't.notes'], 'student t', 't.last_update'),
    Course: view(['t.title'], ['t.level', 'd.name', 'e.full_name', 'r."roomName"', 't.fee', 't.currency_code', 't.description', 't.search_terms', 't.syllabus', 't.starts_at'],
      'course t JOIN employee e ON e.employee_id = t.teacher_id JOIN department d ON d.department_id = e.department_id LEFT JOIN "ClassRoom" r ON r."roomNo" = t.room_no',
      't.last_update'),
    Enrolment: view(['s.given_name', 's.family_name', 'c.title'], ['t.enrolled_at', 't.discount_pct'],
      'enrolment t JOIN student s ON s.student_id = t.student_id JOIN course c ON c.course_id = t.course_id'),
    Attendance: view(['s.given_name', 's.family_name', 'c.title', 't.recorded_at'],
      ['t.lesson_date', 't.present', 't.minutes', 't.remark', '(SELECT relname FROM pg_class WHERE oid = t.tableoid)'],
      'attendance t JOIN enrolment n ON n.enrolment_id = t.enrolment_id JOIN student s ON s.student_id = n.student_id JOIN course c ON c.course_id = n.course_id'),
    Instrument: view(['t.serial_number'], ['t.kind', 't.maker', 't.purchase_price', 't.photo', 'li.serial_number', 'l.lent_at'],
      'instrument t LEFT JOIN instrument_loan l ON l.loan_id = t.current_loan_id LEFT JOIN instrument li ON li.instrument_id = l.instrument_id', 't.last_update'),
    InstrumentLoan: view(['i.serial_number', 't.lent_at'], ['s.given_name', 's.family_name', 't.returned_at', 't.condition'],
      'instrument_loan t JOIN instrument i ON i.instrument_id = t.instrument_id JOIN student s ON s.student_id = t.student_id'),
    Invoice: view(['t.invoice_no'], ['g.email', 't.issued_at', 't.amount', 't.vat_rate', 't.amount_with_vat', 't.currency_code', 't.memo'],
      `invoice t JOIN guardian g ON g.guardian_id = t.guardian_id`),
  };
}

type Rows = Record<string, Record<string, string>>;

/** Every row of the pulled models by natural key: `v` (values) or `x` (xmin and last_update). */
async function rowsByNaturalKey(db: RealSchemaDatabase, column: 'v' | 'x' = 'v'): Promise<Rows> {
  return canonical(db.orm, async (run) => {
    const rows: Rows = {};
    for (const [model, sql] of Object.entries(modelRows(db))) {
      const found = await run<{ k: string; v: string; x: string }>(`${sql} ORDER BY 1`);
      rows[model] = Object.fromEntries(found.map((row) => [row.k, row[column]]));
      if (Object.keys(rows[model]!).length !== found.length) throw new Error(`${model}: two rows share a natural key`);
    }
    return rows;
  });
}

/** One value read on a database (canonical text settings). */
async function scalar(db: RealSchemaDatabase, sql: string): Promise<string | null> {
  const [row] = await canonical(db.orm, (run) => run<{ v: string | null }>(`SELECT (${sql})::text AS v`));
  return row?.v ?? null;
}

/** Pushes every sequence of the database `SHIFT` values ahead, as rows created and deleted again would. */
async function shiftSequences(backend: TestBackend, db: RealSchemaDatabase): Promise<void> {
  const schema = db.orm.config.get('schema') ?? 'public';
  await backend.executeScript(db.orm, `SELECT setval(format('%I.%I', schemaname, sequencename), coalesce(last_value, start_value - 1) + ${SHIFT}) ` +
    `FROM pg_sequences WHERE schemaname IN ('${schema}', '${db.otherSchema}')`);
}

/** What the source's office did since the copy: new rows in every pulled table, one changed row in each. */
const sourceChanges = (other: string) => `
  INSERT INTO ${other}.currency (code, name, minor_units, symbol) VALUES ('SEK', 'Svensk krona', 2, 'kr');
  UPDATE ${other}.currency SET symbol = 'Fr.' WHERE code = 'CHF';

  INSERT INTO guardian (full_name, email, phone) VALUES
    ('Astrid Berg', 'astrid.berg@example.se', NULL), ('Olof Holm', 'olof.holm@example.se', '+46 8 123 456');
  UPDATE guardian SET phone = '+420 601 000 000' WHERE email = 'petra.novakova@example.cz';

  INSERT INTO student (given_name, family_name, birth_date, email, tags, notes) VALUES
    ('Sigrid', 'Berg', '2014-05-05', 'sigrid.berg@example.se', ARRAY['drums', 'say "hi"', NULL, 'a,b', '{x}', 'back\\slash', ''], E'two\\nlines'),
    ('Nils', 'Holm', NULL, NULL, '{}', 'NULL');
  UPDATE student SET tags = ARRAY[NULL, 'piano', 'NULL']::text[], notes = NULL WHERE given_name = 'Mateo';

  INSERT INTO course (title, level, teacher_id, room_no, fee, currency_code, description, search_terms, syllabus, starts_at)
    SELECT 'Percussion ensemble', 'beginner', e.employee_id, r."roomNo", 1250.50, 'SEK', 'Djembe & cajón — "loud"',
      to_tsvector('simple', 'percussion ensemble djembe cajón'), '{"weeks": 4, "kit": ["djembe", null], "note": "bring \\"earplugs\\""}',
      '2025-03-03 17:00:00.000001+01'
    FROM employee e, "ClassRoom" r WHERE e.full_name = 'Kwame Mensah' AND r."roomName" = 'Chorsaal';
  UPDATE course SET room_no = (SELECT "roomNo" FROM "ClassRoom" WHERE "roomName" = 'Orgelzimmer'), level = 'intermediate',
    syllabus = '{"weeks": 8, "É": "ü"}' WHERE title = 'Organ improvisation';

  INSERT INTO enrolment (student_id, course_id, enrolled_at, discount_pct)
    SELECT s.student_id, c.course_id, '2025-02-01 10:00:00.000001+00', 12.50 FROM student s, course c
    WHERE s.given_name = 'Sigrid' AND c.title = 'Percussion ensemble';
  INSERT INTO enrolment (student_id, course_id, enrolled_at)
    SELECT s.student_id, c.course_id, '2025-02-02 10:00:00+00' FROM student s, course c WHERE s.given_name = 'Nils' AND c.title = 'Cello for beginners';
  UPDATE enrolment SET discount_pct = 15.00 WHERE enrolment_id = 2;

  INSERT INTO attendance (lesson_date, enrolment_id, present, minutes, remark, recorded_at)
    SELECT d::date, n.enrolment_id, true, 45, 'first "beat"', d::timestamptz + interval '18 hours 1 microsecond'
    FROM enrolment n JOIN student s USING (student_id), (VALUES ('2025-03-03'), ('2026-01-12')) v(d) WHERE s.given_name = 'Sigrid';
  UPDATE attendance SET remark = 'excused', present = false WHERE attendance_id = 5;

  INSERT INTO instrument (serial_number, kind, maker, purchase_price, photo)
    VALUES ('TR-2025-007', 'snare drum', 'Sonor', 420.00, '\\x00015c27220d0aff');
  INSERT INTO instrument_loan (instrument_id, student_id, lent_at, condition)
    SELECT i.instrument_id, s.student_id, '2025-03-03 17:00:00.000001+00', '{"skin": "new \\"white\\""}'
    FROM instrument i, student s WHERE i.serial_number = 'TR-2025-007' AND s.given_name = 'Sigrid';
  UPDATE instrument SET current_loan_id = (SELECT loan_id FROM instrument_loan WHERE lent_at = '2025-03-03 17:00:00.000001+00')
    WHERE serial_number = 'TR-2025-007';
  UPDATE instrument SET photo = '\\xdeadbeef', purchase_price = 999.99 WHERE serial_number = 'KB-0042';
  UPDATE instrument_loan SET returned_at = '2025-01-31 12:00:00.123456+00' WHERE loan_id = 3;

  INSERT INTO invoice (guardian_id, issued_at, amount, vat_rate, currency_code, memo)
    SELECT g.guardian_id, '2025-03-31 12:00:00.000001+00'::timestamptz + n * interval '1 microsecond', 100.00 + n, 0.250, 'SEK', 'Astrid ' || n
    FROM guardian g, generate_series(1, ${SHIFT + 1}) n WHERE g.email = 'astrid.berg@example.se' ORDER BY n;
  UPDATE invoice SET memo = 'Q3 — corrected \\', amount = 650.00 WHERE invoice_no = 1002;

  UPDATE department SET budget = 50000.00 WHERE name = 'Strings';
`;

/** The rows `sourceChanges` creates and changes, by model, as the report lists their natural keys. */
const expectedCreated: Record<string, string[][]> = {
  Currency: [['SEK']],
  Guardian: [['astrid.berg@example.se'], ['olof.holm@example.se']],
  Student: [['Nils', 'Holm'], ['Sigrid', 'Berg']],
  Course: [['Percussion ensemble']],
  Enrolment: [['Nils', 'Holm', 'Cello for beginners'], ['Sigrid', 'Berg', 'Percussion ensemble']],
  Attendance: [['Sigrid', 'Berg', 'Percussion ensemble', '2025-03-03 18:00:00.000001+00'], ['Sigrid', 'Berg', 'Percussion ensemble', '2026-01-12 18:00:00.000001+00']],
  Instrument: [['TR-2025-007']],
  InstrumentLoan: [['TR-2025-007', '2025-03-03 17:00:00.000001+00']],
  Invoice: Array.from({ length: SHIFT + 1 }, (_, i) => [String(1006 + i)]),
};
const expectedUpdated: Record<string, string[][]> = {
  Currency: [['CHF']],
  Guardian: [['petra.novakova@example.cz']],
  Student: [['Mateo', 'García-López']],
  Course: [['Organ improvisation']],
  Enrolment: [['Lena', 'Novák', 'String quartet']],
  Attendance: [['Mateo', 'García-López', 'Piano Grade 5', '2024-09-04 16:05:00.000009+00']],
  Instrument: [['KB-0042']],
  InstrumentLoan: [['VN-1872-JBV', '2024-09-01 09:30:00.75+00']],
  Invoice: [['1002']],
};

const sortKeys = (keys: (string | null)[][]) => keys.map((key) => JSON.stringify(key)).sort();
const createdKeys = (report: PullReport) => Object.fromEntries(report.models.map((m) => [m.model, sortKeys(m.rows.created.map((row) => row.key))]));
const updatedKeys = (report: PullReport) => Object.fromEntries(report.models.map((m) => [m.model, sortKeys(m.rows.updated.map((row) => row.key))]));
const sortedAll = (byModel: Record<string, string[][]>) => Object.fromEntries(Object.entries(byModel).map(([model, keys]) => [model, sortKeys(keys)]));

for (const backend of testBackends()) {
  const test = suite(`environment sync on the legacy music-school schema [${backend.name}]`);
  let source: RealSchemaDatabase;
  let target: RealSchemaDatabase;

  const exported = async (names: string[] = models): Promise<string[]> => {
    const lines: string[] = [];
    for await (const line of exportReferenceData(source.orm.em.fork(), { models: names })) lines.push(line);
    return lines;
  };
  // the whole stream is read before the pull: PGlite has one connection for both databases
  const pull = async (names: string[] = models): Promise<PullReport> => {
    const lines = await exported(names);
    return pullReferenceData(target.orm.em.fork(), (async function* () { yield* lines; })());
  };

  test.before.each(async () => {
    source = await openRealSchema(backend, { syncModels: true, excludeGuardianSecret: true });
    target = await openRealSchema(backend, { syncModels: true, excludeGuardianSecret: true });
    await shiftSequences(backend, target);
    await backend.executeScript(source.orm, sourceChanges(quote(source.otherSchema)));
  });
  test.after.each(async () => {
    await source?.orm.close();
    await target?.orm.close();
  });

  test('a first pull creates exactly the new rows and updates exactly the changed ones; every value equal by natural key', async () => {
    const lines = await exported();
    const header = JSON.parse(lines[0]!) as SyncStreamHeader;
    const columnsOf = (model: string) => header.models.find((m) => m.name === model)!.columns.map((column) => column.name);
    assert.not.ok(columnsOf('Student').includes('full_name'), 'a generated column does not travel');
    assert.not.ok(columnsOf('Invoice').includes('amount_with_vat'), 'a generated column does not travel');
    assert.not.ok(columnsOf('Guardian').includes('guardian_id'), 'a surrogate key does not travel');
    assert.ok(columnsOf('Invoice').includes('invoice_no'), 'a primary key that is the natural key travels');

    // the legacy schema backs only the keys that are primary keys with a constraint: the registry says so for the others
    assert.equal(source.warnings.map((warning) => `${warning.code} ${warning.entity}`).sort(),
      Object.keys(syncNaturalKeys).filter((model) => model !== 'Currency' && model !== 'Invoice').sort().map((model) => `NATURAL_KEY_NOT_UNIQUE ${model}`));

    const report = await pullReferenceData(target.orm.em.fork(), (async function* () { yield* lines; })());
    assert.equal(createdKeys(report), sortedAll(expectedCreated));
    assert.equal(updatedKeys(report), sortedAll(expectedUpdated));
    const rowsOf = (rows: Rows, model: string) => Object.keys(rows[model]!).length;
    const sourceRows = await rowsByNaturalKey(source);
    for (const m of report.models) {
      assert.is(m.created, expectedCreated[m.model]!.length, `${m.model} created`);
      assert.is(m.updated, expectedUpdated[m.model]!.length, `${m.model} updated`);
      assert.is(m.unchanged, rowsOf(sourceRows, m.model) - m.created - m.updated, `${m.model} unchanged`);
    }
    assert.equal(await rowsByNaturalKey(target), sourceRows);

    // the target gave its own ids (its sequences are ahead), identity ALWAYS included
    for (const [table, key, where] of [['guardian', 'guardian_id', "email = 'astrid.berg@example.se'"], ['course', 'course_id', "title = 'Percussion ensemble'"],
      ['instrument_loan', 'loan_id', "lent_at = '2025-03-03 17:00:00.000001+00'"], ['student', 'student_id', "given_name = 'Sigrid'"]] as const) {
      const sql = `SELECT ${key} FROM ${table} WHERE ${where}`;
      assert.is(Number(await scalar(target, sql)), Number(await scalar(source, sql)) + SHIFT, `${table}: the target's own id`);
    }
    assert.is(await scalar(target, "SELECT full_name FROM student WHERE given_name = 'Sigrid'"), 'Sigrid Berg');
    assert.is(await scalar(target, 'SELECT amount_with_vat FROM invoice WHERE invoice_no = 1006'), '126.25');
    assert.is(await scalar(target, 'SELECT amount_with_vat FROM invoice WHERE invoice_no = 1002'), '780.00');
  });

  test('a second pull writes nothing: no row gets a new xmin, no BEFORE UPDATE trigger fires', async () => {
    await pull();
    const before = await rowsByNaturalKey(target, 'x');
    const report = await pull();
    assert.equal(Object.fromEntries(report.models.map((m) => [m.model, [m.created, m.updated, m.deleted]])),
      Object.fromEntries(models.map((model) => [model, [0, 0, 0]])));
    assert.equal(await rowsByNaturalKey(target, 'x'), before);
  });

  test('after the pull the app inserts into every table through MikroORM, keys left to the database, and nothing collides', async () => {
    await pull();
    const keys = await appInsertsEveryTable(target.orm, target.entities);
    assert.ok(Number(keys.Invoice) > 1005 + SHIFT + 1, `the new invoice ${keys.Invoice} comes after the pulled ones`);
    assert.is(Number(await scalar(target, 'SELECT count(*) FROM invoice')), 5 + SHIFT + 1 + 1);
  });

  test('a guardian whose mixed-case email the target\'s BEFORE INSERT trigger lower-cases is created once, as the source has it, and found again', async () => {
    await backend.executeScript(source.orm, `INSERT INTO guardian (full_name, email) VALUES ('Karin Lund', 'karin.lund@example.se');
      UPDATE guardian SET email = 'Karin.Lund@Example.SE' WHERE email = 'karin.lund@example.se';`);
    const first = await pull(['Guardian']);
    assert.equal(first.models[0]!.rows.created.map((row) => row.key).sort(), [['Karin.Lund@Example.SE'], ['astrid.berg@example.se'], ['olof.holm@example.se']]);
    assert.is(first.models[0]!.created, 3);
    assert.is(await scalar(target, "SELECT string_agg(email, ',') FROM guardian WHERE lower(email) = 'karin.lund@example.se'"), 'Karin.Lund@Example.SE',
      'one row, with the source\'s email');
    const count = await scalar(target, 'SELECT count(*) FROM guardian');
    const second = await pull(['Guardian']);
    assert.equal([second.models[0]!.created, second.models[0]!.updated], [0, 0]);
    assert.is(await scalar(target, 'SELECT count(*) FROM guardian'), count, 'no duplicate on the second pull');
  });

  test('a target BEFORE INSERT trigger that skips a row is refused as ENV_SYNC_INSERT_LOST, naming the row and the trigger, and nothing is written', async () => {
    await backend.executeScript(target.orm, `CREATE FUNCTION skip_cello() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.kind = 'cello' THEN RETURN NULL; END IF; RETURN NEW; END $$;
      CREATE TRIGGER instrument_skip_cello BEFORE INSERT ON instrument FOR EACH ROW EXECUTE FUNCTION skip_cello();`);
    await backend.executeScript(source.orm, `INSERT INTO instrument (serial_number, kind) VALUES ('SN-CELLO-77', 'cello')`);
    const before = await checksums(target.orm, target.otherSchema);
    const error = await rejection(pull(['Instrument', 'InstrumentLoan']));
    assert.ok(error instanceof EntitySyncError);
    assert.is(error.code, 'ENV_SYNC_INSERT_LOST');
    assert.equal(error.info.row, ['SN-CELLO-77']);
    assert.ok((error.info.triggers as string[]).includes('instrument_skip_cello'), String(error.info.triggers));
    assert.equal(await checksums(target.orm, target.otherSchema), before);
  });

  test('pulling Department and Employee together is refused as a cycle no insert order can break, and nothing is written', async () => {
    const before = await checksums(target.orm, target.otherSchema);
    const error = await rejection(pull(['Department', 'Employee']));
    assert.ok(error instanceof EntitySyncError);
    assert.is(error.code, 'GRAPH_CYCLE_UNBREAKABLE');
    assert.match(error.message, /Department/);
    assert.match(error.message, /Employee/);
    assert.equal(await checksums(target.orm, target.otherSchema), before);
  });

  test('an attendance row whose lesson_date changes at the source moves to the partition of its new date', async () => {
    await backend.executeScript(source.orm, `UPDATE attendance SET lesson_date = '2025-09-09' WHERE attendance_id = 2;
      UPDATE attendance SET lesson_date = '2024-12-18' WHERE attendance_id = 8;`);
    const partitionOf = (db: RealSchemaDatabase, recordedAt: string) =>
      scalar(db, `SELECT string_agg(relname, ',') FROM attendance t JOIN pg_class ON pg_class.oid = t.tableoid WHERE recorded_at = '${recordedAt}'`);
    assert.is(await partitionOf(target, '2024-09-09 16:00:00.5+00'), 'attendance_2024');
    assert.is(await partitionOf(target, '2023-12-18 17:00:00.25+00'), 'attendance_other');
    const report = await pull();
    const attendance = report.models.find((m) => m.model === 'Attendance')!;
    const moved = attendance.rows.updated.filter((row) => row.changes.some((change) => change.field === 'lesson_date'));
    assert.equal(moved.map((row) => row.key[3]).sort(), ['2023-12-18 17:00:00.25+00', '2024-09-09 16:00:00.5+00']);
    assert.is(await partitionOf(target, '2024-09-09 16:00:00.5+00'), 'attendance_2025');
    assert.is(await partitionOf(target, '2023-12-18 17:00:00.25+00'), 'attendance_2024');
    assert.equal((await rowsByNaturalKey(target)).Attendance, (await rowsByNaturalKey(source)).Attendance);
  });

  test.run();
}
