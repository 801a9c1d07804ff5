import { readFileSync } from 'node:fs';

// Linux carries the forking parent's resident size into a child's getrusage maxRSS across exec
// (a child of a 400 MB process reports 400 MB doing nothing). VmHWM is the high-water mark of
// this process's own address space, so it is read where it exists.
/** This process's peak resident memory in MB. */
export function peakRssMb(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) / 1024;
  } catch {
    // not Linux: getrusage is the best there is
  }
  return process.resourceUsage().maxRSS / 1024;
}
