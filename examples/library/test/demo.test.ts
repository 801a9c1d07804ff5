import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runDemo } from '../src/demo-run.js';

test('the demo runs on embedded PGlite and reports the graph, the keys and the lookups', async () => {
  const lines: string[] = [];
  await runDemo((line) => lines.push(line));
  const output = lines.join('\n');
  assert.match(output, 'relation graph: 9 entities, 20 edges');
  assert.match(output, 'inverse relations found though the entity declares no collection: ');
  assert.match(output, 'Author<-Book.author');
  assert.match(output, 'natural key of CopyText: language.country.code + language.code + key');
  assert.match(output, "Author is the CQRS master of 'author'");
  assert.match(output, 'findByNaturalKey(CopyText, CA / fr / greeting) -> "Bonjour, là!"');
  assert.match(output, 'naturalKeyOf(Language "English") -> {"country.code":"GB","code":"en"}');
});

test.run();
