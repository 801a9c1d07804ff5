import { DiffError } from '../errors/diff-error.js';
import { OptionError } from '../errors/option-error.js';
import { diff, type DiffAction, type DiffOptions, type DiffProblem, type DiffResult, type DiffStrategy, type FieldDiff } from './diff.js';
import type { DiffSource } from './diff-source.js';

/** What a handler says of each action of its batch; nothing (void) means every one was done. */
export type HandlerOutcome = 'done' | 'skipped' | { failed: unknown };

/** Applies a batch of actions of one kind (and, for updates, of one field). */
export type ActionHandler<L, R> = (actions: DiffAction<L, R>[]) => Promise<void | HandlerOutcome[]> | void | HandlerOutcome[];

/** The handlers of one model: `create`, `delete`, and `update` as one handler or per field (with `default` for the fields not named). */
export interface ModelHandlers<L = Record<string, unknown>, R = Record<string, unknown>> {
  create?: ActionHandler<L, R>;
  delete?: ActionHandler<L, R>;
  update?: ActionHandler<L, R> | ({ default?: ActionHandler<L, R> } & Record<string, ActionHandler<L, R>>);
}

/** One model to reconcile: what should be (left), what is (right), and how they are compared. */
export interface ReconcileModel<L = Record<string, unknown>, R = Record<string, unknown>> extends DiffOptions<L, R> {
  model: string;
  left: DiffSource<L>;
  right: DiffSource<R>;
}

/** Options of `reconcile`. */
export interface ReconcileOptions {
  /** Per model, its handlers. */
  handlers: Record<string, ModelHandlers<any, any>>;
  /** Compute and report only: no handler is called. */
  dryRun?: boolean;
  /** Go on though some actions have no handler (they are reported as unhandled); default: the run fails before any handler runs. */
  allowUnhandled?: boolean;
  /** Go on though some records could not be matched (duplicate or null keys); default: the run fails before any handler runs. */
  allowProblems?: boolean;
  /** Actions per handler call (default 100). */
  batchSize?: number;
  signal?: AbortSignal;
}

/** How one action ended. */
export type ActionResult = 'done' | 'skipped' | 'unhandled' | 'planned' | { failed: string };

/** One model's part of a reconcile. */
export interface ModelReconcileReport {
  model: string;
  strategy: DiffStrategy;
  counts: { create: number; update: number; delete: number; unchanged: number; problems: number };
  /** Every action, with how it ended (`planned` in a dry run). For an update handled per field, one entry per field. */
  actions: { action: DiffAction['action']; key: unknown[]; field?: string; changes?: FieldDiff[]; result: ActionResult }[];
  problems: DiffProblem[];
}

/** What a reconcile did, model by model, in the order it ran them. */
export interface ReconcileReport {
  dryRun: boolean;
  models: ModelReconcileReport[];
  /** Actions no handler took: each with its model, action and field. */
  unhandled: { model: string; action: DiffAction['action']; field?: string; count: number }[];
  /** Actions whose handler failed. */
  failed: number;
}

type Planned = { action: DiffAction; field?: string; handler?: ActionHandler<any, any>; slot: ModelReconcileReport['actions'][number] };

/** For an action, the handler that takes it, per field for an update handled per field. */
function plan(model: string, action: DiffAction, handlers: ModelHandlers | undefined, report: ModelReconcileReport): Planned[] {
  const entry = (field?: string, changes?: FieldDiff[]) => {
    const slot = { action: action.action, key: action.key, ...(field ? { field } : {}), ...(changes ? { changes } : {}), result: 'unhandled' as ActionResult };
    report.actions.push(slot);
    return slot;
  };
  if (action.action !== 'update') return [{ action, handler: handlers?.[action.action], slot: entry() }];
  const update = handlers?.update;
  if (update === undefined || typeof update === 'function') return [{ action, handler: update, slot: entry(undefined, action.changes) }];
  if (typeof update !== 'object') throw OptionError.invalid('reconcile', `handlers.${model}.update`, update, 'a function, or an object of functions per field with default');
  // the fields of their own first, then the rest under default, as one action
  const own = action.changes.filter((change) => typeof update[change.field] === 'function' && change.field !== 'default');
  const rest = action.changes.filter((change) => !own.includes(change));
  return [
    ...own.map((change) => ({ action: { ...action, changes: [change] }, field: change.field, handler: update[change.field], slot: entry(change.field, [change]) })),
    ...(rest.length ? [{ action: { ...action, changes: rest }, field: rest.length === 1 ? rest[0]!.field : undefined, handler: update.default, slot: entry(rest.length === 1 ? rest[0]!.field : undefined, rest) }] : []),
  ];
}

