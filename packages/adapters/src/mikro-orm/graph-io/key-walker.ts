import { GraphError, OptionError, type CellValue } from '@entity-sync/core';
import { arrayLiteral, ident, type SqlSession } from '../../internal/pg/sql-session.js';
import { columnList, joinOn, type ForeignKeyEdge, type TableGraph, type TableNode } from '../../internal/pg/table-graph.js';

/** Which rows a walk collects and how far. */
export interface WalkRules {
  /** Relations to follow beyond the defaults, by name in either direction (`'Publisher.books'`). */
  follow?: string[];
  /** Relations never to follow (`'Track<-InvoiceLine.track'`, or a many-to-many name). */
  excludeRelations?: string[];
  /** How many levels of owned rows below a root to collect (default: all). */
  maxDepth?: number;
  /** Stop with `GRAPH_TOO_LARGE` once the graph passes this many rows. */
  maxRows?: number;
}

/** Progress of a long operation. */
export interface GraphProgress {
  phase: 'walk' | 'write' | 'load' | 'check' | 'apply' | 'delete';
  entity?: string;
  rows: number;
}

/** The keys of one table's collected rows, held in a temporary table of the transaction. */
export interface KeySet {
  table: TableNode;
  /** Name of the temporary table. */
  temp: string;
  rows: number;
  /** The set holds every row of its table: the temporary table is left empty. */
  full?: boolean;
}

/** The root rows of a walk, by table. */
export interface WalkRoot {
  table: TableNode;
  keys: CellValue[][];
}

/** A nullable foreign key whose values a delete sets to NULL instead of deleting the rows. */
export interface SetNullEdge {
  fk: ForeignKeyEdge;
  rows: number;
}

let tempCounter = 0;

type StepKind = 'root' | 'needs' | 'owns';

/** One statement of a walk's round: the rows one relation adds to one key set. */
interface WalkStep {
  target: KeySet;
  relation: string;
  kind: 'needs' | 'owns';
  sql: string;
}

/** The statements of one round, and the key sets they write to. */
interface RoundPlan {
  number: number;
  steps: WalkStep[];
  targets: Set<KeySet>;
  /** Sets that steps of the round may give needed rows. */
  needs: Set<KeySet>;
}

/**
 * Collects the keys of a graph with set-based statements: each statement moves one relation
 * one level for every row at once, inside the database, so the number of statements grows
 * with relations and depth, never with rows.
 *
 * Export mode: roots and the rows they own (referencing rows, recursively), and everything
 * any collected row needs (referenced rows, recursively). Needed rows are not expanded to
 * their other dependents. Delete mode: roots and every row that references them, recursively;
 * excluded nullable keys are listed to be set to NULL instead.
 */
export class KeyWalker {
  readonly keySets = new Map<string, KeySet>();
  readonly setNull: SetNullEdge[] = [];
  private readonly followDependents = new Set<ForeignKeyEdge>();
  private readonly excludeNeeds = new Set<ForeignKeyEdge>();
  private readonly excludeDependents = new Set<ForeignKeyEdge>();
  private readonly changedBy = new Map<string, number>();
  private readonly relations: string[] = [];
  private readonly holdsNeeded = new Set<KeySet>();
  private readonly nonEmpty = new Set<KeySet>();
  private readonly created = new Set<KeySet>();
  // key sets that cover their whole table -> the round since which they do
  private readonly wholeSince = new Map<KeySet, number>();
  // round -> tables that got owned rows in that round (only owned rows have dependents to walk)
  private readonly ownedIn = new Map<number, Set<string>>();
  // round -> table -> the relations through which the table got rows in that round
  private readonly reachedVia = new Map<number, Map<string, Set<string>>>();
  private changed = 0;
  private total = 0;

  constructor(
    private readonly session: SqlSession,
    private readonly tables: TableGraph,
    private readonly mode: 'export' | 'delete',
    private readonly rules: WalkRules = {},
    private readonly onProgress?: (progress: GraphProgress) => void,
  ) {
    const resolve = (names: string[] | undefined, needs: Set<ForeignKeyEdge>, dependents: Set<ForeignKeyEdge>) => {
      for (const name of names ?? []) {
        const fk = tables.foreignKey(name);
        (name === fk.name ? needs : dependents).add(fk);
      }
    };
    if (mode === 'delete') {
      // A delete walks dependents only: either name of a relation means the rows that hold its key.
      for (const name of rules.excludeRelations ?? []) {
        const fk = tables.foreignKey(name);
        if (!fk.nullable) {
          throw OptionError.invalid('deleteGraph', 'excludeRelations', name, 'a nullable relation',
            `${fk.name} is NOT NULL: its rows cannot stay with the key set to NULL, so they go with the rows they reference. Remove it from excludeRelations.`);
        }
        this.excludeDependents.add(fk);
      }
    } else {
      resolve(rules.excludeRelations, this.excludeNeeds, this.excludeDependents);
    }
    resolve(rules.follow, new Set(), this.followDependents);
  }

