import { test } from 'uvu';
import * as assert from 'uvu/assert';
const x: number = 2;
test('smoke', () => { assert.is(x + 1, 3); });
test.run();