/**
 * Compares each model's sources (`diff`) and hands the differences to the app's handlers:
 * models in the order given for creates and updates (parents first; within a model, creates
 * before updates), and in the reverse order for deletes (children first), in batches. Nothing runs when an action has no handler or a record
 * cannot be matched, unless allowed: the report lists them. Each action's result is done, skipped,
 * failed with its error, or unhandled; a dry run only reports.
 *
 * @example
 * ```ts
 * const report = await reconcile([{ model: 'students', left: roster, right: students, key: 'studentNo' }], {
 *   handlers: { students: { create: addStudents, delete: removeStudents, update: { homeroom: moveHomeroom, default: updateStudents } } },
 * });
 * console.log(describeReconcile(report));
 * ```
 */
export async function reconcile(models: ReconcileModel<any, any>[], options: ReconcileOptions): Promise<ReconcileReport> {
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw OptionError.invalid('reconcile', 'batchSize', options.batchSize, 'a whole number of 1 or more');
  if (!options?.handlers || typeof options.handlers !== 'object') throw OptionError.invalid('reconcile', 'handlers', options?.handlers, 'an object of handlers per model');
  const report: ReconcileReport = { dryRun: !!options.dryRun, models: [], unhandled: [], failed: 0 };
  const planned = new Map<string, Planned[]>();
  // every difference is known before anything is done
  for (const { model, left, right, ...diffOptions } of models) {
    const found = await diff(left, right, { ...diffOptions, signal: options.signal });
    const part: ModelReconcileReport = { model, strategy: found.strategy, counts: found.counts, actions: [], problems: found.problems };
    report.models.push(part);
    // creates, then updates, then deletes, each in the diff's order
    const actions = ['create', 'update', 'delete'].flatMap((kind) => found.actions.filter((action) => action.action === kind));
    planned.set(model, actions.flatMap((action) => plan(model, action, options.handlers[model], part)));
  }
  const unhandled = new Map<string, ReconcileReport['unhandled'][number]>();
  for (const [model, items] of planned) {
    for (const item of items.filter((candidate) => !candidate.handler)) {
      const name = `${model}\u0000${item.action.action}\u0000${item.field ?? ''}`;
      const counted = unhandled.get(name) ?? { model, action: item.action.action, ...(item.field ? { field: item.field } : {}), count: 0 };
      counted.count++;
      unhandled.set(name, counted);
    }
  }
  report.unhandled = [...unhandled.values()];
  const problems = report.models.reduce((sum, part) => sum + part.problems.length, 0);
  if (!options.dryRun && report.unhandled.length && !options.allowUnhandled) throw DiffError.unhandled(report);
  if (!options.dryRun && problems && !options.allowProblems) throw DiffError.unmatched(report, problems);
  for (const items of planned.values()) for (const item of items) if (item.handler) item.slot.result = 'planned';
  if (options.dryRun) return report;
  const run = async (items: Planned[]) => {
    // one call per handler and batch: the items of a handler in the order they came
    const byHandler = new Map<ActionHandler<any, any>, Planned[]>();
    for (const item of items) if (item.handler) byHandler.set(item.handler, [...(byHandler.get(item.handler) ?? []), item]);
    for (const [handler, queue] of byHandler) {
      for (let at = 0; at < queue.length; at += batchSize) {
        options.signal?.throwIfAborted();
        const batch = queue.slice(at, at + batchSize);
        let outcomes: void | HandlerOutcome[];
        try {
          outcomes = await handler(batch.map((item) => item.action));
        } catch (error) {
          outcomes = batch.map(() => ({ failed: error }));
        }
        batch.forEach((item, i) => {
          const outcome = outcomes ? outcomes[i] ?? 'done' : 'done';
          item.slot.result = typeof outcome === 'object' ? { failed: (outcome.failed as Error)?.message ?? String(outcome.failed) } : outcome;
          if (typeof outcome === 'object') report.failed++;
        });
      }
    }
  };
  const order = [...planned.keys()];
  for (const model of order) await run(planned.get(model)!.filter((item) => item.action.action !== 'delete'));
  for (const model of [...order].reverse()) await run(planned.get(model)!.filter((item) => item.action.action === 'delete'));
  return report;
}