  /** Rows collected, as of the last `count()` (which `walk()` runs at its end). */
  get rows(): number {
    return this.total;
  }

  private keySet(table: TableNode): KeySet {
    let set = this.keySets.get(table.entity);
    if (!set) {
      this.tables.keyedTable(table.entity);
      set = { table, temp: `es_keys_${++tempCounter}`, rows: 0 };
      this.keySets.set(table.entity, set);
    }
    return set;
  }

  // The statement that creates a key set's temporary table, which is made when the first
  // statement writes to the set (a set that covers its whole table never needs one).
  private createTemp(set: KeySet): string {
    this.created.add(set);
    const { primaryKey } = set.table;
    const columns = primaryKey.map((column) => `${ident(column.name)} ${column.type}`).join(', ');
    return `CREATE TEMP TABLE ${set.temp} (${columns}, _mode char(1) NOT NULL, _depth smallint NOT NULL, ` +
      `_round smallint NOT NULL, _via smallint NOT NULL, PRIMARY KEY (${primaryKey.map((c) => ident(c.name)).join(', ')})) ON COMMIT DROP`;
  }

  // The keys of a set as a relation to join: its temporary table, or for a set that covers its
  // whole table the table itself, every row owned and new in the round it became whole.
  private keysOf(set: KeySet): string {
    if (!set.full) return set.temp;
    return `(SELECT ${columnList('w', set.table.primaryKey)}, 'o'::char(1) AS _mode, 0 AS _depth, ${this.wholeSince.get(set)} AS _round ` +
      `FROM ${set.table.qualified} w)`;
  }

  // Whole-table sets are an export's shortcut: they skip the rows' depths, which maxDepth needs.
  private get wholeTables(): boolean {
    return this.mode === 'export' && this.rules.maxDepth === undefined;
  }

