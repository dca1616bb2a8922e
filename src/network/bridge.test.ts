import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bridgeMac } from './bridge';

test("a bridge's MAC is made of its gateway address, locally administered", () => {
  assert.equal(bridgeMac('172.17.0.1/16'), '02:42:ac:11:00:01');
  assert.equal(bridgeMac('10.231.7.254/24'), '02:42:0a:e7:07:fe');
});
