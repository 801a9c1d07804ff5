// Module resolution hook: the bare specifier 'uvu' means the timed suite, except inside the timed suite
// itself and inside uvu's own runner, which must share uvu's one queue.
const timed = new URL('./timed-uvu.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL ?? '';
  if (specifier === 'uvu' && parent !== timed && !parent.includes('/node_modules/')) {
    return { url: timed, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
