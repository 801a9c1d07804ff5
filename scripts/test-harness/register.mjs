// Preloaded by scripts/run-tests.mjs: test files that import 'uvu' get the timed suite of ./timed-uvu.mjs.
import { register } from 'node:module';

register(new URL('./resolve-uvu.mjs', import.meta.url));

// After uvu's summary (it ends with its duration) the process should exit by itself. When
// something a test opened keeps it alive (a pool, a socket, a timer), say what is open and exit
// with uvu's own exit code, instead of hanging until the run's deadline.
const graceMs = Number(process.env.ENTITY_SYNC_TEST_EXIT_GRACE_MS ?? 15_000);
const write = process.stdout.write.bind(process.stdout);
let armed = false;
process.stdout.write = (chunk, ...rest) => {
  if (!armed && /Duration:\s/.test(String(chunk).replace(/\x1b\[[0-9;]*m/g, ''))) {
    armed = true;
    setTimeout(() => {
      const stdio = new Set([process.stdin, process.stdout, process.stderr]);
      const open = process._getActiveHandles().filter((handle) => !stdio.has(handle)).map((handle) => {
        const name = handle?.constructor?.name ?? typeof handle;
        return handle?.remotePort ? `${name} to ${handle.remoteAddress}:${handle.remotePort}` : name;
      });
      // timers and pending requests are not handles: name them by kind (unref'd timers, like this one, are not listed)
      const kinds = new Map();
      for (const kind of process.getActiveResourcesInfo()) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      for (const kind of ['TTYWrap', 'PipeWrap', 'TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap']) kinds.delete(kind);
      for (const [kind, count] of kinds) if (count > 0) open.push(count > 1 ? `${count} × ${kind}` : kind);
      process.stderr.write(`\nwarning: the test process was still held open ${graceMs / 1000} s after its last test by: ${open.join(', ') || 'nothing Node can name'}; ` +
        'a test left it open. Exiting.\n');
      process.exit(process.exitCode ?? 0);
    }, graceMs).unref();
  }
  return write(chunk, ...rest);
};