  // Marks a set as covering its whole table from `round` on; with maxRows, its rows are counted now.
  private async markWhole(set: KeySet, relation: string, round: number): Promise<void> {
    set.full = true;
    this.wholeSince.set(set, round);
    this.noteReached(set, relation, round, 'owns');
    if (this.rules.maxRows === undefined) return;
    const [row] = await this.session.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${set.table.qualified}`);
    await this.noteChanged(set, relation, row?.n ?? 0);
  }

  /** The relation a `_via` number stands for. */
  relationName(via: number): string {
    return this.relations[via] ?? 'root';
  }

  private viaNumber(relation: string): number {
    let index = this.relations.indexOf(relation);
    if (index === -1) index = this.relations.push(relation) - 1;
    return index;
  }

  // An INSERT ... SELECT into a key set. The count it returns includes rows upgraded from needed
  // to owned (rare), so exact totals are taken by counting the key tables when it matters.
  //
  // Selects exclude rows already collected, so a plain INSERT is enough (ON CONFLICT costs a
  // speculative insertion per row); only owned rows that may upgrade needed ones, and roots,
  // which may repeat, go through ON CONFLICT.
  private insertInto(target: KeySet, select: (via: number) => string, relation: string, kind: StepKind, round?: RoundPlan): string {
    const pk = target.table.primaryKey.map((c) => ident(c.name)).join(', ');
    const mayHoldNeeded = this.holdsNeeded.has(target) || !!round?.needs.has(target);
    const onConflict = kind === 'root' ? `ON CONFLICT (${pk}) DO NOTHING`
      : kind === 'owns' && mayHoldNeeded
        ? `ON CONFLICT (${pk}) DO UPDATE SET _mode = 'o', _depth = EXCLUDED._depth, _round = EXCLUDED._round, _via = EXCLUDED._via WHERE ${target.temp}._mode = 'n'`
        : '';
    return `INSERT INTO ${target.temp} (${pk}, _mode, _depth, _round, _via) ${select(this.viaNumber(relation))} ${onConflict}`;
  }

  // Adds a step to a round's plan; its SQL already allows for the rows the steps before it may add.
  private plan(round: RoundPlan, target: KeySet, select: (via: number) => string, relation: string, kind: 'needs' | 'owns'): void {
    round.steps.push({ target, relation, kind, sql: this.insertInto(target, select, relation, kind, round) });
    round.targets.add(target);
    if (kind === 'needs') round.needs.add(target);
  }

  // Runs a round's steps: their new key tables and inserts in one round trip, then one ANALYZE of
  // the sets that grew (temporary tables are never auto-analyzed, and without statistics later
  // joins on a large key table plan badly). With maxRows, step by step, so that the walk stops at
  // the first step past it. Returns the entities whose sets grew.
  private async runRound(round: RoundPlan): Promise<Set<string>> {
    const grown = new Set<KeySet>();
    const batches = this.rules.maxRows === undefined ? [round.steps] : round.steps.map((step) => [step]);
    for (const steps of batches) {
      const creates = [...new Set(steps.map((step) => step.target))].filter((set) => !this.created.has(set)).map((set) => this.createTemp(set));
      const changed = (await this.session.runBatch([...creates, ...steps.map((step) => step.sql)])).slice(creates.length);
      for (const [i, step] of steps.entries()) {
        const rows = changed[i] ?? 0;
        if (rows > 0) grown.add(step.target);
        await this.noteInserted(step.target, rows, step.relation, round.number, step.kind);
      }
      if (batches.length > 1 && changed.some((rows) => rows > 0)) await this.analyze([steps[0]!.target]);
    }
    if (batches.length === 1 && grown.size > 0) await this.analyze([...grown]);
    return new Set([...grown].map((set) => set.table.entity));
  }

  private async analyze(sets: KeySet[]): Promise<void> {
    await this.session.run(`ANALYZE ${sets.map((set) => set.temp).join(', ')}`);
  }

  private async noteInserted(target: KeySet, changed: number, relation: string, round: number, kind: StepKind): Promise<void> {
    if (changed > 0 && kind === 'needs') this.holdsNeeded.add(target);
    if (changed > 0) {
      this.nonEmpty.add(target);
      this.noteReached(target, relation, round, kind);
    }
    await this.noteChanged(target, relation, changed);
  }

  private noteReached(target: KeySet, relation: string, round: number, kind: StepKind): void {
    const reached = this.reachedVia.get(round) ?? new Map<string, Set<string>>();
    reached.set(target.table.entity, (reached.get(target.table.entity) ?? new Set()).add(relation));
    this.reachedVia.set(round, reached);
    if (kind !== 'needs') this.ownedIn.set(round, (this.ownedIn.get(round) ?? new Set()).add(target.table.entity));
  }

  private async noteChanged(target: KeySet, relation: string, changed: number): Promise<void> {
    this.changed += changed;
    this.changedBy.set(relation, (this.changedBy.get(relation) ?? 0) + changed);
    if (this.rules.maxRows !== undefined && this.changed > this.rules.maxRows) {
      const total = await this.count();
      if (total > this.rules.maxRows) {
        const [name, count] = [...this.changedBy].sort((a, b) => b[1] - a[1])[0]!;
        throw GraphError.tooLarge(this.rules.maxRows, total, name, count);
      }
    }
    this.onProgress?.({ phase: 'walk', entity: target.table.entity, rows: this.changed });
  }

  /** Counts the rows of every key set (exact, once the walk is over), in one statement. */
  async count(): Promise<number> {
    const sets = [...this.keySets.values()].filter((set) => set.full || this.created.has(set));
    const [row] = sets.length === 0 ? [] : await this.session.query<Record<string, number>>(
      `SELECT ${sets.map((set, i) => `(SELECT count(*) FROM ${set.full ? set.table.qualified : set.temp})::int AS n${i}`).join(', ')}`);
    let total = 0;
    sets.forEach((set, i) => {
      set.rows = row?.[`n${i}`] ?? 0;
      total += set.rows;
    });
    this.total = total;
    return total;
  }

  /** Adds root rows; throws `ROOT_NOT_FOUND` naming the keys that match no row. */
  async addRoots(roots: WalkRoot[]): Promise<void> {
    for (const { table, keys } of roots) {
      const set = this.keySet(table);
      await this.session.run(this.createTemp(set));
      const unnest = table.primaryKey.map(() => '?::text[]').join(', ');
      const aliases = table.primaryKey.map((_, i) => `r.k${i}`);
      const on = table.primaryKey.map((column, i) => `t.${ident(column.name)} = ${aliases[i]}::${column.type}`).join(' AND ');
      const params = table.primaryKey.map((_, i) => arrayLiteral(keys.map((key) => key[i] ?? null)));
      const distinct = new Set(keys.map((key) => JSON.stringify(key))).size;
      const insert = this.insertInto(set, (via) =>
        `SELECT ${columnList('t', table.primaryKey)}, 'o', 0, 0, ${via} FROM ${table.qualified} t ` +
        `JOIN unnest(${unnest}) AS r(${aliases.map((_, i) => `k${i}`).join(', ')}) ON ${on}`, 'root', 'root');
      // the same statement tells whether the roots are the whole table, reading no more rows than there are roots
      const [result] = await this.session.query<{ added: number; present: number }>(
        `WITH added AS (${insert} RETURNING 1) SELECT (SELECT count(*) FROM added)::int AS added, ` +
        `(SELECT count(*) FROM (SELECT 1 FROM ${table.qualified} LIMIT ${distinct + 1}) t)::int AS present`, params);
      const { added, present } = result!;
      await this.noteInserted(set, added, 'root', 0, 'root');
      if (added > 0) await this.analyze([set]);
      if (this.wholeTables && added === present) {
        set.full = true;
        this.wholeSince.set(set, 0);
      }
      if (added < distinct) {
        const found = await this.session.query<Record<string, unknown>>(
          `SELECT ${table.primaryKey.map((c, i) => `${ident(c.name)}::text AS k${i}`).join(', ')} FROM ${set.temp} WHERE _round = 0`);
        const have = new Set(found.map((row) => JSON.stringify(table.primaryKey.map((_, i) => row[`k${i}`]))));
        const missing = keys.filter((key) => !have.has(JSON.stringify(key)));
        if (missing.length) throw GraphError.rootNotFound(table.entity, missing.map((key) => (key.length === 1 ? key[0] : key)));
      }
    }
  }

  /** Walks level by level until no statement adds a row; each level's statements go in one round trip. */
  async walk(): Promise<void> {
    let frontier = new Set(this.keySets.keys());
    for (let number = 1; frontier.size > 0; number++) {
      const round: RoundPlan = { number, steps: [], targets: new Set(), needs: new Set() };
      const wholeNow = new Set<string>();
      const sources = [...frontier].sort().map((entity) => this.keySets.get(entity)!);
      // A whole table owns every row of a table whose enforced key points at it: that set is whole too, for no statement.
      for (const source of this.wholeTables ? sources : []) {
        for (const fk of this.dependentsToWalk(source, number)) {
          if (!source.full || !fk.enforced || this.keySets.get(fk.child.entity)?.full) continue;
          await this.markWhole(this.keySet(fk.child), fk.inverseName, number);
          wholeNow.add(fk.child.entity);
        }
      }
      for (const source of sources) {
        if (this.mode === 'export') {
          const reached = this.reachedVia.get(number - 1)?.get(source.table.entity);
          for (const fk of this.tables.needs(source.table)) {
            // a key @SyncModel keeps back leaves no trace in the document, not even the row it points at
            if (this.excludeNeeds.has(fk) || fk.columns.some((column) => source.table.excluded.has(column.name))) continue;
            // rows that came in through this key's inverse were found by joining their parent: it is collected already
            if (reached?.size === 1 && reached.has(fk.inverseName)) continue;
            if (this.keySets.get(fk.parent.entity)?.full) continue;
            this.planNeed(round, source, fk);
          }
        }
        for (const fk of this.dependentsToWalk(source, number)) {
          if (this.keySets.get(fk.child.entity)?.full) continue;
          this.planDependent(round, source, fk);
        }
      }
      frontier = new Set([...wholeNow, ...await this.runRound(round)]);
    }
    await this.count();
  }

  // The keys pointing at a source's rows that this round follows. Only owned rows have dependents in an
  // export (`follow` aside): a set that got no owned rows last round has no new ones to walk from.
  private dependentsToWalk(source: KeySet, round: number): ForeignKeyEdge[] {
    const ownedLastRound = this.ownedIn.get(round - 1)?.has(source.table.entity) ?? false;
    return this.tables.dependents(source.table).filter((fk) => {
      if (this.mode === 'delete') {
        if (this.excludeDependents.has(fk) && fk.nullable) {
          this.recordSetNull(fk);
          return false;
        }
        return true;
      }
      if (this.excludeDependents.has(fk) || fk.columns.some((column) => fk.child.excluded.has(column.name))) return false;
      return ownedLastRound || this.followDependents.has(fk);
    });
  }

  private planNeed(plan: RoundPlan, source: KeySet, fk: ForeignKeyEdge): void {
    const round = plan.number;
    const target = this.keySet(fk.parent);
    // the rows of a whole source are its table's rows: no join
    const keys = source.full ? '' : ` JOIN ${source.temp} k ON ${joinOn('c', fk.child.primaryKey, 'k', fk.child.primaryKey)}`;
    const conditions = source.full ? [] : [`k._round = ${round - 1}`];
    // the anti-join keeps rows already collected away from ON CONFLICT, which is far costlier per row
    const select = fk.referencesPrimaryKey
      ? (via: number) => `SELECT DISTINCT ${columnList('c', fk.columns)}, 'n', 0, ${round}, ${via} FROM ${fk.child.qualified} c${keys} WHERE ` +
        [...conditions, ...fk.columns.map((c) => `c.${ident(c.name)} IS NOT NULL`),
          `NOT EXISTS (SELECT 1 FROM ${target.temp} x WHERE ${joinOn('x', fk.parent.primaryKey, 'c', fk.columns)})`].join(' AND ')
      : (via: number) => `SELECT DISTINCT ${columnList('p', fk.parent.primaryKey)}, 'n', 0, ${round}, ${via} FROM ${fk.child.qualified} c${keys} ` +
        `JOIN ${fk.parent.qualified} p ON ${joinOn('p', fk.referenced, 'c', fk.columns)} WHERE ` +
        [...conditions, `NOT EXISTS (SELECT 1 FROM ${target.temp} x WHERE ${joinOn('x', fk.parent.primaryKey, 'p', fk.parent.primaryKey)})`].join(' AND ');
    this.plan(plan, target, select, fk.name, 'needs');
  }

  private planDependent(plan: RoundPlan, source: KeySet, fk: ForeignKeyEdge): void {
    const round = plan.number;
    const target = this.keySet(fk.child);
    const conditions = [`k._round = ${round - 1}`];
    if (this.nonEmpty.has(target) || plan.targets.has(target)) {
      conditions.push(`NOT EXISTS (SELECT 1 FROM ${target.temp} x WHERE ${joinOn('x', fk.child.primaryKey, 'c', fk.child.primaryKey)} AND x._mode = 'o')`);
    }
    if (this.mode === 'export' && !this.followDependents.has(fk)) {
      conditions.push(`k._mode = 'o'`);
      if (this.rules.maxDepth !== undefined) conditions.push(`k._depth < ${this.rules.maxDepth}`);
    }
    const from = fk.referencesPrimaryKey
      ? `FROM ${fk.child.qualified} c JOIN ${this.keysOf(source)} k ON ${joinOn('c', fk.columns, 'k', fk.parent.primaryKey)}`
      : `FROM ${fk.child.qualified} c JOIN ${fk.parent.qualified} p ON ${joinOn('c', fk.columns, 'p', fk.referenced)} ` +
        `JOIN ${this.keysOf(source)} k ON ${joinOn('p', fk.parent.primaryKey, 'k', fk.parent.primaryKey)}`;
    // each child row joins exactly one parent key row, so the rows come out distinct already
    // in key order, the key table's index grows at its end instead of splitting pages everywhere
    const select = (via: number) => `SELECT ${columnList('c', fk.child.primaryKey)}, 'o', k._depth + 1, ${round}, ${via} ` +
      `${from} WHERE ${conditions.join(' AND ')} ORDER BY ${columnList('c', fk.child.primaryKey)}`;
    this.plan(plan, target, select, fk.inverseName, 'owns');
  }

  private recordSetNull(fk: ForeignKeyEdge): void {
    if (this.setNull.some((entry) => entry.fk === fk)) return;
    this.setNull.push({ fk, rows: 0 });
  }

  /** Counts the rows each set-null key will change, once the walk is complete. */
  async countSetNull(): Promise<void> {
    for (const entry of this.setNull) {
      const parent = this.keySets.get(entry.fk.parent.entity);
      if (!parent) continue;
      const [row] = await this.session.query<{ n: string | number }>(
        `SELECT count(*) AS n FROM ${entry.fk.child.qualified} c JOIN ${parent.temp} k ON ${joinOn('c', entry.fk.columns, 'k', entry.fk.parent.primaryKey)}` +
        (this.keySets.has(entry.fk.child.entity)
          ? ` WHERE NOT EXISTS (SELECT 1 FROM ${this.keySets.get(entry.fk.child.entity)!.temp} d WHERE ${joinOn('d', entry.fk.child.primaryKey, 'c', entry.fk.child.primaryKey)})`
          : ''));
      entry.rows = Number(row?.n ?? 0);
    }
  }
}
