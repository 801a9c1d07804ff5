import { readdirSync, readFileSync } from 'node:fs';

// Clock ticks per second of /proc's CPU times: 100 on every Linux this runs on.
const TICKS = 100;

interface ProcessTimes {
  ppid: number;
  command: string;
  ticks: number;
}

function processes(): Map<number, ProcessTimes> {
  const all = new Map<number, ProcessTimes>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // the command is in parentheses and may hold spaces: the fields after it are split safely
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      all.set(Number(entry), { ppid: Number(fields[1]), command: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended while we looked
    }
  }
  return all;
}

function machineBusyTicks(): number {
  const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
  const [, user, nice, system, , , irq, softirq, steal] = cpu!.trim().split(/\s+/).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** CPU seconds used so far by each process of a group (pid -> group, seconds), and by the whole machine. */
export interface CpuSnapshot {
  processes: Map<number, { group: string; seconds: number }>;
  machine: number;
}

/** Which group a process belongs to: the bench's own, its replica processes, PostgreSQL, RabbitMQ; undefined for any other process. */
export type Classifier = (pid: number, command: string, ancestors: number[]) => string | undefined;

/**
 * CPU seconds used so far by the processes of each group, and by the whole machine, from /proc.
 * The difference of two snapshots says where the CPU went in between, including how much the
 * machine's other tenants took.
 */
export function cpuSnapshot(classify: Classifier): CpuSnapshot {
  const all = processes();
  const grouped = new Map<number, { group: string; seconds: number }>();
  for (const [pid, info] of all) {
    const ancestors: number[] = [];
    for (let parent = info.ppid; parent > 1 && ancestors.length < 32; parent = all.get(parent)?.ppid ?? 0) ancestors.push(parent);
    const group = classify(pid, info.command, ancestors);
    if (group) grouped.set(pid, { group, seconds: info.ticks / TICKS });
  }
  return { processes: grouped, machine: machineBusyTicks() / TICKS };
}

/**
 * `bench 0.62, replica 0.95, ..., other tenants 0.31 cores`: the average cores each group used
 * between two snapshots. Counted per process, so that one that ended in between takes its
 * ticks with it (they land in "other tenants") instead of making its group's figure negative.
 */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot, seconds: number): string {
  const groups = new Map<string, number>();
  for (const [pid, { group, seconds: used }] of after.processes) {
    groups.set(group, (groups.get(group) ?? 0) + used - (before.processes.get(pid)?.seconds ?? 0));
  }
  const ours = [...groups.values()].reduce((a, b) => a + b, 0);
  const parts = [...groups].map(([group, used]) => `${group} ${(used / seconds).toFixed(2)}`);
  parts.push(`other tenants ${(Math.max(0, after.machine - before.machine - ours) / seconds).toFixed(2)}`);
  return `${parts.join(', ')} cores`;
}
