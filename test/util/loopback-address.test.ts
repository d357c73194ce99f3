/**
 * isLoopbackAddress decides who may use a broker without users (`weir serve` on loopback
 * only), which Host headers the console accepts on a loopback listener, and where AMQP's
 * `guest` may log in from: a name that merely starts like a loopback address is not one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackAddress } from '../../src/util/index.js';

test('loopback: 127.0.0.0/8, ::1 in any spelling, IPv4-mapped 127.x, localhost', () => {
  for (const address of [
    '127.0.0.1',
    '127.5.6.7',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    'localhost',
    'LOCALHOST',
  ]) {
    assert.equal(isLoopbackAddress(address), true, address);
  }
});

test('not loopback: wildcards, routable addresses, other names, lookalikes', () => {
  for (const address of [
    '0.0.0.0',
    '::',
    '10.0.0.1',
    '::ffff:10.0.0.1',
    '127.evil.example',
    'localhost.evil.example',
    'example',
    '',
  ]) {
    assert.equal(isLoopbackAddress(address), false, address);
  }
});
