import { parseRootSpec } from '../src/root-spec.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('parseRootSpec');

test('every primary key form the CLI accepts', () => {
  assert.equal(parseRootSpec('Author:1'), { entity: 'Author', key: ['1'] });
  assert.equal(parseRootSpec('Token:6f1c2a52-8d1e-4b7a-9a59-1d3b7e0c4f10'), { entity: 'Token', key: ['6f1c2a52-8d1e-4b7a-9a59-1d3b7e0c4f10'] });
  assert.equal(parseRootSpec('Label:shelf.a:1'), { entity: 'Label', key: ['shelf.a:1'] });
  assert.equal(parseRootSpec('Label:"a:b"'), { entity: 'Label', key: ['a:b'] });
  assert.equal(parseRootSpec('Slot:["north",3]'), { entity: 'Slot', key: ['north', '3'] });
});

test('malformed roots fail with INVALID_ROOT and say how to write one', () => {
  for (const [spec, why] of [['Author', 'no entity name'], [':1', 'no entity name'], ['Author:', 'is empty'], ['Slot:["a"', 'not valid JSON'], ['Slot:[]', 'non-empty list']]) {
    assert.throws(() => parseRootSpec(spec!), (error: { code: string; message: string }) =>
      error.code === 'INVALID_ROOT' && error.message.includes(why!) && error.message.includes('Write roots as Entity:pk'));
  }
});

test.run();
