import type { Transport } from '@entity-sync/core';
import { suite } from 'uvu';
import { contractCases } from './transport-contract-cases.js';
import type { TransportFixture } from './transport-fixture.js';

/**
 * Registers and runs the transport contract suite (uvu) against `fixture`: the behaviour every
 * transport owes entity-sync's relay and replica consumers. Call it from a test file of your own:
 *
 * @example
 * ```ts
 * import { transportContract } from '@entity-sync/testing';
 * import { MyTransport } from '../src/my-transport.js';
 *
 * transportContract({
 *   name: 'my broker',
 *   open: async ({ maxAttempts, retryDelayMs }) => new MyTransport({ url: process.env.BROKER_URL!, maxAttempts, retryDelayMs }),
 *   outage: { stop: () => myBroker.stop(), start: () => myBroker.start() },
 * });
 * ```
 */
export function transportContract<T extends Transport>(fixture: TransportFixture<T>): void {
  const test = suite(`transport contract [${fixture.name}]`);
  const left: string[] = [];
  const partly: string[] = [];
  for (const testCase of contractCases(fixture)) {
    if (testCase.needs) left.push(`${testCase.name}: needs ${testCase.needs}`);
    else test(testCase.name, testCase.run);
    if (!testCase.needs && testCase.partly) partly.push(`${testCase.name}: without ${testCase.partly}`);
  }
  const lines = [...left.map((line) => `not registered: ${line}`), ...partly.map((line) => `registered in part: ${line}`)];
  if (lines.length) console.log(`transport contract [${fixture.name}]: what the fixture does not provide is not tested:\n  - ${lines.join('\n  - ')}`);
  if (fixture.setUp) test.before(fixture.setUp);
  if (fixture.tearDown) test.after(fixture.tearDown);
  test.run();
}