const shown = (value: unknown) => (value === undefined ? '(none)' : JSON.stringify(value));
const keyShown = (key: unknown[]) => (key.length === 1 ? String(key[0]) : JSON.stringify(key));

/** A readable account of a reconcile: per model and action the rows, their field changes and results, then what was not handled. */
export function describeReconcile(report: ReconcileReport): string {
  const lines: string[] = [report.dryRun ? 'dry run: nothing was done' : 'reconciled'];
  for (const part of report.models) {
    const { create, update, delete: remove, unchanged, problems } = part.counts;
    lines.push(`${part.model}: ${create} to create, ${update} to update, ${remove} to delete, ${unchanged} the same${problems ? `, ${problems} not matched` : ''} (${part.strategy})`);
    for (const kind of ['create', 'update', 'delete'] as const) {
      const items = part.actions.filter((item) => item.action === kind);
      if (!items.length) continue;
      lines.push(`  ${kind}`);
      for (const item of items) {
        const result = typeof item.result === 'object' ? `failed: ${item.result.failed}` : item.result;
        lines.push(`    ${kind === 'create' ? '+' : kind === 'delete' ? '-' : '~'} ${keyShown(item.key)}${item.field ? ` [${item.field}]` : ''}  ${result}`);
        for (const change of item.changes ?? []) {
          lines.push(change.added || change.removed
            ? `        ${change.field}: ${[...(change.added ?? []).map((element) => `+${JSON.stringify(element)}`), ...(change.removed ?? []).map((element) => `-${JSON.stringify(element)}`)].join(' ')}`
            : `        ${change.field}: ${shown(change.old)} -> ${shown(change.new)}`);
        }
      }
    }
    for (const problem of part.problems) lines.push(`  ! ${problem.problem} on the ${problem.side} side: ${keyShown(problem.key)} (${problem.records.length} record${problem.records.length === 1 ? '' : 's'})`);
  }
  for (const item of report.unhandled) lines.push(`unhandled: ${item.count} ${item.model} ${item.action}${item.field ? ` of ${item.field}` : ''} (no handler)`);
  if (report.failed) lines.push(`${report.failed} action${report.failed === 1 ? '' : 's'} failed`);
  return lines.join('\n');
}

/** A readable account of a diff: the creates, updates with their field changes, deletes, and the records it could not match. */
export function describeDiff(result: DiffResult, names: { left: string; right: string } = { left: 'left', right: 'right' }): string {
  const { create, update, delete: remove, unchanged, problems } = result.counts;
  const lines = [`${names.left} > ${names.right}: ${create} to create, ${update} to update, ${remove} to delete, ${unchanged} the same${problems ? `, ${problems} not matched` : ''} (${result.strategy})`];
  for (const action of result.actions) {
    lines.push(`  ${action.action === 'create' ? '+' : action.action === 'delete' ? '-' : '~'} ${keyShown(action.key)}`);
    if (action.action !== 'update') continue;
    for (const change of action.changes) {
      lines.push(change.added || change.removed
        ? `      ${change.field}: ${[...(change.added ?? []).map((element) => `+${JSON.stringify(element)}`), ...(change.removed ?? []).map((element) => `-${JSON.stringify(element)}`)].join(' ')}`
        : `      ${change.field}: ${shown(change.old)} -> ${shown(change.new)}`);
    }
  }
  for (const problem of result.problems) lines.push(`  ! ${problem.problem} on the ${problem.side === 'left' ? names.left : names.right} side: ${keyShown(problem.key)} (${problem.records.length} record${problem.records.length === 1 ? '' : 's'})`);
  return lines.join('\n');
}
