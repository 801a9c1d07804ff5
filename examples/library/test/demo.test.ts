import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runDemo } from '../src/demo-run.js';

test('the demo runs on embedded PGlite and reports the graph, the keys, export, import, delete, replication, an environment-sync pull and a push/pull client', async () => {
  const lines: string[] = [];
  await runDemo((line) => lines.push(line));
  const output = lines.join('\n');
  assert.match(output, 'relation graph: 9 entities, 20 edges');
  assert.match(output, 'Author<-Book.author');
  assert.match(output, 'natural key of CopyText: language.country.code + language.code + key');
  assert.match(output, "Author is the CQRS master of 'author'");
  assert.match(output, 'findByNaturalKey(CopyText, CA / fr / greeting) -> "Bonjour, là!"');
  assert.match(output, 'naturalKeyOf(Language "English") -> {"country.code":"GB","code":"en"}');
  assert.match(output, /exportGraph\(Author "Victor Hugo"\) -> 13 rows/);
  assert.match(output, 'Country 1 reused, Language 1 reused');
  assert.match(output, /language fr-FR \(reused\) and tags classic, novel/);
  assert.match(output, 'deleteGraph plan: Author 1, AuthorProfile 1, Book 2, book_tags 3');
  assert.not.match(output, 'also belong to');
  assert.match(output, 'deleted with an archive (1 book left), restored from it: 3 books again');
  assert.match(output, /CQRS: \d+ outbox entries relayed \(delivered twice and in reverse order on purpose\); the replica holds /);
  assert.match(output, /pullFrom\(http:\/\/127\.0\.0\.1:\d+\/sync\) into a second embedded database, by natural key: Country 3 new, Language 3 new, CopyText 3 new, Tag 4 new/);
  assert.match(output, /pulled again: 0 rows written, \d+ unchanged/);
  assert.match(output, /push\/pull: ada signed in \(role editor\) and pulled 4 tags in 2 pages: classic, novel, poetry, science/);
  assert.match(output, 'pushed: 900 created, 2 updated, 1 refused (your roles have no delete permission on Tag)');
  assert.match(output, "told live of the app's rename, pulled again: classics, drama, novels, poetry, science");
  assert.match(output, 'the replica holds Victor Hugo <victor.hugo@example.org>, Jane Austen (1775-1817) <austen@example.org>, Mary Shelley <shelley@example.org>');
});

test.run();
